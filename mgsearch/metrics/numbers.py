"""Counts and limits as text: ``"50k"`` -> 50000, 12_345 -> ``"12.3k"``, 1e13 -> ``"1e13"``.

Pure functions shared by the metrics, the study-file reader and the CLI (nothing heavy imported).
"""

from __future__ import annotations

import math

__all__ = ["parse_count_text", "human_count", "exact_count", "short_float", "finite_float"]

_SCALES = {"k": 10**3, "m": 10**6, "g": 10**9}


def parse_count_text(text: str) -> int | None:
    """``"50k"`` -> 50000, ``"1.5M"`` -> 1500000, ``"2e6"`` / ``"50_000"`` / ``"50,000"`` -> the integer;
    None when ``text`` is not a finite count (the sign is kept: callers check the range)."""
    t = str(text).strip().lower().replace("_", "").replace(",", "")
    scale = 1
    if t and t[-1] in _SCALES:
        scale = _SCALES[t[-1]]
        t = t[:-1]
    try:
        value = float(t) * scale
    except ValueError:
        return None
    return int(round(value)) if math.isfinite(value) else None


def human_count(n: float) -> str:
    """12_345 -> ``'12.3k'``, 4_100_000 -> ``'4.1M'``, 999 -> ``'999'``."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(int(n))


def exact_count(n: float) -> str:
    """12345 -> ``'12,345'``; a fractional value keeps 3 significant digits (``'2.5'``)."""
    return f"{n:,.0f}" if float(n).is_integer() else f"{n:,.3g}"


def short_float(x: float) -> str:
    """``1e13`` -> ``'1e13'``, ``3.6e6`` -> ``'3.6e6'``, ``250`` -> ``'250'`` (for rules in messages)."""
    return f"{x:g}".replace("e+0", "e").replace("e+", "e")


def finite_float(v: object) -> float | None:
    """``v`` as a finite float; None for None, a bool, a non-number or NaN / inf (stored values)."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
