"""ArchSpec: the one description of a network that every part of mgsearch speaks.

An :class:`ArchSpec` is a frozen, validated value. It serialises to canonical JSON (sorted keys,
``"schema": 1``) and its hash (sha256 of that JSON) identifies duplicates across a study.

Structure (all families)::

    stem  -> stages[0] -> stages[1] -> ... -> head (global average pool, dropout, linear)

* ``Stage.width`` is the width of the stage's residual stream (ResNet families) or of the solution
  ``u`` on that grid level (MgNet families): widths tied by a residual sum are one stage-level value.
* ``Block.inner`` is a block's own free width: the width between the two convs of a ResNet basic
  block, or the width of the data/residual space ``f`` of an MgNet smoothing step (``f`` is one
  tensor per level, so the blocks of an MgNet stage share it, and stage 0 shares it with the stem).
* ``Stage.group_size`` ``s`` (``None`` = dense) makes every 3x3 conv of the stage an MGIC conv whose
  fine level has groups of ``s`` channels; widths in such a stage must be multiples of ``s``.
* ``Stage.share`` ``k``: consecutive runs of ``k`` blocks share one set of conv weights (BatchNorm
  stays per application); blocks of one run must have equal ``inner``.

:func:`width_slots` lists the independent width variables of a spec with their ties and rounding
rules; search spaces sample them and LW-DNA shrinks them.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from mgsearch.errors import SpecError, clip, clip_repr, field_error, key_path, unknown_key_error
from mgsearch.inputs import check_nesting

__all__ = [
    "SCHEMA_VERSION",
    "DEFAULT_BLOCK",
    "KERNELS",
    "ACTIVATIONS",
    "Block",
    "Stage",
    "Stem",
    "Head",
    "ArchSpec",
    "WidthSlot",
    "width_slots",
    "sharing_runs",
    "json_schema",
    "DENSE",
    "DENSE_ALIASES",
    "group_size_text",
]

SCHEMA_VERSION = 1
#: the default ``Stage.block``: the family's own blocks (left out of the canonical JSON, so specs
#: written before block forms existed keep their JSON and hash)
DEFAULT_BLOCK = "conv"
#: the depthwise kernel sizes a block may have (``Block.kernel``; families with block options only)
KERNELS = (3, 5, 7)
#: the activations a block may use (``Block.act``): ReLU, or MobileNetV3's hard swish ``x * relu6(x + 3) / 6``
ACTIVATIONS = ("relu", "hswish")
MAX_WIDTH = 65536
#: the deepest nesting of objects / lists in spec JSON (a valid spec nests 5 levels)
MAX_SPEC_NESTING = 8
#: the one word for a stage without MGIC channel grouping (``group_size`` None): in search-space files
#: (``group_size = [8, "dense"]``), knob names (``s0.width@dense``), CLI output, reports and docs; spec
#: JSON writes ``null`` (docs/concepts.md, "One word for dense")
DENSE = "dense"
#: older spellings of :data:`DENSE` in search-space files, still read (never written)
DENSE_ALIASES = ("none",)


def group_size_text(group_size: int | None) -> str:
    """A stage's group size as shown to people: ``"8"``, or ``"dense"`` for None."""
    return DENSE if group_size is None else str(group_size)


def _registry() -> Any:
    """:mod:`mgsearch.families.registry`, imported lazily: families sit above spec, and asking their
    registry is the one allowed upward path (the registry imports nothing heavy)."""
    from mgsearch.families import registry

    return registry


def _family(name: Any) -> Any:
    """The registered Family called ``name``; a SpecError listing the known names otherwise."""
    return _registry().get_family(name)


def _families_where(flag: str) -> str:
    """Comma-separated names of the registered families whose ``flag`` attribute is true."""
    return ", ".join(_registry().family_names(lambda f: getattr(f, flag)))


def _check_int(path: str, value: Any, *, minimum: int = 1, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise field_error(SpecError, path, f"must be an integer, not {type(value).__name__}", value=value)
    if value < minimum:
        raise field_error(SpecError, path, f"must be >= {minimum}", value=value)
    if maximum is not None and value > maximum:
        raise field_error(SpecError, path, f"must be <= {maximum}", value=value)


@dataclass(frozen=True)
class Block:
    """One block (ResNet basic block or MgNet smoothing step) and its own free width."""

    inner: int = field(metadata={"doc": "the block's free width (between its two convs; f-width in MgNet; "
                                         "the expanded width of an inverted-residual block)"})
    kernel: int = field(default=3, metadata={"doc": "depthwise kernel size of an inverted-residual block "
                                                    "(3, 5 or 7; families with block options only)"})
    se: bool = field(default=False, metadata={"doc": "squeeze-and-excite on the expanded width (families with "
                                                     "block options only)"})
    act: str = field(default="relu", metadata={"doc": "activation: \"relu\" or \"hswish\" (hard swish; families "
                                                      "with block options only)"})

    def __post_init__(self) -> None:
        _check_int("inner", self.inner, maximum=MAX_WIDTH)
        if isinstance(self.kernel, bool) or not isinstance(self.kernel, int) or self.kernel not in KERNELS:
            raise field_error(SpecError, "kernel", f"must be one of {', '.join(map(str, KERNELS))}", value=self.kernel)
        if not isinstance(self.se, bool):
            raise field_error(SpecError, "se", f"must be true or false, not {type(self.se).__name__}", value=self.se)
        if not isinstance(self.act, str) or self.act not in ACTIVATIONS:
            raise field_error(SpecError, "act", f"must be one of {', '.join(ACTIVATIONS)}", value=self.act)

    @property
    def has_options(self) -> bool:
        """Some block option (``kernel``, ``se``, ``act``) is not at its default."""
        return self.kernel != 3 or self.se or self.act != "relu"


@dataclass(frozen=True)
class Stage:
    """A run of blocks at one resolution and one residual-stream width."""

    width: int = field(metadata={"doc": "residual-stream width (u-width on an MgNet level)"})
    blocks: tuple[Block, ...] = field(metadata={"doc": "the blocks, in order; at least one"})
    stride: int = field(default=1, metadata={"doc": "1, or 2 to halve the resolution on entry"})
    group_size: int | None = field(
        default=None, metadata={"doc": "MGIC group size s (even, >= 2); null for dense convs"}
    )
    share: int = field(default=1, metadata={"doc": "length of the runs of blocks sharing conv weights"})
    block: str = field(
        default=DEFAULT_BLOCK,
        metadata={"doc": "block form: \"conv\" (the family's own blocks; omitted from the JSON) or a "
                         "registered block form of the family, e.g. \"vcycle\" (mgic: the authors' MGIC V-cycle)"},
    )
    coarse_width: int | None = field(
        default=None,
        metadata={"doc": "vcycle blocks: the authors' mgFcChannel; channel levels halve while the half is "
                         ">= coarse_width, the first half below it is the coarsest (dense) level; null otherwise"},
    )

    def __post_init__(self) -> None:
        if not isinstance(self.blocks, tuple):
            object.__setattr__(self, "blocks", tuple(self.blocks))
        _check_int("width", self.width, maximum=MAX_WIDTH)
        _check_int("stride", self.stride, maximum=2)
        _check_int("share", self.share)
        if not isinstance(self.block, str):
            raise field_error(SpecError, "block", f"must be a string, not {type(self.block).__name__}",
                              value=self.block)
        if self.coarse_width is not None:
            _check_int("coarse_width", self.coarse_width, minimum=2, maximum=MAX_WIDTH)
        if self.group_size is not None:
            _check_int("group_size", self.group_size, minimum=2, maximum=MAX_WIDTH)
            if self.group_size % 2:
                raise SpecError(f"group_size={self.group_size} must be even (restriction halves groups)")
        if len(self.blocks) == 0:
            raise SpecError("blocks=[] must hold at least one block")
        for i, block in enumerate(self.blocks):
            if not isinstance(block, Block):
                raise SpecError(f"blocks[{i}] must be a Block, not {type(block).__name__}")

    @property
    def depth(self) -> int:
        """Number of blocks."""
        return len(self.blocks)


@dataclass(frozen=True)
class Stem:
    """The input convolution (3x3, stride 1) with BN and ReLU."""

    width: int = field(metadata={"doc": "output width of the stem conv"})

    def __post_init__(self) -> None:
        _check_int("width", self.width, maximum=MAX_WIDTH)


@dataclass(frozen=True)
class Head:
    """Global average pooling, dropout and the linear classifier."""

    dropout: float = field(default=0.0, metadata={"doc": "dropout probability before the classifier"})

    def __post_init__(self) -> None:
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)):
            raise SpecError(f"dropout={clip_repr(self.dropout)} must be a number")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise SpecError(f"dropout={self.dropout} must be in [0, 1)")
        object.__setattr__(self, "dropout", float(self.dropout))


def sharing_runs(stage: Stage) -> list[range]:
    """Block index ranges that share one set of conv weights: ``[0, k), [k, 2k), ...``."""
    k = stage.share
    return [range(i, min(i + k, stage.depth)) for i in range(0, stage.depth, k)]


@dataclass(frozen=True)
class ArchSpec:
    """A complete, validated network description (see the module docstring)."""

    family: str = field(metadata={"doc": "one of resnet, mgic, dacnn, mgnet, mgiad"})
    stem: Stem
    stages: tuple[Stage, ...] = field(metadata={"doc": "the stages, in order; at least one"})
    in_channels: int = field(default=3, metadata={"doc": "input image channels"})
    num_classes: int = field(default=10, metadata={"doc": "classifier outputs"})
    input_size: int = field(default=32, metadata={"doc": "input image height = width, in pixels"})
    head: Head = field(default_factory=Head)

    def __post_init__(self) -> None:
        if not isinstance(self.stages, tuple):
            object.__setattr__(self, "stages", tuple(self.stages))
        _validate(self)

    # ----------------------------------------------------------------- derived facts
    @property
    def depth(self) -> int:
        """Total number of blocks."""
        return sum(stage.depth for stage in self.stages)

    def widths(self) -> list[int]:
        """Every free width in order: stem, then per stage its width and its blocks' inners."""
        out = [self.stem.width]
        for stage in self.stages:
            out.append(stage.width)
            out.extend(block.inner for block in stage.blocks)
        return out

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-ready dict, including ``"schema"`` (a fresh dict: callers may modify it)."""
        # written out by hand: dataclasses.asdict is ~10x slower and this runs per sampled spec
        # (tests check that it equals the generic asdict form)
        return {
            "family": self.family,
            "stem": {"width": self.stem.width},
            "stages": [
                {
                    "width": st.width,
                    "blocks": [_block_dict(b) for b in st.blocks],
                    "stride": st.stride,
                    "group_size": st.group_size,
                    "share": st.share,
                    **_block_form_fields(st),
                }
                for st in self.stages
            ],
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "input_size": self.input_size,
            "head": {"dropout": self.head.dropout},
            "schema": SCHEMA_VERSION,
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Canonical JSON (sorted keys); ``indent=None`` gives the compact form that is hashed."""
        if indent is None:
            cached = self.__dict__.get("_canonical_json")
            if cached is None:
                cached = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
                object.__setattr__(self, "_canonical_json", cached)
            return cached
        return json.dumps(self.to_dict(), sort_keys=True, indent=indent)

    @property
    def hash(self) -> str:
        """sha256 hex digest of the canonical JSON: equal specs have equal hashes."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @property
    def short_hash(self) -> str:
        """The first 12 hex digits of :attr:`hash`."""
        return self.hash[:12]

    @classmethod
    def from_dict(cls, data: Any) -> "ArchSpec":
        """Build from a dict as written by :meth:`to_dict`; errors name the field path."""
        return _parse_spec(data)

    @classmethod
    def from_json(cls, text: str) -> "ArchSpec":
        """Parse canonical or pretty JSON; malformed JSON is a :class:`SpecError`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec JSON is malformed at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except (RecursionError, MemoryError):
            raise SpecError(f"spec JSON is nested too deeply to parse (a spec nests {MAX_SPEC_NESTING} levels "
                            "of objects and lists at most)") from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise SpecError(f"spec JSON cannot be parsed: {clip(exc, 120)}") from None
        return _parse_spec(data)

    def replace(self, **changes: Any) -> "ArchSpec":
        """A copy with top-level fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_slot_values(self, values: Sequence[int], *, check: bool = True) -> "ArchSpec":
        """A copy whose width slots (see :func:`width_slots`) take ``values``, in slot order.

        ``check=False`` skips the cross-field validation (a provisional spec whose :func:`width_slots`
        are read to re-round values whose rule depends on another slot; never built or stored)."""
        slots = width_slots(self)
        if len(values) != len(slots):
            raise SpecError(f"got {len(values)} slot values for {len(slots)} width slots")
        assign: dict[str, int] = {}
        for slot, value in zip(slots, values):
            for path in slot.paths:
                assign[path] = int(value)
        stem = Stem(width=assign.get("stem.width", self.stem.width))
        stages = []
        for i, stage in enumerate(self.stages):
            blocks = tuple(
                dataclasses.replace(b, inner=assign.get(f"stages[{i}].blocks[{j}].inner", b.inner))
                for j, b in enumerate(stage.blocks)
            )
            stages.append(
                dataclasses.replace(stage, width=assign.get(f"stages[{i}].width", stage.width), blocks=blocks)
            )
        if not check:
            provisional = copy.copy(self)
            object.__setattr__(provisional, "stem", stem)
            object.__setattr__(provisional, "stages", tuple(stages))
            return provisional
        return dataclasses.replace(self, stem=stem, stages=tuple(stages))


def _block_dict(block: Block) -> dict[str, Any]:
    """A block's JSON: ``inner``, plus ``kernel`` / ``se`` / ``act`` when not at their defaults (absent
    otherwise: the canonical JSON of a spec without block options is what it was before they existed)."""
    if not block.has_options:
        return {"inner": block.inner}
    out: dict[str, Any] = {"inner": block.inner}
    if block.kernel != 3:
        out["kernel"] = block.kernel
    if block.se:
        out["se"] = True
    if block.act != "relu":
        out["act"] = block.act
    return out


def _block_form_fields(stage: Stage) -> dict[str, Any]:
    """``block`` / ``coarse_width`` of a stage when not at their defaults (absent otherwise: the
    canonical JSON of a spec without block forms is what it was before they existed)."""
    out: dict[str, Any] = {}
    if stage.block != DEFAULT_BLOCK:
        out["block"] = stage.block
    if stage.coarse_width is not None:
        out["coarse_width"] = stage.coarse_width
    return out


def _json_ready(value: Any) -> Any:
    """Tuples -> lists, recursively (``dataclasses.asdict`` keeps tuples)."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


# --------------------------------------------------------------------------- validation
def _validate(spec: ArchSpec) -> None:
    family = _family(spec.family)
    if not isinstance(spec.stem, Stem):
        raise SpecError(f"stem must be a Stem, not {type(spec.stem).__name__}")
    if not isinstance(spec.head, Head):
        raise SpecError(f"head must be a Head, not {type(spec.head).__name__}")
    _check_int("in_channels", spec.in_channels, maximum=MAX_WIDTH)
    _check_int("num_classes", spec.num_classes, maximum=1_000_000)
    _check_int("input_size", spec.input_size, maximum=16384)
    if len(spec.stages) == 0:
        raise SpecError("stages=[] must hold at least one stage")
    fam = spec.family
    for i, stage in enumerate(spec.stages):
        p = f"stages[{i}]"
        if not isinstance(stage, Stage):
            raise SpecError(f"{p} must be a Stage, not {type(stage).__name__}")
        s = stage.group_size
        if s is not None and not family.allows_group_size:
            raise SpecError(
                f"{p}.group_size={s} is not allowed in family {fam!r}; "
                f"MGIC convs exist in: {_families_where('allows_group_size')}"
            )
        if stage.share != 1 and not family.allows_sharing:
            raise SpecError(
                f"{p}.share={stage.share} is not allowed in family {fam!r} (use 1); "
                f"weight sharing exists in: {_families_where('allows_sharing')}"
            )
        if stage.block != DEFAULT_BLOCK:
            forms = getattr(family, "block_forms", {})
            if stage.block not in forms:
                known = ", ".join([DEFAULT_BLOCK, *forms])
                raise SpecError(f"{p}.block={clip_repr(stage.block)} is not a block form of family {fam!r}; "
                                f"allowed: {known}")
        elif stage.coarse_width is not None:
            raise SpecError(f"{p}.coarse_width={stage.coarse_width} is only allowed with a block form that "
                            f"uses it ({p}.block is {DEFAULT_BLOCK!r})")
        if not getattr(family, "allows_block_options", False):
            for j, block in enumerate(stage.blocks):
                if block.has_options:
                    raise SpecError(
                        f"{p}.blocks[{j}] sets kernel/se/act (kernel={block.kernel}, se={block.se}, "
                        f"act={block.act!r}), which family {fam!r} does not use (leave them out); block options "
                        f"exist in: {_families_where('allows_block_options')}"
                    )
        if stage.share > stage.depth:
            raise SpecError(f"{p}.share={stage.share} exceeds the stage depth {stage.depth}")
        form = getattr(family, "block_forms", {}).get(stage.block)
        if s is not None and getattr(form, "widths_multiple_of_group_size", True):
            if stage.width % s:
                raise SpecError(f"{p}.width={stage.width} is not a multiple of {p}.group_size={s}")
            for j, block in enumerate(stage.blocks):
                if block.inner % s:
                    raise SpecError(f"{p}.blocks[{j}].inner={block.inner} is not a multiple of {p}.group_size={s}")
        for run in sharing_runs(stage):
            first = stage.blocks[run.start].inner
            for j in run:
                if stage.blocks[j].inner != first:
                    raise SpecError(
                        f"{p}.blocks[{j}].inner={stage.blocks[j].inner} differs from "
                        f"{p}.blocks[{run.start}].inner={first} in one sharing run (share={stage.share})"
                    )
    w_in = spec.stem.width
    for i, stage in enumerate(spec.stages):
        if stage.block != DEFAULT_BLOCK:
            family.block_forms[stage.block].validate_stage(f"stages[{i}]", stage, w_in)
        w_in = stage.width
    family.validate(spec)  # the family's own rules (e.g. the MgNet f-width ties)
    size = spec.input_size
    for i, stage in enumerate(spec.stages):
        size = (size - 1) // stage.stride + 1
    # (3x3 convs with padding 1 never reach size 0; the check guards future kernels)
    if size < 1:
        raise SpecError(f"input_size={spec.input_size} is too small for the strides of the stages")


# --------------------------------------------------------------------------- width slots
@dataclass(frozen=True)
class WidthSlot:
    """One independent width variable of a spec and the field paths it sets.

    ``multiple_of`` is the rounding rule (the stage's ``group_size``, or 1); ``kind`` is ``"stem"``,
    ``"stage"`` (a residual stream / u-width) or ``"inner"`` (a block's free width / f-width).
    ``allowed`` (None: every multiple) is a further rule a block form sets on its slots, a predicate on
    the width (e.g. a vcycle stage's channel levels must stay multiples of the group size): every
    place that sets a slot's width (scaling, widening, shrinking, the space's multiplier) takes only
    widths that :meth:`accepts`, via :meth:`round` / :meth:`round_up` / :meth:`choices`.
    """

    name: str
    kind: str
    paths: tuple[str, ...]
    value: int
    multiple_of: int
    allowed: Callable[[int], bool] | None = field(default=None, compare=False, repr=False)

    def accepts(self, width: int) -> bool:
        """``width`` is a valid value of this slot (a positive multiple of ``multiple_of`` and ``allowed``)."""
        return width >= 1 and width % self.multiple_of == 0 and (self.allowed is None or bool(self.allowed(width)))

    def round(self, value: float, *, step: int | None = None, minimum: int = 1) -> int:
        """The nearest accepted multiple of ``step`` (default ``multiple_of``) that is >= max(minimum, step)."""
        return round_width(value, step or self.multiple_of, minimum=minimum, allowed=self.allowed)

    def round_up(self, value: float, *, minimum: int = 1) -> int:
        """The smallest accepted multiple of ``multiple_of`` that is >= max(value, minimum) (a hair of tolerance)."""
        m = self.multiple_of
        w = max(m, math.ceil(max(value, minimum) / m - 1e-9) * m)
        while not self.accepts(w) and w <= MAX_WIDTH:
            w += m
        return w

    def choices(self, low: int, high: int) -> list[int]:
        """The accepted widths in ``low..high``, ascending."""
        m = self.multiple_of
        first = max(m, math.ceil(low / m) * m)
        return [w for w in range(first, high + 1, m) if self.accepts(w)]


def width_slots(spec: ArchSpec) -> tuple[WidthSlot, ...]:
    """The independent widths of ``spec`` with ties applied, in a fixed order (asks its family).

    Ties: one value per residual stream (``stages[i].width``); blocks of one sharing run share one
    inner width; in MgNet families ``f`` has one width per level and level 0's equals the stem's.
    """
    return _family(spec.family).width_slots(spec)


# --------------------------------------------------------------------------- parsing
_FIELDS: dict[type, dict[str, dataclasses.Field]] = {}


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    if cls not in _FIELDS:
        _FIELDS[cls] = {f.name: f for f in dataclasses.fields(cls)}
    return _FIELDS[cls]


def _require_mapping(path: str, data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise SpecError(f"{path or 'spec'} must be a JSON object, not {type(data).__name__}")
    return data


def _check_keys(path: str, data: Mapping[str, Any], cls: type, extra: Sequence[str] = ()) -> None:
    known = set(_fields(cls)) | set(extra)
    for key in data:
        if key not in known:
            raise unknown_key_error(SpecError, path, key, sorted(known))
    for name, f in _fields(cls).items():
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise field_error(SpecError, key_path(path, name), "is missing")


def _prefixed(path: str, exc: SpecError) -> SpecError:
    msg = str(exc)
    return SpecError(f"{path}.{msg}" if path and not msg.startswith(path) else msg)


def _build(path: str, cls: type, kwargs: dict[str, Any]) -> Any:
    try:
        return cls(**kwargs)
    except SpecError as exc:
        raise _prefixed(path, exc) from None


def _parse_spec(data: Any) -> ArchSpec:
    data = _require_mapping("", data)
    check_nesting(data, "spec", limit=MAX_SPEC_NESTING, what="objects and lists", error=SpecError)
    _family(data.get("family"))
    _check_keys("", data, ArchSpec, extra=("schema",))
    schema = data.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise SpecError(f"schema={clip_repr(schema)} is not supported; this mgsearch reads schema {SCHEMA_VERSION}")
    stem_data = _require_mapping("stem", data["stem"])
    _check_keys("stem", stem_data, Stem)
    stem = _build("stem", Stem, dict(stem_data))
    head_data = _require_mapping("head", data.get("head", {}))
    _check_keys("head", head_data, Head)
    head = _build("head", Head, dict(head_data))
    stages_data = data["stages"]
    if not isinstance(stages_data, (list, tuple)):
        raise SpecError(f"stages must be a JSON list, not {type(stages_data).__name__}")
    stages = []
    for i, sd in enumerate(stages_data):
        p = f"stages[{i}]"
        sd = _require_mapping(p, sd)
        _check_keys(p, sd, Stage)
        blocks_data = sd["blocks"]
        if not isinstance(blocks_data, (list, tuple)):
            raise SpecError(f"{p}.blocks must be a JSON list, not {type(blocks_data).__name__}")
        blocks = []
        for j, bd in enumerate(blocks_data):
            bp = f"{p}.blocks[{j}]"
            bd = _require_mapping(bp, bd)
            _check_keys(bp, bd, Block)
            blocks.append(_build(bp, Block, dict(bd)))
        kwargs = {k: v for k, v in sd.items() if k != "blocks"}
        stages.append(_build(p, Stage, {**kwargs, "blocks": tuple(blocks)}))
    kwargs = {k: v for k, v in data.items() if k not in ("schema", "stem", "head", "stages")}
    return ArchSpec(stem=stem, head=head, stages=tuple(stages), **kwargs)


# --------------------------------------------------------------------------- JSON Schema
def _type_schema(tp: str) -> dict[str, Any]:
    tp = tp.replace(" ", "")
    if tp == "int":
        return {"type": "integer", "minimum": 1}
    if tp == "float":
        return {"type": "number", "minimum": 0, "exclusiveMaximum": 1}
    if tp == "str":
        return {"type": "string"}
    if tp == "bool":
        return {"type": "boolean"}
    if tp == "int|None":
        return {"type": ["integer", "null"], "minimum": 2, "multipleOf": 2}
    if tp in ("Stem", "Head", "Block", "Stage"):
        return {"$ref": f"#/$defs/{tp}"}
    if tp.startswith("tuple[") and tp.endswith(",...]"):
        inner = tp[len("tuple["):-len(",...]")]
        return {"type": "array", "minItems": 1, "items": _type_schema(inner)}
    raise TypeError(f"no JSON Schema for field type {tp!r}")


def _object_schema(cls: type) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for f in dataclasses.fields(cls):
        sub = _type_schema(str(f.type))
        if "doc" in f.metadata:
            sub = {**sub, "description": f.metadata["doc"]}
        if f.default is not dataclasses.MISSING:
            sub = {**sub, "default": f.default}
        props[f.name] = sub
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    return {
        "type": "object",
        "description": (cls.__doc__ or "").strip().splitlines()[0],
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ArchSpec format, generated from the dataclasses."""
    root = _object_schema(ArchSpec)
    root["properties"]["family"]["enum"] = list(_registry().family_names())
    root["properties"]["schema"] = {"const": SCHEMA_VERSION, "description": "format version"}
    root["properties"]["stages"]["items"] = {"$ref": "#/$defs/Stage"}
    defs = {name: _object_schema(cls) for name, cls in (("Stem", Stem), ("Head", Head), ("Block", Block), ("Stage", Stage))}
    defs["Stage"]["properties"]["stride"]["enum"] = [1, 2]
    defs["Block"]["properties"]["kernel"]["enum"] = list(KERNELS)
    defs["Block"]["properties"]["act"]["enum"] = list(ACTIVATIONS)
    forms = sorted({name for f in _registry().families() for name in getattr(f, "block_forms", {})})
    defs["Stage"]["properties"]["block"]["enum"] = [DEFAULT_BLOCK, *forms]
    cw = defs["Stage"]["properties"]["coarse_width"]
    cw.pop("multipleOf", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mgsearch.dev/schema/archspec-1.json",
        "title": "mgsearch ArchSpec",
        **root,
        "$defs": defs,
    }


def round_to_multiple(value: float, multiple: int, *, minimum: int = 1) -> int:
    """Round ``value`` to the nearest multiple of ``multiple`` that is >= max(minimum, multiple)."""
    low = max(minimum, multiple)
    low = int(math.ceil(low / multiple) * multiple)
    return max(low, int(round(value / multiple)) * multiple)


def round_width(value: float, multiple: int, *, minimum: int = 1, allowed: Callable[[int], bool] | None = None) -> int:
    """:func:`round_to_multiple` restricted to the widths ``allowed`` accepts (None: all): the nearest
    such multiple of ``multiple`` that is >= max(minimum, multiple); a tie goes to the narrower one.
    Falls back to the plain rounding when no multiple up to :data:`MAX_WIDTH` is allowed."""
    base = round_to_multiple(value, multiple, minimum=minimum)
    if allowed is None or allowed(base):
        return base
    low = int(math.ceil(max(minimum, multiple) / multiple) * multiple)
    below = base - multiple
    above = base + multiple
    while below >= low or above <= MAX_WIDTH:
        down = below if below >= low and allowed(below) else None
        up = above if above <= MAX_WIDTH and allowed(above) else None
        if down is not None and (up is None or value - down <= up - value):
            return down
        if up is not None:
            return up
        below, above = below - multiple, above + multiple
    return base
