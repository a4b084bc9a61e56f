"""Scale a spec onto a budget: THE uniform width scaling, with one rounding rule.

Every place that puts a network "at the budget" by scaling its widths uniformly uses
:func:`scale_to_budget`: ``fill_budget = true`` in a search (every candidate scaled up or down onto the
budget and filled, :func:`mgsearch.search.budget.fit_to_budget`), ``repair = true`` (an over-budget
candidate scaled down), the
uniform baselines (the space's reference network scaled to a fraction of the budget) and the
LW-DNA strategy (the uniform base of a structure at the budget, before widening).

The rule (:func:`scale_widths`): every width slot of the spec (:func:`mgsearch.spec.width_slots`,
so ties in residual streams, sharing runs and MgNet f-widths move together) becomes
``profile[i] * factor`` rounded to the *nearest* multiple of the slot's step (its ``multiple_of``,
the stage's group size) that the slot accepts (a block form's extra rule, :attr:`WidthSlot.allowed`:
e.g. a vcycle stage's channel levels), and never below ``min(MIN_WIDTH, the slot's own width)`` nor
below one step. ``profile`` defaults to the spec's own widths (a uniform scaling of the spec); the baselines
pass the classic 1/2/4 stage profile, and steps that round the stem with its stage (so the uniform
network's stem equals its first stage's width).
The factor is found by bisection on a budget check (usually of the analytic cost).

Filling (:func:`fill_slots`, ``scale_to_budget(..., use=...)``): a uniform factor moves every slot by
whole steps at once, so where the steps are coarse (MGIC widths move by the group size) the widest
uniform scaling can stop far below the budget (a 3-stage network of widths ``8k/16k/32k`` gains
``((k+1)/k)^2`` per step). The last steps are then taken slot by slot: greedily, the one-step widening
of a single slot (to its next width under the same rule: its step, ``allowed``) that gives the highest
budget use and still fits, until the use reaches :data:`FILL_TARGET` of the binding limit or no
single widening fits; when none does, a wider jump of one slot and then a widening paired with one
step down of another slot are tried (:func:`fill_slots`).

This module is pure Python (no torch, no optuna); search, strategies and shrink may all import it.
"""

from __future__ import annotations

from typing import Callable, Sequence

from mgsearch.spec import MAX_WIDTH, ArchSpec, WidthSlot, width_slots

__all__ = ["MIN_WIDTH", "FILL_TARGET", "scale_widths", "narrowest", "scale_to_budget", "fill_slots", "next_width", "next_widths",
           "previous_width",
           "BISECTION_STEPS"]

#: the smallest width scaling gives a slot (or the slot's own width, when that is smaller)
MIN_WIDTH = 4
#: bisection steps on the width factor (after the bracket is found): 2^-20 of the bracket
BISECTION_STEPS = 20
#: the budget use a filled network reaches where the widths' steps allow (of the binding limit)
FILL_TARGET = 0.97
#: how many next widths of a slot the fill tries (a wider width can cost less: an MGIC conv whose
#: width halves more often has more coarse levels)
FILL_LOOKAHEAD = 4
#: a factor this small rounds every slot to its minimum
_TINY = 1e-6


def scale_widths(
    spec: ArchSpec,
    factor: float,
    *,
    profile: Sequence[float] | None = None,
    steps: Sequence[int] | None = None,
    min_width: int = MIN_WIDTH,
) -> ArchSpec:
    """``spec`` with width slot ``i`` set to ``profile[i] * factor`` under the rounding rule above.

    ``profile`` (one number per width slot, default the slot widths themselves) sets the relative
    widths; ``factor`` scales them; ``steps`` (one per slot, each a multiple of the slot's
    ``multiple_of``; default the ``multiple_of``) is what each slot is rounded to. The result is a
    valid spec with the same depth, group sizes and sharing.
    """
    slots = width_slots(spec)
    weights = [s.value for s in slots] if profile is None else list(profile)
    grid = [s.multiple_of for s in slots] if steps is None else list(steps)
    if len(weights) != len(slots) or len(grid) != len(slots):
        raise ValueError(f"profile / steps need one entry for each of the {len(slots)} width slots")
    for step, s in zip(grid, slots):
        if step < 1 or step % s.multiple_of:
            raise ValueError(f"step {step} of width slot {s.name} is not a multiple of its multiple_of={s.multiple_of}")
    values = [
        s.round(w * factor, step=step, minimum=min(s.value, min_width))
        for w, step, s in zip(weights, grid, slots)
    ]
    return spec.with_slot_values(values)


def narrowest(
    spec: ArchSpec,
    *,
    profile: Sequence[float] | None = None,
    steps: Sequence[int] | None = None,
    min_width: int = MIN_WIDTH,
) -> ArchSpec:
    """The narrowest network the scaling can give: every slot at its minimum width."""
    return scale_widths(spec, _TINY, profile=profile, steps=steps, min_width=min_width)


def _grid(spec: ArchSpec, steps: Sequence[int] | None) -> list[int]:
    slots = width_slots(spec)
    return [s.multiple_of for s in slots] if steps is None else list(steps)


def next_widths(slot: WidthSlot, step: int | None = None, count: int = 1) -> list[int]:
    """The next ``count`` widths above ``slot.value`` under the rounding rule: multiples of ``step``
    (default ``slot.multiple_of``) that the slot accepts, up to :data:`~mgsearch.spec.MAX_WIDTH`."""
    step = step or slot.multiple_of
    width = (slot.value // step + 1) * step
    out: list[int] = []
    while width <= MAX_WIDTH and len(out) < count:
        if slot.accepts(width):
            out.append(width)
        width += step
    return out


def next_width(slot: WidthSlot, step: int | None = None) -> int | None:
    """The next width above ``slot.value`` under the rounding rule (:func:`next_widths`); None past
    :data:`~mgsearch.spec.MAX_WIDTH`."""
    wider = next_widths(slot, step)
    return wider[0] if wider else None


def previous_width(slot: WidthSlot, step: int | None = None, *, min_width: int = MIN_WIDTH) -> int | None:
    """The next width below ``slot.value`` under the rounding rule (a multiple of ``step`` the slot
    accepts, at least ``max(step, min_width)``); None when the slot is already at its minimum."""
    step = step or slot.multiple_of
    width = ((slot.value - 1) // step) * step
    while width >= max(step, min_width):
        if slot.accepts(width):
            return width
        width -= step
    return None


def fill_slots(
    spec: ArchSpec,
    fits: Callable[[ArchSpec], bool],
    use: Callable[[ArchSpec], float],
    *,
    steps: Sequence[int] | None = None,
    target: float = FILL_TARGET,
    min_width: int = MIN_WIDTH,
) -> ArchSpec:
    """Widen ``spec`` slot by slot towards the budget (greedy; see the module docstring).

    ``use(spec)``: the share of the binding limit the spec uses (1.0 = at the limit); ``fits`` the
    budget check; ``steps``: each slot's step (default its ``multiple_of``). While ``use < target``,
    every slot's next width (:func:`next_width`) is tried alone and the widening with the highest use
    that still fits is taken; where none fits, the widths after it, up to :data:`FILL_LOOKAHEAD` (an
    MGIC conv's cost is not monotone in its width), and then a one-step widening paired with one
    step down of another slot (:func:`previous_width`, never below ``min_width``) are tried the same
    way. Returns the spec when the target is reached or no move raises the use.
    """
    grid = _grid(spec, steps)
    current = use(spec)
    while current < target:
        slots = width_slots(spec)
        values = [s.value for s in slots]
        up = [next_widths(s, g, FILL_LOOKAHEAD) for s, g in zip(slots, grid)]
        down = [previous_width(s, g, min_width=min_width) for s, g in zip(slots, grid)]
        best = _best_move(spec, values, [{i: ws[0]} for i, ws in enumerate(up) if ws], fits, use, current)
        if best is None:  # no one-step widening fits: a wider width may cost less (MGIC levels)
            best = _best_move(spec, values, [{i: w} for i, ws in enumerate(up) for w in ws[1:]], fits, use, current)
        if best is None:  # no single widening fits: trade one step of another slot for it
            pairs = [{i: ws[0], j: v} for i, ws in enumerate(up) if ws
                     for j, v in enumerate(down) if v is not None and j != i]
            best = _best_move(spec, values, pairs, fits, use, current)
        if best is None:
            return spec
        current, spec = best
    return spec


def _best_move(spec: ArchSpec, values: list[int], moves: list[dict[int, int]], fits: Callable[[ArchSpec], bool],
               use: Callable[[ArchSpec], float], current: float) -> tuple[float, ArchSpec] | None:
    """The move (slot index -> new width) whose spec fits with the highest use above ``current``."""
    best: tuple[float, ArchSpec] | None = None
    for move in moves:
        candidate = spec.with_slot_values([move.get(i, v) for i, v in enumerate(values)])
        if not fits(candidate):
            continue
        u = use(candidate)
        if u > current and (best is None or u > best[0]):
            best = (u, candidate)
    return best


def scale_to_budget(
    spec: ArchSpec,
    fits: Callable[[ArchSpec], bool],
    *,
    profile: Sequence[float] | None = None,
    steps: Sequence[int] | None = None,
    grow: bool = False,
    min_width: int = MIN_WIDTH,
    use: Callable[[ArchSpec], float] | None = None,
    target: float = FILL_TARGET,
) -> ArchSpec | None:
    """The widest uniform scaling of ``spec`` (see :func:`scale_widths`: ``profile``, ``steps``) that ``fits``.

    ``fits(spec) -> bool`` is the budget check, usually on the analytic cost (the search passes its
    budget's, the strategies their context's :attr:`~mgsearch.strategies.StrategyContext.fits`). Without
    ``grow`` the factor is searched in (0, 1] (scaling down only: ``spec`` itself is returned when
    it fits); with ``grow`` it may exceed 1 (doubling until the cost no longer fits or a width would
    pass :data:`~mgsearch.spec.MAX_WIDTH`), so a narrow spec is scaled *up* onto the budget.
    With ``use`` (the share of the binding limit a spec uses) the result is then filled slot by slot
    up to ``target`` (:func:`fill_slots`) where the uniform steps stop short of it.
    Returns None when even :func:`narrowest` does not fit.
    """
    best = _uniform_fit(spec, fits, profile=profile, steps=steps, grow=grow, min_width=min_width)
    if best is None or use is None:
        return best
    return fill_slots(best, fits, use, steps=steps, target=target, min_width=min_width)


def _uniform_fit(
    spec: ArchSpec,
    fits: Callable[[ArchSpec], bool],
    *,
    profile: Sequence[float] | None,
    steps: Sequence[int] | None,
    grow: bool,
    min_width: int,
) -> ArchSpec | None:
    """:func:`scale_to_budget` without the fill: the bisection on the uniform factor."""
    def at(factor: float) -> ArchSpec:
        return scale_widths(spec, factor, profile=profile, steps=steps, min_width=min_width)

    def ok(candidate: ArchSpec) -> bool:
        return bool(fits(candidate))

    lo, hi = 0.0, 1.0
    full = at(1.0)
    if ok(full):
        if not grow:
            return full
        lo, best = 1.0, full
        while True:
            wider = at(hi * 2)
            if max(s.value for s in width_slots(wider)) > MAX_WIDTH or not ok(wider):
                hi *= 2
                break
            lo, hi, best = hi * 2, hi * 2, wider
            if hi >= MAX_WIDTH:
                return best
    else:
        best = narrowest(spec, profile=profile, steps=steps, min_width=min_width)
        if not ok(best):
            return None
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        candidate = at(mid)
        if ok(candidate):
            lo, best = mid, candidate
        else:
            hi = mid
    return best
