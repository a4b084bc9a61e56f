"""Helpers shared by the command modules: output formatting and common arguments."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Sequence

from mgsearch.metrics.numbers import human_count, parse_count_text

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.metrics import Metric

__all__ = [
    "print_json", "format_table", "human_count", "parse_count", "positive_int", "add_shape_overrides",
    "shape_overrides", "add_budget_flags", "parse_limit_flag", "budget_flag_values",
]


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, align: str | None = None) -> str:
    """A plain-text table; ``align`` holds one of 'l'/'r' per column (default: numbers right)."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if align is None:
        align = "".join(
            "r" if rows and all(isinstance(row[i], (int, float)) for row in rows) else "l" for i in range(len(headers))
        )
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, align)]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "-" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def parse_count(text: str) -> int:
    """'50k' -> 50000, '1.5M' -> 1500000, '2e6' -> 2000000; plain integers pass through."""
    from mgsearch.errors import ConfigError

    value = parse_count_text(text)
    if value is None:
        raise ConfigError(f"{text!r} is not a count (examples: 50000, 50k, 1.5M)")
    if value <= 0:
        raise ConfigError(f"{text!r} must be a positive count")
    return value


def add_budget_flags(group: Any, *, prefix: str = "") -> None:
    """One ``--max-<metric>`` flag per registered budget metric (``--max-params``, ``--max-macs``,
    ``--max-latency-ms``, ...), stored under the budget key as the text given (``args.max_params``)."""
    from mgsearch.metrics import MEASURED, budget_metrics

    for m in budget_metrics():
        example = ", e.g. 50k" if m.integer else ""
        measured = ", where measured" if m.kind == MEASURED else ""
        group.add_argument(m.flag, dest=m.budget_key, metavar="N" if m.integer else "X",
                           help=f"{prefix}limit on {m.label}{example}{measured}")


def parse_limit_flag(metric: "Metric", text: str) -> float:
    """The limit given to ``metric``'s flag (``'50k'`` for counts); a bad one is a one-line ConfigError."""
    from mgsearch.errors import ConfigError, clip_repr

    value: Any = parse_count(text) if metric.integer else text
    limit = metric.parse_limit(value)
    if limit is None:
        raise ConfigError(f"{metric.flag}={clip_repr(text)} is not allowed: {metric.limit_rule}")
    return limit


def budget_flag_values(args: argparse.Namespace) -> dict[str, float]:
    """``{metric name: limit}`` of the :func:`add_budget_flags` flags that were given."""
    from mgsearch.metrics import budget_metrics

    return {m.name: parse_limit_flag(m, text) for m in budget_metrics()
            if (text := getattr(args, m.budget_key, None)) is not None}


def positive_int(flag: str, text: str | int | None, *, default: int | None = None, minimum: int = 1) -> int | None:
    """Parse a command-line integer >= ``minimum`` (default 1); a bad value is a one-line
    ConfigError naming ``flag``."""
    from mgsearch.errors import ConfigError

    if text is None:
        return default
    kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ConfigError(f"{flag}={text!r} must be {kind}") from None
    if value < minimum:
        raise ConfigError(f"{flag}={value} must be >= {minimum}")
    return value


def add_shape_overrides(parser: Any) -> None:
    """Add ``--in-channels``, ``--num-classes``, ``--input-size`` (a dataset's input / output shape)."""
    parser.add_argument("--in-channels", metavar="N", help="input image channels (overrides the spec / space)")
    parser.add_argument("--num-classes", metavar="N", help="classifier outputs (overrides the spec / space)")
    parser.add_argument("--input-size", metavar="N", help="input side length in pixels (overrides the spec / space)")


def shape_overrides(args: Any) -> dict[str, int | None]:
    """The values of :func:`add_shape_overrides`'s flags, validated (None where not given)."""
    return {
        "in_channels": positive_int("--in-channels", getattr(args, "in_channels", None)),
        "num_classes": positive_int("--num-classes", getattr(args, "num_classes", None)),
        "input_size": positive_int("--input-size", getattr(args, "input_size", None)),
    }
