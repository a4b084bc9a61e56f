"""Random VALID ArchSpecs of every family: a hypothesis strategy and a seeded plain-random generator.

One generator, :func:`random_spec`, draws through a tiny chooser protocol (``integer(lo, hi)``,
``choice(options)``), so the same code serves hypothesis (:func:`specs`, which shrinks well) and
reproducible scripts (:func:`seeded_specs`, used by ``benchmarks/bench_cost.py``).

Coverage: every registered family (asked for its rules: group sizes, sharing, tied widths, block
forms such as mgic's ``vcycle`` and dacnn's ``anchored``; mobilenet's kernel / se / act per block), dense and MGIC stages (group sizes 2..16), sharing runs of every
length, stride 1/2 (also on stage 0), widening, narrowing (projection shortcuts) and equal-width
stages, in_channels 1/3, input sizes 28/32, dropout on/off, 1-3 stages of 1-3 blocks.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterator, Protocol, Sequence

from hypothesis import strategies as st

from mgsearch.families import family_names, get_family
from mgsearch.spec import ArchSpec, Block, Head, Stage, Stem

__all__ = ["random_spec", "specs", "seeded_specs", "RandomChooser"]

GROUP_SIZES = (2, 4, 8, 16)


class Chooser(Protocol):
    def integer(self, low: int, high: int) -> int: ...  # inclusive bounds
    def choice(self, options: Sequence[Any]) -> Any: ...


class RandomChooser:
    """Chooser over a seeded :class:`random.Random`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def choice(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]


class _DrawChooser:
    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]) -> None:
        self.draw = draw

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def choice(self, options: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(options)))


def _width(c: Chooser, multiple: int, max_width: int) -> int:
    return multiple * c.integer(1, max(1, max_width // multiple))


def _block(c: Chooser, fam: Any, inner: int) -> Block:
    """A block of width ``inner``; with random ``kernel`` / ``se`` / ``act`` where the family has them."""
    if not fam.allows_block_options:
        return Block(inner=inner)
    return Block(inner=inner, kernel=c.choice((3, 5, 7)), se=c.choice((False, True)),
                 act=c.choice(("relu", "hswish")))


def random_spec(
    c: Chooser, family: str | None = None, *, max_width: int = 48, max_stages: int = 3, max_depth: int = 3
) -> ArchSpec:
    """One random valid spec (widths <= ``max_width`` unless a group size forces more)."""
    name = family or c.choice(family_names())
    fam = get_family(name)
    tied = fam.knobs.stem_is_first_inner  # stage 0's inner is the stem width
    n_stages = c.integer(1, max_stages)
    stages: list[Stage] = []
    stem_width = 0
    for i in range(n_stages):
        s = c.choice((None,) + GROUP_SIZES) if fam.allows_group_size else None
        m = s or 1
        depth = c.integer(1, max_depth)
        share = c.integer(1, depth) if fam.allows_sharing else 1
        stride = c.choice((1, 1, 2)) if i == 0 else c.choice((1, 2, 2))
        width = _width(c, m, max_width)
        # vcycle needs a group size; anchored (dacnn) has none
        forms = [f for f in sorted(fam.block_forms) if (f in ("anchored", "poly", "plain", "plain_reg")) == (s is None)]
        plain = [] if s is not None and not fam.conv_allows_group_size else ["conv"]
        if not plain and not forms:  # mobilenet without group-size forms: a plain stage
            s, m, width = None, 1, _width(c, 1, max_width)
        form = c.choice([*plain, *forms]) if forms else "conv"
        if form == "anchored":  # one kernel per stage: every block has the stage width, share 1
            stages.append(Stage(width=width, blocks=tuple(Block(inner=width) for _ in range(depth)),
                                stride=stride, block=form))
            continue
        if form in ("plain", "plain_reg"):  # plain DACNN keeps its input width (the stem's on stage 0)
            if i == 0:
                stem_width = width
            else:
                width = stages[-1].width
            stages.append(Stage(width=width, blocks=tuple(Block(inner=width) for _ in range(depth)),
                                stride=stride, block=form))
            continue
        if form == "poly":  # Poly-MgNet level: f and u one width (level 0: the stem's), share 1
            if i == 0:
                stem_width = width
            stages.append(Stage(width=width, blocks=tuple(Block(inner=width) for _ in range(depth)),
                                stride=stride, block=form))
            continue
        if form == "vcycle" and not fam.block_forms[form].ties_inner_to_width:  # mobilenet's: free inners
            coarse = c.choice((2, 4, 8, 16, 32))
            allowed = [w for w in range(2, max(max_width, 2 * s) + 1, 2)
                       if fam.block_forms[form].width_allowed(w, s, coarse)]
            width = c.choice(allowed)
            blocks = tuple(_block(c, fam, c.integer(width, 3 * width)) for _ in range(depth))
            stages.append(Stage(width=width, blocks=blocks, stride=stride, group_size=s, block=form,
                                coarse_width=coarse))
            continue
        if form.startswith("vcycle"):  # widths s * 2^k keep every channel level valid; no inner, no sharing
            width, share, coarse = s * 2 ** c.integer(0, 2), 1, c.choice((2, 4, 8, 16))
            stages.append(Stage(width=width, blocks=tuple(Block(inner=width) for _ in range(depth)),
                                stride=stride, group_size=s, block=form, coarse_width=coarse))
            continue
        if tied and i == 0:
            stem_width = _width(c, m, max_width)
            inners = [stem_width] * depth
        elif not fam.knobs.per_layer_inner:
            inners = [_width(c, m, max_width)] * depth
        else:
            inners = []
            for j in range(depth):
                inners.append(inners[-1] if j % share else _width(c, m, max_width))
        stages.append(Stage(width=width, blocks=tuple(_block(c, fam, w) for w in inners), stride=stride,
                            group_size=s, share=share))
    if not tied and not (stages[0].block in ("plain", "plain_reg")):
        stem_width = c.integer(1, max_width)
    return ArchSpec(
        family=name, stem=Stem(width=stem_width), stages=tuple(stages),
        in_channels=c.choice((1, 3)), num_classes=c.integer(2, 12), input_size=c.choice((28, 32)),
        head=Head(dropout=c.choice((0.0, 0.0, 0.25))),
    )


def specs(family: str | None = None, **kwargs: Any) -> st.SearchStrategy[ArchSpec]:
    """Hypothesis strategy of random valid specs (all families unless ``family`` is given)."""

    @st.composite
    def _specs(draw: Callable[[st.SearchStrategy[Any]], Any]) -> ArchSpec:
        return random_spec(_DrawChooser(draw), family, **kwargs)

    return _specs()


def seeded_specs(n: int, seed: int = 0, family: str | None = None, **kwargs: Any) -> Iterator[ArchSpec]:
    """``n`` reproducible random specs (registered families in turn unless ``family`` is given)."""
    chooser = RandomChooser(random.Random(seed))
    names = family_names()
    for k in range(n):
        yield random_spec(chooser, family or names[k % len(names)], **kwargs)
