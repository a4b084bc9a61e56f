"""SearchSpace: a validated space file and THE mapping from knob values to an ArchSpec."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any, Iterator, Sequence

from mgsearch.inputs import parse_toml, read_input_file
from mgsearch.space.choosers import Chooser, RandomChooser
from mgsearch.space.format import FloatKnob, IntRange, ParsedSpace, StageSpace, block_form_widths, parse_space
from mgsearch.families.registry import get_family
from mgsearch.spec import DENSE, MAX_WIDTH, ArchSpec, Block, Head, Stage, Stem, round_width

__all__ = ["SearchSpace"]

#: above this many group-size combinations, min_spec / max_spec use coordinate search
_MAX_COMBOS = 512


def _tag(g: int | None) -> str:
    """The knob-name suffix of a group-size choice: ``s8``, ``dense`` (stored in studies: never change it)."""
    return DENSE if g is None else f"s{g}"


def _scale(value: int, mult: float, multiple: int) -> int:
    """``value * mult`` rounded to the nearest multiple of ``multiple`` (at least ``multiple``)."""
    if mult == 1.0:
        return value
    m = max(1, multiple)
    scaled = max(m, int(round(value * mult / m)) * m)
    return min(scaled, MAX_WIDTH // m * m)


def _suffix(st: StageSpace, g: int | None, block: str, cw: int | None) -> str:
    """The width knobs' suffix: the group size when the stage offers several, and the block form
    (with its coarse width when several) for a block-form stage, e.g. ``@s16.vcycle-cw32``,
    ``@anchored``."""
    parts = [_tag(g)] if len(st.group_sizes) > 1 else []
    if block != "conv":
        parts.append(block + (f"-cw{cw}" if len(st.form_coarse_choices(block, g)) > 1 else ""))
    return "@" + ".".join(parts) if parts else ""


def _coarse_name(st: StageSpace, i: int, g: int | None) -> str:
    return f"s{i}.coarse_width" + (f"@{_tag(g)}" if len(st.group_sizes) > 1 else "")


def _expand(expansion: float, c_in: int, multiple: int) -> int:
    """``expansion x c_in`` rounded to the nearest multiple of ``multiple`` (at least ``multiple``)."""
    m = max(1, multiple)
    return min(max(m, int(round(expansion * c_in / m)) * m), MAX_WIDTH // m * m)


def _round_up_to(value: int, multiple: int, accepts: Any) -> int:
    """The smallest multiple of ``multiple`` that is >= ``value`` and ``accepts``."""
    w = value
    while not accepts(w) and w + multiple <= MAX_WIDTH:
        w += multiple
    return w


def _runs(depth: int, share: int) -> list[range]:
    return [range(i, min(i + share, depth)) for i in range(0, depth, share)]


class SearchSpace:
    """A search space of one family: ranges and choices for every knob, read from a TOML file.

    :meth:`to_spec` is the one function from knob values to an :class:`~mgsearch.spec.ArchSpec`;
    random sampling (:meth:`sample`) and the Optuna search both go through it. Knob names are
    stable strings (see :meth:`knob_names`):

    * ``width_multiplier``, ``head.dropout``: global floats (when the file makes them variable);
    * ``s{i}.group_size``, ``s{i}.share``, ``s{i}.depth``: stage ``i``'s structure;
    * ``stem.width``, ``s{i}.width``, ``s{i}.inner`` (one inner per stage, or per level in MgNet
      families) or ``s{i}.b{j}.inner`` (``per_layer``: one per sharing run, ``j`` = the run's first
      block). When a stage offers several group sizes, its width knobs carry the choice as a suffix
      (``s1.width@s8``, ``s1.width@dense``): each name has one fixed domain, the widths of the range
      that are multiples of that group size, so every drawn spec is valid;
    * ``s{i}.block`` (``"conv"`` or a block form of the family, e.g. ``"vcycle"``, ``"anchored"``;
      asked whenever the stage's group size leaves more than one: each form says whether it needs
      or allows a group size) and ``s{i}.coarse_width`` (forms that use one, e.g. vcycle; ``@s{g}``
      when several group sizes). A block-form stage has its own width knob ``s{i}.width@vcycle``
      (``@s16.vcycle``, ``@vcycle-cw32``, ``@anchored``...) whose domain holds only the widths the form
      accepts (its ``width_allowed`` rule, if any); a form with ``ties_inner_to_width`` has no inner
      knobs (its blocks' inner is the width), one with ``forces_share_one`` no share knob.

    A knob whose domain holds a single value is not asked. The chosen width is multiplied by the
    width multiplier and rounded to the stage's group size.
    """

    def __init__(self, parsed: ParsedSpace) -> None:
        self._p = parsed

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path: str | Path) -> "SearchSpace":
        """Read and validate a TOML space file; every mistake is a one-line ConfigError."""
        source = str(path)
        text = read_input_file(path, missing="no such search-space file", expected="a search-space .toml file")
        data = parse_toml(text, source)
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<search space>") -> "SearchSpace":
        """Validate the data of a space file (as TOML would parse it); errors name ``source``."""
        return cls(parse_space(data, source))

    def to_dict(self) -> dict[str, Any]:
        """The normalised file content: ``from_dict(space.to_dict())`` gives an equal space."""
        p = self._p
        out: dict[str, Any] = {
            "family": p.family,
            "in_channels": p.in_channels,
            "num_classes": p.num_classes,
            "input_size": p.input_size,
            "width_multiplier": p.width_multiplier.to_data(),
            "dropout": p.dropout.to_data(),
            "stem": {"width": p.stem.to_data()},
            "stages": [st.to_data() for st in p.stages],
        }
        if p.description:
            out["description"] = p.description
        return out

    def with_overrides(
        self, *, in_channels: int | None = None, num_classes: int | None = None, input_size: int | None = None
    ) -> "SearchSpace":
        """A copy whose input / output shape comes from a dataset (None keeps the file's value)."""
        changes = {
            k: v for k, v in (("in_channels", in_channels), ("num_classes", num_classes), ("input_size", input_size))
            if v is not None
        }
        data = {**self.to_dict(), **changes}
        return SearchSpace.from_dict(data, source=self._p.source)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SearchSpace(family={self.family!r}, stages={len(self.stages)}, source={self.source!r})"

    # ------------------------------------------------------------------ attributes
    @property
    def source(self) -> str:
        """Where the space came from (the file path as given)."""
        return self._p.source

    @property
    def family(self) -> str:
        return self._p.family

    @property
    def description(self) -> str:
        return self._p.description

    @property
    def in_channels(self) -> int:
        return self._p.in_channels

    @property
    def num_classes(self) -> int:
        return self._p.num_classes

    @property
    def input_size(self) -> int:
        return self._p.input_size

    @property
    def stem(self) -> IntRange:
        return self._p.stem

    @property
    def stages(self) -> tuple[StageSpace, ...]:
        return self._p.stages

    @property
    def width_multiplier(self) -> FloatKnob:
        return self._p.width_multiplier

    # ------------------------------------------------------------------ THE mapping
    def to_spec(self, chooser: Chooser) -> ArchSpec:
        """Ask ``chooser`` for every knob value and return the (always valid) ArchSpec."""
        p = self._p
        tied = get_family(p.family).knobs.stem_is_first_inner  # stage 0's inner is the stem width
        mult = self._float(chooser, "width_multiplier", p.width_multiplier)
        dropout = self._float(chooser, "head.dropout", p.dropout)
        structure: list[tuple[int | None, int, int, str, int | None]] = []
        options: list[tuple[dict[str, Any], float | None]] = []  # per stage: block options, expansion
        for i, st in enumerate(p.stages):
            g = st.group_sizes[0] if len(st.group_sizes) == 1 else chooser.categorical(
                f"s{i}.group_size", list(st.group_sizes)
            )
            blocks = st.block_choices(g)
            block = blocks[0] if len(blocks) == 1 else str(chooser.categorical(f"s{i}.block", list(blocks)))
            form = st.form(block)
            cws = st.form_coarse_choices(block, g)
            cw = cws[0] if len(cws) == 1 else int(chooser.categorical(_coarse_name(st, i, g), list(cws)))
            share_one = form is not None and form.forces_share_one
            share_choice = st.shares[0] if len(st.shares) == 1 or share_one else chooser.categorical(
                f"s{i}.share", list(st.shares)
            )
            depth = self._int(chooser, f"s{i}.depth", st.depth.min, st.depth.max, st.depth.step)
            share = 1 if share_one else depth if share_choice == "all" else min(int(share_choice), depth)
            structure.append((g, share, depth, block, cw))
            options.append(self._options(chooser, i, st))

        g0 = structure[0][0]
        stem_multiple = (g0 or 1) if tied else 1
        stem_name = "stem.width" + (f"@{_tag(g0)}" if tied and len(p.stages[0].group_sizes) > 1 else "")
        stem_w = _scale(self._width(chooser, stem_name, p.stem, stem_multiple if tied else None), mult, stem_multiple)

        stages = []
        w_in = stem_w
        for i, (st, (g, share, depth, block, cw), (opts, expansion)) in enumerate(zip(p.stages, structure, options)):
            sfx = _suffix(st, g, block, cw)
            m = g or 1
            form = st.form(block)
            extra: dict[str, Any] = {} if form is None else {"block": block, "coarse_width": cw}
            if form is not None:  # a block form: one width knob over the widths it accepts
                width = self._choose(chooser, f"s{i}.width{sfx}", block_form_widths(form, st.width, g, cw))
                if mult != 1.0:
                    rule = getattr(form, "width_allowed", None)
                    width = round_width(width * mult, m, minimum=m,
                                        allowed=None if rule is None else
                                        lambda w, r=rule, g=g, c=cw: r(w, g, c))
                if form.ties_inner_to_width:  # inner = width: no inner knobs
                    stages.append(Stage(width=width, blocks=tuple(Block(inner=width) for _ in range(depth)),
                                        stride=st.stride, group_size=g, share=share, **extra))
                    w_in = width
                    continue
            else:
                width = _scale(self._width(chooser, f"s{i}.width{sfx}", st.width, g), mult, m)
            inners: list[int] = [0] * depth
            if tied and i == 0:
                inners = [stem_w] * depth
            elif expansion is not None:  # inner = expansion x the block's input width
                inners = [_expand(expansion, w_in if j == 0 else width, m) for j in range(depth)]
            elif st.per_layer:
                for run in _runs(depth, share):
                    v = _scale(self._width(chooser, f"s{i}.b{run.start}.inner{sfx}", st.inner, g), mult, m)
                    for j in run:
                        inners[j] = v
            else:
                v = _scale(self._width(chooser, f"s{i}.inner{sfx}", st.inner, g), mult, m)
                inners = [v] * depth
            inner_rule = getattr(form, "inner_allowed", None)
            if inner_rule is not None:  # e.g. mobilenet's vcycle: the coarsest level keeps an expanded channel
                inners = [_round_up_to(v, m, lambda w: inner_rule(w, width, g, cw)) for v in inners]
            stages.append(Stage(width=width, blocks=tuple(Block(inner=v, **opts) for v in inners), stride=st.stride,
                                group_size=g, share=share, **extra))
            w_in = width
        return ArchSpec(
            family=p.family, stem=Stem(width=stem_w), stages=tuple(stages), in_channels=p.in_channels,
            num_classes=p.num_classes, input_size=p.input_size, head=Head(dropout=dropout),
        )

    @staticmethod
    def _options(chooser: Chooser, i: int, st: StageSpace) -> tuple[dict[str, Any], float | None]:
        """The stage's block options (``kernel``, ``se``, ``act``: only those not at their default) and
        its expansion (None: inner widths are knobs); a knob is asked only when it has several choices."""
        opts: dict[str, Any] = {}
        for key, choices, default in (("kernel", st.kernels, 3), ("se", st.ses, False), ("act", st.acts, "relu")):
            value = choices[0] if len(choices) == 1 else chooser.categorical(f"s{i}.{key}", list(choices))
            if value != default:
                opts[key] = value
        exp = st.expansions
        expansion = None if exp is None else exp[0] if len(exp) == 1 else float(
            chooser.categorical(f"s{i}.expansion", list(exp)))
        return opts, expansion

    @staticmethod
    def _int(chooser: Chooser, name: str, low: int, high: int, step: int) -> int:
        return low if low == high else int(chooser.int(name, low, high, step))

    @staticmethod
    def _choose(chooser: Chooser, name: str, values: Sequence[int]) -> int:
        """One of ``values`` (ascending, non-empty): an int knob when they are evenly spaced, else categorical."""
        if len(values) == 1:
            return values[0]
        step = values[1] - values[0]
        if all(b - a == step for a, b in zip(values, values[1:])):
            return int(chooser.int(name, values[0], values[-1], step))
        return int(chooser.categorical(name, list(values)))

    @staticmethod
    def _float(chooser: Chooser, name: str, knob: FloatKnob) -> float:
        if knob.choices is not None:
            return float(chooser.categorical(name, list(knob.choices)))
        return knob.low if knob.fixed else float(chooser.float(name, knob.low, knob.high))

    def _width(self, chooser: Chooser, name: str, rng: IntRange | None, g: int | None) -> int:
        assert rng is not None
        dom = rng.domain(g)
        if dom is None:  # parse_space rules this out; a bug if reached
            raise AssertionError(f"no width of {name} is a multiple of {g}")
        return self._int(chooser, name, *dom)

    # ------------------------------------------------------------------ sampling and extremes
    def sample(self, n: int, seed: int | None = 0) -> list[ArchSpec]:
        """``n`` specs drawn uniformly knob by knob (reproducible for a given ``seed``)."""
        return [spec for spec, _ in self.sample_with_values(n, seed)]

    def sample_with_values(self, n: int, seed: int | None = 0) -> Iterator[tuple[ArchSpec, dict[str, Any]]]:
        """Like :meth:`sample`, lazily, with each spec's knob values (name -> value)."""
        rng = random.Random(seed)
        for _ in range(n):
            chooser = RandomChooser(rng)
            yield self.to_spec(chooser), chooser.values

    def knob_names(self) -> list[str]:
        """Every knob name :meth:`to_spec` may ask for, in asking order (some only for some depths)."""
        p = self._p
        names: list[str] = []
        if p.width_multiplier.choices is not None or not p.width_multiplier.fixed:
            names.append("width_multiplier")
        if p.dropout.choices is not None or not p.dropout.fixed:
            names.append("head.dropout")
        fam = get_family(p.family)
        for i, st in enumerate(p.stages):
            if len(st.group_sizes) > 1:
                names.append(f"s{i}.group_size")
            if any(len(st.block_choices(g)) > 1 for g in st.group_sizes):
                names.append(f"s{i}.block")
            for g in st.group_sizes:
                for b in st.block_choices(g):
                    name = _coarse_name(st, i, g)
                    if len(st.form_coarse_choices(b, g)) > 1 and name not in names:
                        names.append(name)
            if len(st.shares) > 1 and st.uses_share():
                names.append(f"s{i}.share")
            if not st.depth.fixed:
                names.append(f"s{i}.depth")
            for key, choices in (("kernel", st.kernels), ("se", st.ses), ("act", st.acts),
                                 ("expansion", st.expansions or ())):
                if len(choices) > 1:
                    names.append(f"s{i}.{key}")
        tied = get_family(p.family).knobs.stem_is_first_inner  # stage 0's inner is the stem width

        def widths(base: str, rng: IntRange | None, st: StageSpace, dense_only: bool) -> None:
            assert rng is not None
            for g in st.group_sizes:
                if base != "stem.width" and "conv" not in st.block_choices(g):
                    continue  # only block forms take this group size (mobilenet): they have their own knob
                dom = rng.domain(None if dense_only else g)
                name = base + (f"@{_tag(g)}" if len(st.group_sizes) > 1 else "")
                if dom is not None and dom[0] != dom[1] and name not in names:
                    names.append(name)

        if tied:
            widths("stem.width", p.stem, p.stages[0], False)
        else:
            if not p.stem.fixed:
                names.append("stem.width")
        for i, st in enumerate(p.stages):
            if "conv" in st.blocks:
                widths(f"s{i}.width", st.width, st, False)
            # (group size, suffix, share choices) of every block choice with inner widths of its own
            inner_uses: list[tuple[int | None, str, tuple[int | str, ...]]] = []
            if "conv" in st.blocks:
                inner_uses += [(g, f"@{_tag(g)}" if len(st.group_sizes) > 1 else "", st.shares)
                               for g in st.group_sizes if "conv" in st.block_choices(g)]
            for g in st.group_sizes:
                for b in st.block_choices(g):
                    form = st.form(b)
                    if form is None:
                        continue
                    for cw in st.form_coarse_choices(b, g):
                        sfx = _suffix(st, g, b, cw)
                        name = f"s{i}.width{sfx}"
                        if len(block_form_widths(form, st.width, g, cw)) > 1 and name not in names:
                            names.append(name)
                        if not form.ties_inner_to_width:
                            inner_uses.append((g, sfx, (1,) if form.forces_share_one else st.shares))
            if (tied and i == 0) or st.expansions is not None:
                continue  # stage 0's inner is the stem width / inner = expansion x input: no inner knobs

            def inner(name: str, g: int | None) -> None:
                assert st.inner is not None
                dom = st.inner.domain(g)
                if dom is not None and dom[0] != dom[1] and name not in names:
                    names.append(name)

            if st.per_layer:
                for j in range(st.depth.max):
                    for g, sfx, shares in inner_uses:
                        starts: set[int] = set()
                        for depth in range(st.depth.min, st.depth.max + 1, st.depth.step):
                            for sc in shares:
                                share = depth if sc == "all" else min(int(sc), depth)
                                starts.update(r.start for r in _runs(depth, share))
                        if j in starts:
                            inner(f"s{i}.b{j}.inner{sfx}", g)
            else:
                for g, sfx, _ in inner_uses:
                    inner(f"s{i}.inner{sfx}", g)
        return names

    def min_spec(self) -> ArchSpec:
        """The architecture of the space with the fewest params (ties: fewest MACs).

        Every depth and width at its minimum, the widest sharing and the smallest multiplier; the
        group size of every stage is the one that gives the fewest params (all combinations are
        costed when there are at most 512 of them, otherwise a coordinate search).
        """
        return self._extreme(largest=False)

    def max_spec(self) -> ArchSpec:
        """The architecture of the space with the most params (ties: most MACs); see :meth:`min_spec`."""
        return self._extreme(largest=True)

    def _extreme(self, *, largest: bool) -> ArchSpec:
        from mgsearch.cost import cost

        p = self._p

        def spec_for(gs: Sequence[tuple[int | None, str]]) -> ArchSpec:
            fixed = {f"s{i}.group_size": g for i, (g, _) in enumerate(gs)}
            fixed.update({f"s{i}.block": b for i, (_, b) in enumerate(gs)})
            return self.to_spec(_ExtremeChooser(largest=largest, fixed=fixed))

        def key(spec: ArchSpec) -> tuple[int, int]:
            c = cost(spec)
            return (c.params, c.macs) if largest else (-c.params, -c.macs)

        choices = [[(g, b) for g in st.group_sizes for b in st.block_choices(g)] for st in p.stages]
        n_combos = 1
        for c in choices:
            n_combos *= len(c)
        if n_combos <= _MAX_COMBOS:
            return max((spec_for(gs) for gs in itertools.product(*choices)), key=key)
        current = [c[0] for c in choices]
        best = spec_for(current)
        best_key = key(best)
        for _ in range(3):
            improved = False
            for i, options in enumerate(choices):
                for g in options:
                    trial = current[:i] + [g] + current[i + 1:]
                    spec = spec_for(trial)
                    k = key(spec)
                    if k > best_key:
                        best, best_key, current, improved = spec, k, trial, True
            if not improved:
                break
        return best


class _ExtremeChooser:
    """Every knob at the end of its domain that makes the network smallest (or largest)."""

    def __init__(self, *, largest: bool, fixed: dict[str, Any]) -> None:
        self.largest = largest
        self.fixed = fixed

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        return high if self.largest else low

    def float(self, name: str, low: float, high: float) -> float:
        return high if self.largest else low

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if name in self.fixed:
            return self.fixed[name]
        if name.endswith(".share"):
            # more sharing never adds params: the largest network shares least
            ranked = sorted(choices, key=lambda c: float("inf") if c == "all" else c)
            return ranked[0] if self.largest else ranked[-1]
        return max(choices) if self.largest else min(choices)
