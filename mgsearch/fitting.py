"""Scale a spec onto a budget: THE uniform width scaling, with one rounding rule.

Every place that puts a network "at the budget" by scaling its widths uniformly uses
:func:`scale_to_budget`: ``repair = true`` in a search (an over-budget candidate scaled down), the
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

This module is pure Python (no torch, no optuna); search, strategies and shrink may all import it.
"""

from __future__ import annotations

from typing import Callable, Sequence

from mgsearch.spec import MAX_WIDTH, ArchSpec, width_slots

__all__ = ["MIN_WIDTH", "scale_widths", "narrowest", "scale_to_budget", "BISECTION_STEPS"]

#: the smallest width scaling gives a slot (or the slot's own width, when that is smaller)
MIN_WIDTH = 4
#: bisection steps on the width factor (after the bracket is found): 2^-20 of the bracket
BISECTION_STEPS = 20
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


def scale_to_budget(
    spec: ArchSpec,
    fits: Callable[[ArchSpec], bool],
    *,
    profile: Sequence[float] | None = None,
    steps: Sequence[int] | None = None,
    grow: bool = False,
    min_width: int = MIN_WIDTH,
) -> ArchSpec | None:
    """The widest uniform scaling of ``spec`` (see :func:`scale_widths`: ``profile``, ``steps``) that ``fits``.

    ``fits(spec) -> bool`` is the budget check, usually on the analytic cost (the search passes its
    budget's, the strategies their context's :attr:`~mgsearch.strategies.StrategyContext.fits`). Without
    ``grow`` the factor is searched in (0, 1] (scaling down only: ``spec`` itself is returned when
    it fits); with ``grow`` it may exceed 1 (doubling until the cost no longer fits or a width would
    pass :data:`~mgsearch.spec.MAX_WIDTH`), so a narrow spec is scaled *up* onto the budget.
    Returns None when even :func:`narrowest` does not fit.
    """
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
