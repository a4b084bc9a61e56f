"""Metrics: registered :class:`Metric` objects (params, MACs, activations, val/test accuracy, latency).

A metric has one name used everywhere (trial attributes, objectives, report axes, budget keys
``max_<name>``, CLI flags ``--max-<name>``); everything that lists metrics asks the registry.
Importing this package imports neither torch nor optuna; the built-in metrics
(:mod:`.builtin`) are registered on the first lookup.

Layout: :mod:`.metric` (the protocol), :mod:`.registry` (register / look up), :mod:`.builtin` (the
built-in registrations), :mod:`.limits` (budget limits as data), :mod:`.numbers` (counts as text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.metrics.limits import budget_keys, resolve_limits
from mgsearch.metrics.metric import ANALYTIC, MAXIMIZE, MEASURED, MINIMIZE, Metric
from mgsearch.metrics.registry import (
    budget_metrics,
    find_metric,
    get_metric,
    metric_for_budget_key,
    metric_names,
    metrics,
    register_metric,
    unregister_metric,
)

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.cost import Cost
    from mgsearch.spec import ArchSpec

__all__ = [
    "Metric", "ANALYTIC", "MEASURED", "MAXIMIZE", "MINIMIZE",
    "register_metric", "unregister_metric", "get_metric", "find_metric", "metric_names", "metrics",
    "budget_metrics", "metric_for_budget_key", "budget_keys", "resolve_limits", "analytic_values",
]


def analytic_values(cost: "Cost", spec: "ArchSpec | None" = None) -> dict[str, float]:
    """``{name: value}`` of every registered analytic metric for one candidate (what a trial stores)."""
    return {m.name: m.value(cost, spec) for m in metrics("analytic")}
