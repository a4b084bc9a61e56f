"""Channel arithmetic shared by families and presets (pure Python): MobileNet's channel rounding and the
MGIC authors' channel levels."""

from __future__ import annotations

__all__ = ["make_divisible", "halving_levels"]


def make_divisible(value: float, divisor: int = 8) -> int:
    """TF-slim's ``_make_divisible`` (MobileNetV2/V3 and the MGIC authors' ``mobilenetv3_MG.py``): the
    nearest multiple of ``divisor`` that is >= ``divisor``, raised by one ``divisor`` when it would be
    more than 10 % below ``value``."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


def halving_levels(width: int, coarse_width: int) -> list[int]:
    """``[c_0, ..., c_L]``: the channel levels of the MGIC authors' V-cycles (``resnetMG.py``,
    ``mobilenetv3_MG.py``): halve while the half is ``>= coarse_width`` (their ``mgFcChannel``); the first
    half below it is the coarsest level. Always at least two levels (their blocks restrict once)."""
    levels = [width]
    while True:
        levels.append(levels[-1] // 2)
        if levels[-1] < coarse_width:
            return levels
