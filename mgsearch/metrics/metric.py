"""The :class:`Metric` protocol: one measurable property of a trial, under one name everywhere.

A metric's ``name`` is the key of its value in every trial's user attributes, an objective name in
study files (``objectives = ["val_acc", "params"]``), a report axis and, for a metric that can be
limited, the suffix of its budget key (``[budget] max_params``) and CLI flag (``--max-params``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from mgsearch.metrics.numbers import exact_count, finite_float, human_count, parse_count_text, short_float

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.cost import Cost
    from mgsearch.spec import ArchSpec

__all__ = ["Metric", "ANALYTIC", "MEASURED", "MAXIMIZE", "MINIMIZE"]

ANALYTIC, MEASURED = "analytic", "measured"
MAXIMIZE, MINIMIZE = "maximize", "minimize"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,40}")


@dataclass(frozen=True)
class Metric:
    """One metric (see the module docstring); register it with :func:`~mgsearch.metrics.register_metric`.

    * ``name``: the one name (lower case, digits, ``_``); ``direction``: ``"maximize"`` or ``"minimize"``;
      ``kind``: ``"analytic"`` (computed from the cost / spec without building or training: every trial
      stores it) or ``"measured"`` (val/test accuracy, latency: stored where measured).
    * ``label``: axis title (``"parameters"``); ``column``: table header (default: the name);
      ``unit``: the unit words after a value (``"params"``, ``"ms"``).
    * ``value(cost, spec) -> float``: analytic metrics only. ``spec`` may be None where only the cost is at
      hand (budget bisection): a metric that needs the spec must then be computable from ``cost.layers``.
    * ``integer``: values are counts (stored as ints, limits written like ``"50k"``); ``digits``: the format
      spec of a non-integer value in tables (``".4f"``).
    * ``budget``: the metric can be limited, under the budget key ``max_<name>`` (minimised metrics only);
      ``max_limit``: the largest limit that is not a typo.
    * ``objective``: may be a search objective (test accuracy may not: never tune on test);
      ``shown``: listed in reports and summaries even where a study neither limits nor optimises it.
    * ``aliases``: older names still read (never written).
    """

    name: str
    direction: str
    kind: str
    label: str
    unit: str = ""
    column: str = ""
    value: "Callable[[Cost, ArchSpec | None], float] | None" = None
    integer: bool = False
    digits: str = ".4g"
    budget: bool = False
    max_limit: float = 1e13
    objective: bool = True
    shown: bool = False
    aliases: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"a metric's name must match {_NAME.pattern}, not {self.name!r}")
        if self.direction not in (MAXIMIZE, MINIMIZE):
            raise ValueError(f"metric {self.name!r}: direction must be {MAXIMIZE!r} or {MINIMIZE!r}, not {self.direction!r}")
        if self.kind not in (ANALYTIC, MEASURED):
            raise ValueError(f"metric {self.name!r}: kind must be {ANALYTIC!r} or {MEASURED!r}, not {self.kind!r}")
        if (self.kind == ANALYTIC) != callable(self.value):
            raise ValueError(f"metric {self.name!r}: an analytic metric needs value(cost, spec); a measured one has none")
        if self.budget and self.direction != MINIMIZE:
            raise ValueError(f"metric {self.name!r}: only a minimised metric can have a budget limit")

    # ------------------------------------------------------------------ names
    @property
    def budget_key(self) -> str | None:
        """``max_<name>`` (the study-file key, stored budget key and ``best`` keyword), or None."""
        return f"max_{self.name}" if self.budget else None

    @property
    def flag(self) -> str | None:
        """The CLI flag of the budget key (``--max-latency-ms``), or None."""
        return None if self.budget_key is None else "--" + self.budget_key.replace("_", "-")

    @property
    def header(self) -> str:
        """The table header (``column``, else the name)."""
        return self.column or self.name

    # ------------------------------------------------------------------ limits
    @property
    def limit_rule(self) -> str:
        """What a budget limit of this metric may be (the end of a one-line error)."""
        if self.integer:
            return f"a positive count up to {short_float(self.max_limit)} (an integer or a string like '50k', '1.5M')"
        unit = f" of {self.unit}" if self.unit else ""
        return f"a positive number{unit} up to {short_float(self.max_limit)}"

    def parse_limit(self, v: Any) -> int | float | None:
        """A budget limit from a file or flag value (``"50k"`` for counts), or None when not allowed."""
        if isinstance(v, bool):
            return None
        if self.integer:
            if isinstance(v, str):
                v = parse_count_text(v)
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            return v if isinstance(v, int) and 0 < v <= self.max_limit else None
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                return None
        if not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            return None
        return float(v) if 0 < float(v) <= self.max_limit else None

    # ------------------------------------------------------------------ values as data and text
    def read(self, v: Any) -> int | float | None:
        """A stored value as a number (an int for counts); None for a missing or non-finite one."""
        f = finite_float(v)
        if f is None:
            return None
        return int(f) if self.integer else f

    def format(self, v: float) -> str:
        """Compact: ``12.3k`` for counts, else the value to ``digits`` (no unit)."""
        return human_count(v) if self.integer else format(v, self.digits)

    def cell(self, v: float) -> str:
        """Exact, for tables: ``12,345`` for counts, else the value to ``digits``."""
        return f"{v:,}" if self.integer else format(v, self.digits)

    def describe(self, v: float) -> str:
        """The value with its unit, for messages: ``12,345 params``, ``2.5 ms``."""
        text = exact_count(v) if self.integer else f"{v:.3g}"
        return f"{text} {self.unit}" if self.unit else text

    def format_limit(self, v: float) -> str:
        """A limit as the study file would show it: ``50,000``, ``2.5``."""
        return f"{int(v):,}" if self.integer else f"{v:g}"
