"""Budget limits as data: ``{metric name: limit}`` from a mapping and/or ``max_<name>=`` keywords."""

from __future__ import annotations

from typing import Any, Mapping

from mgsearch.errors import ConfigError
from mgsearch.metrics.registry import budget_metrics, get_metric, metric_for_budget_key

__all__ = ["resolve_limits", "budget_keys"]


def budget_keys() -> tuple[str, ...]:
    """The budget keys of the registered metrics (``max_params``, ``max_macs``, ``max_latency_ms``, ...)."""
    return tuple(m.budget_key for m in budget_metrics() if m.budget_key)


def resolve_limits(under: Mapping[str, Any] | None = None, /, **max_keys: Any) -> dict[str, Any]:
    """``{metric name: limit}`` in the stored constraint order, from ``under`` (metric names or
    aliases -> limits) and budget-key keywords (``max_params=50_000``); None values are dropped.

    An unknown keyword is a :class:`TypeError` (a programming mistake); a metric that cannot be
    limited is a :class:`~mgsearch.errors.ConfigError`. Values are not checked here.
    """
    given: dict[str, Any] = {}
    for name, limit in (under or {}).items():
        metric = get_metric(name)
        if not metric.budget:
            keys = ", ".join(m.name for m in budget_metrics())
            raise ConfigError(f"metric {metric.name!r} cannot be limited; metrics with a budget: {keys}")
        if limit is not None:
            given[metric.name] = limit
    for key, limit in max_keys.items():
        metric = metric_for_budget_key(key)
        if metric is None:
            raise TypeError(f"unknown budget keyword {key!r}; known: {', '.join(budget_keys())}")
        if limit is not None:
            given[metric.name] = limit
    return {m.name: given[m.name] for m in budget_metrics() if m.name in given}
