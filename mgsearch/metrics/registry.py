"""The metric registry: name -> :class:`~mgsearch.metrics.metric.Metric`.

Importing it imports nothing heavy; the built-in metrics (:mod:`mgsearch.metrics.builtin`) are
loaded on the first lookup or registration. Registration order is meaningful: it is the order of
report columns and axes and of the constraints stored with every trial (``params``, ``macs``,
``latency_ms``, then metrics registered later), so old studies read back unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from mgsearch.errors import ConfigError
from mgsearch.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.metrics.metric import Metric

__all__ = [
    "register_metric", "unregister_metric", "get_metric", "find_metric", "metric_names", "metrics",
    "budget_metrics", "metric_for_budget_key",
]

_REGISTRY: "Registry[Metric]" = Registry("metric", "metrics", "mgsearch.metrics.builtin", ConfigError)
_ALIASES: dict[str, str] = {}  # older name -> metric name


def register_metric(metric: "Metric") -> "Metric":
    """Register ``metric`` under ``metric.name`` (and its aliases) and return it.

    A name or alias already taken is a :class:`ValueError` naming it (unregister the old metric
    first to replace it). The built-in metrics are loaded first, so a clash with one of them is
    reported here.
    """
    from mgsearch.metrics.metric import Metric

    _REGISTRY.load_builtins()
    if not isinstance(metric, Metric):
        raise TypeError(f"register_metric expects a Metric, got {type(metric).__name__}")
    for name in (metric.name, *metric.aliases):
        owner = find_metric(name)
        if owner is not None:
            raise ValueError(f"metric name {name!r} is already registered (by metric {owner.name!r}); names must be unique")
    _REGISTRY.add(metric.name, metric)
    _ALIASES.update(dict.fromkeys(metric.aliases, metric.name))
    return metric


def unregister_metric(name: str) -> "Metric":
    """Remove the metric ``name`` (and its aliases) from the registry and return it (tests, plug-ins)."""
    metric = _REGISTRY.remove(get_metric(name).name)
    for alias in metric.aliases:
        _ALIASES.pop(alias, None)
    return metric


def find_metric(name: Any) -> "Metric | None":
    """The metric registered as ``name`` (or under an older alias), or None."""
    if not isinstance(name, str):
        return None
    name = _ALIASES.get(name, name)
    return _REGISTRY.get(name) if name in _REGISTRY else None


def get_metric(name: Any) -> "Metric":
    """The metric registered as ``name`` (or an alias); unknown: a one-line :class:`ConfigError` listing
    the known names."""
    return find_metric(name) or _REGISTRY.get(name)


def metrics(kind: str | None = None, where: "Callable[[Metric], bool] | None" = None) -> tuple["Metric", ...]:
    """The registered metrics in registration order; only those of ``kind`` (``"analytic"`` /
    ``"measured"``) and accepted by ``where`` when given."""
    return tuple(m for m in _REGISTRY if (kind is None or m.kind == kind) and (where is None or where(m)))


def metric_names(kind: str | None = None) -> tuple[str, ...]:
    """The registered names in registration order (only those of ``kind`` when given)."""
    return tuple(m.name for m in metrics(kind))


def budget_metrics() -> tuple["Metric", ...]:
    """The metrics a budget can limit, in the order their constraints are stored."""
    return metrics(where=lambda m: m.budget)


def metric_for_budget_key(key: str) -> "Metric | None":
    """The metric whose budget key is ``key`` (``"max_params"`` -> params), or None."""
    return next((m for m in budget_metrics() if m.budget_key == key), None)
