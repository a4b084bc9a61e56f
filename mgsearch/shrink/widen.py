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
    values = [
        widen_width(slot.value, float(factor), slot.multiple_of) if slot.allowed is None
        else slot.round_up(slot.value * float(factor))  # a block form's rule (vcycle levels)
        for slot in width_slots(spec)
    ]
    too_wide = max(values)
    if too_wide > MAX_WIDTH:
        raise ConfigError(f"widen={factor} makes a width of {too_wide}, above the maximum {MAX_WIDTH}")
    return spec.with_slot_values(values)
