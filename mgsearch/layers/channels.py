"""MobileNet's channel rounding (pure Python): one rule for the presets and the inverted-residual family."""

from __future__ import annotations

__all__ = ["make_divisible"]


def make_divisible(value: float, divisor: int = 8) -> int:
    """TF-slim's ``_make_divisible`` (MobileNetV2/V3 and the MGIC authors' ``mobilenetv3_MG.py``): the
    nearest multiple of ``divisor`` that is >= ``divisor``, raised by one ``divisor`` when it would be
    more than 10 % below ``value``."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new
