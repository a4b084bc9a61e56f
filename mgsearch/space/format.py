"""The search-space file format: parsing and strict validation (no sampling here).

A space file is TOML (see ``docs/concepts.md``, "Search-space files")::

    family = "mgic"
    width_multiplier = { min = 0.5, max = 1.5 }      # optional global knob

    [stem]
    width = { min = 8, max = 32, step = 8 }

    [[stages]]
    stride = 1
    depth = { min = 1, max = 4 }
    width = { min = 16, max = 64, step = 8 }
    inner = { min = 8, max = 64, step = 8, per_layer = true }
    group_size = [8, 16, "dense"]      # "dense": no MGIC grouping ("none" is read too)
    share = [1, 2]
    block = ["conv", "vcycle"]          # optional: the family's block forms (default "conv")
    coarse_width = ["group_size", 32]   # optional, vcycle stages: the coarsest level (default: group size)

Families with block options (``mobilenet``) also take, per stage, ``kernel = [3, 5]``, ``se = [false,
true]``, ``act = ["relu", "hswish"]`` (one choice for all blocks of the stage) and ``expansion = [3, 6]``
instead of ``inner`` (a block's inner width = expansion x its input width, rounded to the stage's multiple).

Every mistake raises :class:`~mgsearch.errors.ConfigError` with one line naming the file, the key
path (``stages[1].inner.max``), the value and what is allowed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, NoReturn, Sequence

from mgsearch.errors import ConfigError, clip_repr, field_error, unknown_key_error
from mgsearch.families.registry import family_names, get_family
from mgsearch.spec import DENSE, DENSE_ALIASES, MAX_WIDTH

__all__ = ["IntRange", "FloatKnob", "StageSpace", "ParsedSpace", "parse_space", "MAX_DEPTH", "MAX_MULTIPLIER"]

MAX_DEPTH = 256
MAX_MULTIPLIER = 16.0
_TOP_KEYS = (
    "family", "description", "in_channels", "num_classes", "input_size", "width_multiplier", "dropout",
    "stem", "stages",
)
_STAGE_KEYS = ("stride", "depth", "width", "inner", "group_size", "share", "block", "coarse_width", "kernel", "se",
               "act", "expansion")
#: the stage keys of block options (families with ``allows_block_options``) and their defaults
_OPTION_DEFAULTS = {"kernel": (3,), "se": (False,), "act": ("relu",)}
MAX_EXPANSION = 16.0
#: the ``coarse_width`` choice meaning "equal to the stage's group size" (the default)
COARSE_IS_GROUP = "group_size"
_RANGE_KEYS = ("min", "max", "step")


@dataclass(frozen=True)
class IntRange:
    """The integers ``min, min + step, ..., max`` (``max - min`` is a multiple of ``step``)."""

    min: int
    max: int
    step: int = 1

    @property
    def fixed(self) -> bool:
        """True when the range holds one value."""
        return self.min == self.max

    def domain(self, multiple: int | None) -> tuple[int, int, int] | None:
        """``(first, last, step)`` of the values that are multiples of ``multiple``; None if none is.

        The values of the range that are multiples of ``m`` form an arithmetic progression with step
        ``lcm(step, m)``; ``multiple=None`` (dense) means every value.
        """
        m = multiple or 1
        if m == 1:
            return self.min, self.max, self.step
        period = m // math.gcd(self.step, m)
        first = None
        for i in range(period):
            v = self.min + i * self.step
            if v > self.max:
                break
            if v % m == 0:
                first = v
                break
        if first is None:
            return None
        lcm = self.step * period
        last = first + (self.max - first) // lcm * lcm
        return first, last, lcm

    def to_data(self) -> dict[str, int]:
        return {"min": self.min, "max": self.max, "step": self.step}

    def describe(self) -> str:
        if self.fixed:
            return str(self.min)
        return f"{self.min}..{self.max}" + (f" step {self.step}" if self.step != 1 else "")


@dataclass(frozen=True)
class FloatKnob:
    """A float knob: fixed (``low == high``, no choices), a range ``[low, high]``, or fixed ``choices``."""

    low: float
    high: float
    choices: tuple[float, ...] | None = None

    @property
    def fixed(self) -> bool:
        return self.choices is None and self.low == self.high

    def to_data(self) -> Any:
        if self.choices is not None:
            return list(self.choices)
        if self.fixed:
            return self.low
        return {"min": self.low, "max": self.high}


@dataclass(frozen=True)
class StageSpace:
    """The knobs of one stage (one grid level in MgNet families)."""

    stride: int
    depth: IntRange
    width: IntRange
    inner: IntRange | None  # None for stage 0 of a family whose knobs.stem_is_first_inner (MgNet), or
    # for a stage whose block forms all tie inner to the width (block = "vcycle" / "anchored")
    per_layer: bool
    group_sizes: tuple[int | None, ...]
    shares: tuple[int | str, ...]  # ints >= 1 and/or "all"
    blocks: tuple[str, ...] = ("conv",)  # "conv" and/or block forms of the family (Stage.block)
    coarse_widths: tuple[int | str, ...] = (COARSE_IS_GROUP,)  # ints >= 2 and/or "group_size"
    family: str = field(default="", compare=False, repr=False)  # whose block forms ``blocks`` names
    kernels: tuple[int, ...] = (3,)  # block options (families with allows_block_options): one per stage
    ses: tuple[bool, ...] = (False,)
    acts: tuple[str, ...] = ("relu",)
    expansions: tuple[float, ...] | None = None  # instead of ``inner``: inner = expansion x input width

    def form(self, block: str) -> Any:
        """The :class:`~mgsearch.families.family.BlockForm` named ``block`` (None for ``"conv"``)."""
        return None if block == "conv" else get_family(self.family).block_forms[block]

    def coarse_choices(self, group_size: int) -> tuple[int, ...]:
        """The coarse widths a stage of this group size may take when its form uses one, ascending."""
        return tuple(sorted({group_size if c == COARSE_IS_GROUP else int(c) for c in self.coarse_widths}))

    def form_coarse_choices(self, block: str, group_size: int | None) -> tuple[int | None, ...]:
        """The coarse widths of a ``block`` stage with this group size: ``(None,)`` when the form has none."""
        form = self.form(block)
        if form is None or not form.uses_coarse_width:
            return (None,)
        assert group_size is not None  # forms that use a coarse width need a group size
        return self.coarse_choices(group_size)

    def block_choices(self, group_size: int | None) -> tuple[str, ...]:
        """The block forms a stage with this group size may take: each form says whether it needs a
        group size (``needs_group_size``) or allows one (``allows_group_size``)."""
        return tuple(b for b in self.blocks if _takes(self.family, b, group_size))

    def uses_share(self) -> bool:
        """Some block choice of the stage has a ``share`` knob (conv, or a form not forcing share 1)."""
        return any(b == "conv" or not self.form(b).forces_share_one for b in self.blocks)

    def uses_inner(self) -> bool:
        """Some block choice of the stage has inner widths of its own (conv, or a form not tying them)."""
        return any(b == "conv" or not self.form(b).ties_inner_to_width for b in self.blocks)

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stride": self.stride,
            "depth": self.depth.to_data(),
            "width": self.width.to_data(),
            "group_size": [DENSE if g is None else g for g in self.group_sizes],
            "share": list(self.shares),
        }
        if self.inner is not None:
            out["inner"] = {**self.inner.to_data(), "per_layer": self.per_layer}
        for key, values in (("kernel", self.kernels), ("se", self.ses), ("act", self.acts)):
            if values != _OPTION_DEFAULTS[key]:  # left out when default: existing spaces keep their data
                out[key] = list(values)
        if self.expansions is not None:
            out["expansion"] = list(self.expansions)
        if self.blocks != ("conv",):  # left out when default: existing spaces keep their data
            out["block"] = list(self.blocks)
            if any(b != "conv" and self.form(b).uses_coarse_width for b in self.blocks):
                out["coarse_width"] = list(self.coarse_widths)
        return out


@dataclass(frozen=True)
class ParsedSpace:
    """A validated space file, before any sampling."""

    source: str
    family: str
    description: str
    in_channels: int
    num_classes: int
    input_size: int
    width_multiplier: FloatKnob
    dropout: FloatKnob
    stem: IntRange
    stages: tuple[StageSpace, ...]


# --------------------------------------------------------------------------- helpers
def show(value: Any) -> str:
    """A value as the user wrote it (TOML-ish), short enough for one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10**60:
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str) and len(value) > 60:
        value = value[:60]  # cut before dumping: the value may be megabytes long
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError, RecursionError):
        text = clip_repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, value: Any, problem: str) -> NoReturn:
        raise field_error(ConfigError, path, problem, shown=show(value), source=self.source)

    def missing(self, path: str, expected: str) -> NoReturn:
        raise field_error(ConfigError, path, f"is missing; expected {expected}", source=self.source)

    def table(self, path: str, value: Any, allowed: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(path, value, f"must be a table with keys {', '.join(allowed)}")
        for key in value:
            if key not in allowed:
                raise unknown_key_error(ConfigError, path, key, allowed, shown=show(value[key]), source=self.source,
                                        limit=60)
        return value

    def integer(self, path: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, value, f"must be an integer, not {_type_name(value)}")
        if value < minimum:
            self.fail(path, value, f"must be >= {minimum}")
        if maximum is not None and value > maximum:
            self.fail(path, value, f"must be <= {maximum}")
        return value

    def number(self, path: str, value: Any, *, low: float, high: float, high_open: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            self.fail(path, value, f"must be a number, not {_type_name(value)}")
        bad_high = value >= high if high_open else value > high
        if value < low or bad_high:
            self.fail(path, value, f"must be in [{low}, {high}{')' if high_open else ']'}")
        return float(value)

    def int_range(self, path: str, value: Any, *, minimum: int, maximum: int, extra: Sequence[str] = ()) -> IntRange:
        """An integer (fixed) or a table ``{min, max, step}`` (step defaults to 1)."""
        if isinstance(value, int) and not isinstance(value, bool):
            v = self.integer(path, value, minimum=minimum, maximum=maximum)
            return IntRange(v, v, 1)
        if not isinstance(value, Mapping):
            self.fail(path, value, f"must be an integer or a table {{min, max, step}}, not {_type_name(value)}")
        self.table(path, value, _RANGE_KEYS + tuple(extra))
        for key in ("min", "max"):
            if key not in value:
                self.missing(f"{path}.{key}", f"an integer in {minimum}..{maximum}")
        lo = self.integer(f"{path}.min", value["min"], minimum=minimum, maximum=maximum)
        hi = self.integer(f"{path}.max", value["max"], minimum=minimum, maximum=maximum)
        if hi < lo:
            self.fail(f"{path}.max", hi, f"is below {path}.min={lo}: the range is empty; max must be >= min")
        step = self.integer(f"{path}.step", value.get("step", 1), minimum=1, maximum=maximum)
        if (hi - lo) % step:
            self.fail(
                f"{path}.step", step,
                f"does not fit {path}: max - min = {hi - lo} is not a multiple of it; use a step that divides {hi - lo}",
            )
        return IntRange(lo, hi, step)

    def float_knob(self, path: str, value: Any, *, low: float, high: float, high_open: bool, default: float) -> FloatKnob:
        """A number (fixed), a table ``{min, max}`` (range) or a list of numbers (choices)."""
        if value is None:
            return FloatKnob(default, default)
        if isinstance(value, Mapping):
            self.table(path, value, ("min", "max"))
            for key in ("min", "max"):
                if key not in value:
                    self.missing(f"{path}.{key}", f"a number in [{low}, {high}]")
            lo = self.number(f"{path}.min", value["min"], low=low, high=high, high_open=high_open)
            hi = self.number(f"{path}.max", value["max"], low=low, high=high, high_open=high_open)
            if hi < lo:
                self.fail(f"{path}.max", value["max"], f"is below {path}.min={show(value['min'])}: max must be >= min")
            return FloatKnob(lo, hi)
        if isinstance(value, list):
            if not value:
                self.fail(path, value, "must hold at least one choice")
            choices = tuple(
                self.number(f"{path}[{i}]", v, low=low, high=high, high_open=high_open) for i, v in enumerate(value)
            )
            if len(set(choices)) != len(choices):
                self.fail(path, value, "repeats a choice; list each choice once")
            if len(choices) == 1:
                return FloatKnob(choices[0], choices[0])
            return FloatKnob(min(choices), max(choices), choices)
        v = self.number(path, value, low=low, high=high, high_open=high_open)
        return FloatKnob(v, v)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _choices(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- parsing
def parse_space(data: Any, source: str) -> ParsedSpace:
    """Validate the parsed TOML ``data`` of a space file; errors name ``source``."""
    r = _Reader(source)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the space must be a table of keys, not {_type_name(data)}")
    r.table("", data, _TOP_KEYS)
    if "family" not in data:
        r.missing("family", f"one of {', '.join(family_names())}")
    family = data["family"]
    if not isinstance(family, str) or family not in family_names():
        r.fail("family", family, f"is unknown; allowed: {', '.join(family_names())}")
    description = data.get("description", "")
    if not isinstance(description, str):
        r.fail("description", description, f"must be a string, not {_type_name(description)}")
    in_channels = r.integer("in_channels", data.get("in_channels", 3), maximum=MAX_WIDTH)
    num_classes = r.integer("num_classes", data.get("num_classes", 10), maximum=1_000_000)
    input_size = r.integer("input_size", data.get("input_size", 32), maximum=16384)
    mult = r.float_knob(
        "width_multiplier", data.get("width_multiplier"), low=0.0625, high=MAX_MULTIPLIER, high_open=False, default=1.0
    )
    dropout = r.float_knob("dropout", data.get("dropout"), low=0.0, high=1.0, high_open=True, default=0.0)

    if "stem" not in data:
        r.missing("stem", "a table with key width, e.g. [stem] width = { min = 8, max = 32, step = 8 }")
    stem_t = r.table("stem", data["stem"], ("width",))
    if "width" not in stem_t:
        r.missing("stem.width", "an integer or a table {min, max, step}")
    stem = r.int_range("stem.width", stem_t["width"], minimum=1, maximum=MAX_WIDTH)

    if "stages" not in data:
        r.missing("stages", "one [[stages]] table per stage")
    stages_data = data["stages"]
    if not isinstance(stages_data, list) or not stages_data:
        r.fail("stages", stages_data, "must be a non-empty list of [[stages]] tables")
    stem_is_first_inner = get_family(family).knobs.stem_is_first_inner
    stages = tuple(_parse_stage(r, f"stages[{i}]", sd, family, i) for i, sd in enumerate(stages_data))

    # group sizes must divide at least one value of every width range they govern
    for i, st in enumerate(stages):
        p = f"stages[{i}]"
        governed = [(f"{p}.width", st.width)]
        if st.inner is not None:
            governed.append((f"{p}.inner", st.inner))
        if i == 0 and stem_is_first_inner:
            governed.append(("stem.width", stem))
        for g in st.group_sizes:
            if g is None:
                continue
            for where, rng in governed:
                if rng.domain(g) is None:
                    r.fail(
                        f"{p}.group_size", g,
                        f"divides no value of {where} ({rng.describe()}); allowed: group sizes that divide "
                        f"at least one width of every range of the stage",
                    )
    # the multiplier must not push widths past the maximum
    top = max([stem.max] + [st.width.max for st in stages] + [st.inner.max for st in stages if st.inner])
    if top * mult.high > MAX_WIDTH:
        r.fail("width_multiplier", data.get("width_multiplier"), f"times the widest width {top} exceeds {MAX_WIDTH}")
    return ParsedSpace(
        source=source, family=family, description=description, in_channels=in_channels, num_classes=num_classes,
        input_size=input_size, width_multiplier=mult, dropout=dropout, stem=stem, stages=stages,
    )


def _parse_stage(r: _Reader, p: str, sd: Any, family: str, index: int) -> StageSpace:
    sd = r.table(p, sd, _STAGE_KEYS)
    fam = get_family(family)
    stride = sd.get("stride", 1)
    if isinstance(stride, bool) or stride not in (1, 2):
        r.fail(f"{p}.stride", stride, "must be 1 or 2")
    if "depth" not in sd:
        r.missing(f"{p}.depth", "an integer or a table {min, max}")
    depth = r.int_range(f"{p}.depth", sd["depth"], minimum=1, maximum=MAX_DEPTH)
    if "width" not in sd:
        r.missing(f"{p}.width", "an integer or a table {min, max, step}")
    width = r.int_range(f"{p}.width", sd["width"], minimum=1, maximum=MAX_WIDTH)
    blocks, coarse_widths = _parse_blocks(r, p, sd, family)

    inner: IntRange | None = None
    per_layer = fam.knobs.per_layer_inner
    if fam.knobs.stem_is_first_inner and index == 0:
        if "inner" in sd:
            r.fail(
                f"{p}.inner", sd["inner"],
                f"is not allowed: in family {family!r} level 0's f-width is the stem width; set stem.width instead",
            )
    elif "inner" not in sd and all(b != "conv" and fam.block_forms[b].ties_inner_to_width for b in blocks):
        pass  # block forms without an inner width of their own (vcycle, anchored: inner = width)
    elif "expansion" in sd and fam.allows_block_options:
        if "inner" in sd:
            r.fail(f"{p}.inner", sd["inner"], "is not allowed together with expansion (the inner width is "
                                              "expansion x the block's input width); give one of them")
    else:
        if "inner" not in sd:
            r.missing(f"{p}.inner", "an integer or a table {min, max, step, per_layer}")
        raw = sd["inner"]
        inner = r.int_range(f"{p}.inner", raw, minimum=1, maximum=MAX_WIDTH, extra=("per_layer",))
        if isinstance(raw, Mapping) and "per_layer" in raw:
            pl = raw["per_layer"]
            if not isinstance(pl, bool):
                r.fail(f"{p}.inner.per_layer", pl, f"must be true or false, not {_type_name(pl)}")
            if pl and not fam.knobs.per_layer_inner:
                r.fail(
                    f"{p}.inner.per_layer", pl,
                    f"is not allowed in family {family!r}: f has one width per level (use false)",
                )
            per_layer = pl

    group_sizes: list[int | None] = []
    raw_gs = sd.get("group_size", DENSE)
    gs_list = _choices(raw_gs)
    if not gs_list:
        r.fail(f"{p}.group_size", raw_gs, f'must hold at least one choice (an even integer >= 2 or "{DENSE}")')
    dense_word = DENSE  # the spelling the file uses, echoed in messages
    for k, g in enumerate(gs_list):
        where = f"{p}.group_size" if not isinstance(raw_gs, list) else f"{p}.group_size[{k}]"
        if g == DENSE or g in DENSE_ALIASES:
            group_sizes.append(None)
            dense_word = g
            continue
        if isinstance(g, bool) or not isinstance(g, int) or g < 2 or g % 2:
            r.fail(where, g, f'must be an even integer >= 2 or "{DENSE}"')
        if not fam.allows_group_size:
            allowed = ", ".join(family_names(lambda f: f.allows_group_size))
            r.fail(where, g, f'is not allowed in family {family!r}; MGIC group sizes exist in {allowed} (use "{DENSE}")')
        group_sizes.append(g)
    if len(set(group_sizes)) != len(group_sizes):
        r.fail(f"{p}.group_size", raw_gs, "repeats a choice; list each choice once")

    shares: list[int | str] = []
    raw_sh = sd.get("share", 1)
    sh_list = _choices(raw_sh)
    if not sh_list:
        r.fail(f"{p}.share", raw_sh, 'must hold at least one choice (an integer >= 1 or "all")')
    for k, s in enumerate(sh_list):
        where = f"{p}.share" if not isinstance(raw_sh, list) else f"{p}.share[{k}]"
        if s != "all" and (isinstance(s, bool) or not isinstance(s, int) or s < 1):
            r.fail(where, s, 'must be an integer >= 1 or "all" (the whole stage shares one set of weights)')
        if s != 1 and not fam.allows_sharing:
            allowed = ", ".join(family_names(lambda f: f.allows_sharing))
            r.fail(where, s, f"is not allowed in family {family!r} (use 1); weight sharing exists in {allowed}")
        shares.append(s)
    if len(set(shares)) != len(shares):
        r.fail(f"{p}.share", raw_sh, "repeats a choice; list each choice once")
    forms = {b: fam.block_forms[b] for b in blocks if b != "conv"}
    for g in group_sizes:  # every group size must leave some block form
        if not any(_takes(family, b, g) for b in blocks):
            if "conv" in blocks:
                users = ", ".join(f'"{n}"' for n, f in fam.block_forms.items() if f.allows_group_size) or "none"
                r.fail(f"{p}.group_size", raw_gs,
                       f"cannot be {show(_tag_raw(g, dense_word))} with block={show(sd.get('block', 'conv'))}: in "
                       f"family {family!r} only a block form gives a group size a meaning ({users}; or drop {show(g)})")
            need = ("need a group size" if g is None else "allow no group size")
            r.fail(f"{p}.group_size", raw_gs,
                   f"cannot be {show(_tag_raw(g, dense_word))} with block={show(sd.get('block'))}: those block "
                   f"forms {need} (add \"conv\" to block, or drop {show(_tag_raw(g, dense_word))})")
    for b, f in forms.items():  # every block form must be usable with some group size
        if not any(_form_takes(f, g) for g in group_sizes):
            if f.needs_group_size:
                r.fail(f"{p}.block", sd.get("block"), f'needs a group size: block form {b!r} exists only with MGIC '
                       f'group sizes (group_size = "{DENSE}" allows only "conv")')
            r.fail(f"{p}.block", sd.get("block"), f'needs group_size = "{DENSE}": block form {b!r} allows no group size')
    options = _parse_options(r, p, sd, family)
    stage = StageSpace(
        stride=stride, depth=depth, width=width, inner=inner, per_layer=per_layer,
        group_sizes=tuple(group_sizes), shares=tuple(shares), blocks=blocks, coarse_widths=coarse_widths,
        family=family, **options,
    )
    # every (group size, block form, coarse width) must leave at least one width of the range valid
    for b, form in forms.items():
        for g in group_sizes:
            if not _form_takes(form, g):
                continue
            for cw in stage.form_coarse_choices(b, g):
                if not block_form_widths(form, width, g, cw):
                    r.fail(
                        f"{p}.width", sd["width"],
                        f"holds no width valid for block={b!r} with group_size={g}, coarse_width={cw} (its "
                        f"channel levels must stay even multiples of the group size, e.g. {g}, {2 * g}, {4 * g}); "
                        f"allowed: a range holding such a width",
                    )
    return stage


def _parse_options(r: _Reader, p: str, sd: Mapping[str, Any], family: str) -> dict[str, Any]:
    """``kernel``, ``se``, ``act`` and ``expansion`` of a stage table (families with block options)."""
    from mgsearch.spec import ACTIVATIONS, KERNELS

    fam = get_family(family)
    out: dict[str, Any] = {}
    rules = {
        "kernel": (lambda v: not isinstance(v, bool) and v in KERNELS, f"must be one of {', '.join(map(str, KERNELS))}"),
        "se": (lambda v: isinstance(v, bool), "must be true or false"),
        "act": (lambda v: isinstance(v, str) and v in ACTIVATIONS, f"must be one of {', '.join(ACTIVATIONS)}"),
        "expansion": (lambda v: not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
                      and 0 < v <= MAX_EXPANSION, f"must be a number in (0, {MAX_EXPANSION:g}]"),
    }
    for key, attr in (("kernel", "kernels"), ("se", "ses"), ("act", "acts"), ("expansion", "expansions")):
        if key not in sd:
            continue
        raw = sd[key]
        if not fam.allows_block_options:
            having = ", ".join(family_names(lambda f: f.allows_block_options)) or "none"
            r.fail(f"{p}.{key}", raw, f"is not allowed in family {family!r}; block options exist in: {having}")
        values = _choices(raw)
        if not values:
            r.fail(f"{p}.{key}", raw, "must hold at least one choice")
        ok, rule = rules[key]
        for k, v in enumerate(values):
            if not ok(v):
                r.fail(f"{p}.{key}" if not isinstance(raw, list) else f"{p}.{key}[{k}]", v, rule)
        if len(set(values)) != len(values):
            r.fail(f"{p}.{key}", raw, "repeats a choice; list each choice once")
        out[attr] = tuple(float(v) if key == "expansion" else v for v in values)
    return out


def _takes(family: str, block: str, group_size: int | None) -> bool:
    """A stage of ``block`` (``"conv"`` or a block form of ``family``) may have this group size."""
    fam = get_family(family)
    if block == "conv":
        return group_size is None or fam.conv_allows_group_size
    return _form_takes(fam.block_forms[block], group_size)


def _form_takes(form: Any, group_size: int | None) -> bool:
    """A stage of block form ``form`` may have this group size (None: no group size)."""
    return form.allows_group_size if group_size is not None else not form.needs_group_size


def _tag_raw(g: int | None, dense_word: str = DENSE) -> int | str:
    """A group-size choice as the file wrote it (``dense_word``: the file's spelling of dense)."""
    return dense_word if g is None else g


def block_form_widths(form: Any, rng: IntRange, group_size: int | None, coarse_width: int | None) -> list[int]:
    """The widths of ``rng`` that a stage of block form ``form`` accepts (multiples of the group size
    passing the form's optional ``width_allowed`` rule), ascending."""
    dom = rng.domain(group_size)
    if dom is None:
        return []
    first, last, step = dom
    allowed = getattr(form, "width_allowed", None)
    return [w for w in range(first, last + 1, step) if allowed is None or allowed(w, group_size, coarse_width)]


def _parse_blocks(r: _Reader, p: str, sd: Mapping[str, Any], family: str) -> tuple[tuple[str, ...], tuple[int | str, ...]]:
    """``block`` (default "conv") and ``coarse_width`` (default "group_size") of a stage table."""
    fam = get_family(family)
    # the block forms a space may choose: all of the family's (Family.add_block_form); each declares
    # what it needs (BlockForm.needs_group_size, ties_inner_to_width, forces_share_one, ...)
    searchable = ["conv", *fam.block_forms]
    raw_b = sd.get("block", "conv")
    b_list = _choices(raw_b)
    if not b_list:
        r.fail(f"{p}.block", raw_b, f"must hold at least one choice; allowed: {', '.join(searchable)}")
    blocks: list[str] = []
    for k, b in enumerate(b_list):
        where = f"{p}.block" if not isinstance(raw_b, list) else f"{p}.block[{k}]"
        if not isinstance(b, str):
            r.fail(where, b, f"must be a string naming a block form; allowed: {', '.join(searchable)}")
        if b not in searchable:
            if len(searchable) == 1:
                having = ", ".join(family_names(lambda f: bool(f.block_forms))) or "none"
                r.fail(where, b, f'is not allowed in family {family!r}: it has no block forms (use "conv"); '
                                 f"families with block forms: {having}")
            r.fail(where, b, f"is not a block form of family {family!r}; allowed: {', '.join(searchable)}")
        blocks.append(b)
    if len(set(blocks)) != len(blocks):
        r.fail(f"{p}.block", raw_b, "repeats a choice; list each choice once")
    coarse: list[int | str] = [COARSE_IS_GROUP]
    if "coarse_width" in sd:
        raw_c = sd["coarse_width"]
        if not any(b != "conv" and fam.block_forms[b].uses_coarse_width for b in blocks):
            users = [n for n, f in fam.block_forms.items() if f.uses_coarse_width]
            example = f'e.g. block = ["conv", "{users[0]}"]' if users else f"family {family!r} has none"
            r.fail(f"{p}.coarse_width", raw_c, f"is only allowed with a block form that uses it ({example})")
        c_list = _choices(raw_c)
        if not c_list:
            r.fail(f"{p}.coarse_width", raw_c, 'must hold at least one choice (an integer >= 2 or "group_size")')
        coarse = []
        for k, c in enumerate(c_list):
            where = f"{p}.coarse_width" if not isinstance(raw_c, list) else f"{p}.coarse_width[{k}]"
            if c != COARSE_IS_GROUP:
                if isinstance(c, bool) or not isinstance(c, int) or not 2 <= c <= MAX_WIDTH:
                    r.fail(where, c, f'must be an integer in 2..{MAX_WIDTH} or "group_size" (equal to the group size)')
            coarse.append(c)
        if len(set(coarse)) != len(coarse):
            r.fail(f"{p}.coarse_width", raw_c, "repeats a choice; list each choice once")
    return tuple(blocks), tuple(coarse)
