"""Chooser wrappers the strategies use to fix some knobs of a search space themselves.

:class:`MacroChooser` forwards the *structural* knobs (depths, group sizes, sharing, dropout) to the
sampler and answers every width knob with the middle of its domain (LW-DNA sets the widths);
:class:`MiddleChooser` answers every knob itself: the space's "middle" network (the reference of
the uniform baselines).
"""

from __future__ import annotations

from typing import Any, Sequence

from mgsearch.space.choosers import is_width_knob  # the one rule of width knob names

__all__ = ["MacroChooser", "MiddleChooser", "midpoint", "is_width_knob"]


def midpoint(low: int, high: int, step: int = 1) -> int:
    """The middle value of ``low, low + step, ..., high`` (the lower one of two middles)."""
    return low + ((high - low) // step // 2) * step


class MacroChooser:
    """Forwards structural knobs to ``chooser``; answers width knobs with their domain midpoint."""

    def __init__(self, chooser: Any) -> None:
        self.chooser = chooser

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        if is_width_knob(name):
            return midpoint(low, high, step)
        return self.chooser.int(name, low, high, step)

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self.chooser.categorical(name, choices)

    def float(self, name: str, low: float, high: float) -> float:
        if name == "width_multiplier":  # the widths are rescaled to the budget anyway
            return low
        return self.chooser.float(name, low, high)


class MiddleChooser:
    """Middle depths and widths, no sharing where possible, first group size, multiplier 1 when allowed."""

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        return midpoint(low, high, step)

    def float(self, name: str, low: float, high: float) -> float:
        if name == "width_multiplier":
            return 1.0 if low <= 1.0 <= high else (low + high) / 2
        return low  # dropout: the least

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if name.endswith(".share"):
            return 1 if 1 in choices else min((c for c in choices if c != "all"), default=choices[0])
        return choices[0]
