"""Widening: scale every independent width of a spec by a factor (LW-DNA's first step)."""

from __future__ import annotations

import math

from mgsearch.errors import ConfigError, clip_repr
from mgsearch.spec import MAX_WIDTH, ArchSpec, width_slots

__all__ = ["widen", "widen_width"]


def widen_width(value: int, factor: float, multiple_of: int) -> int:
    """``value * factor`` rounded *up* to a multiple of ``multiple_of`` (and at least one multiple)."""
    scaled = value * factor
    # a hair of tolerance so that 16 * 1.5 = 24.000000000000004 does not round up to the next multiple
    steps = math.ceil(scaled / multiple_of - 1e-9)
    return max(multiple_of, steps * multiple_of)


def widen(spec: ArchSpec, factor: float) -> ArchSpec:
    """A copy of ``spec`` with every width slot multiplied by ``factor``.

    Widths are rounded up to the slot's ``multiple_of`` (the stage's MGIC group size), so a widened
    MGIC stage stays valid; ties (residual streams, sharing runs, MgNet f-widths) stay tied because
    the factor is applied per slot. ``factor`` must be a positive number (>= 1 widens, < 1 narrows).
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor <= 0:
        raise ConfigError(f"widen={clip_repr(factor)} must be a positive number (e.g. 2 for twice the widths)")
    if factor > MAX_WIDTH:
        raise ConfigError(f"widen={factor:g} makes every width above the maximum {MAX_WIDTH}")
    values = _widened_values(spec, float(factor))
    too_wide = max(values)
    if too_wide > MAX_WIDTH:
        raise ConfigError(f"widen={factor} makes a width of {too_wide}, above the maximum {MAX_WIDTH}")
    return spec.with_slot_values(values)


def _widened_values(spec: ArchSpec, factor: float) -> list[int]:
    """Each slot's ``value * factor`` rounded up: to the slot's multiple, or to the smallest width its
    block form's rule accepts (vcycle levels). A rule may depend on another slot's value (a mobilenet
    V-cycle block's expanded width must reach the coarsest of its stage's channel levels, and a wider
    stage has more levels), so the rules are re-read from the widened spec until the values settle."""
    original = width_slots(spec)
    slots = original
    values: list[int] = []
    for _ in range(4):
        settled = [widen_width(old.value, factor, slot.multiple_of) if slot.allowed is None
                   else slot.round_up(old.value * factor) for old, slot in zip(original, slots)]
        if settled == values:
            break
        values = settled
        slots = width_slots(spec.with_slot_values(values, check=False))
    return values
