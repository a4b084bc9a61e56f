"""The budget: constraint values from the analytic cost, the space-minimum check, width repair
(:func:`repair_to_budget`) and fitting onto the budget (:func:`fit_to_budget`): both are
:func:`mgsearch.fitting.scale_to_budget` with the budget's check."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mgsearch.errors import BudgetError
from mgsearch.metrics import ANALYTIC, MEASURED, get_metric, metric_for_budget_key, resolve_limits
from mgsearch.fitting import scale_to_budget
from mgsearch.fitting import scale_widths as uniform_scale  # the one scaling rule (kept under its old name)
from mgsearch.spec import ArchSpec, width_slots
from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    from mgsearch.cost import Cost
    from mgsearch.space import SearchSpace

__all__ = ["Budget", "check_space_minimum", "budget_check", "budget_use", "repair_to_budget", "fit_to_budget",
           "uniform_scale"]


class Budget:
    """The hard limits of a study: metric name -> limit; a metric without a limit is unlimited.

    ``Budget({"params": 50_000})`` or, with the study file's keys, ``Budget(max_params=50_000)``.
    Analytic metrics (params, MACs, any registered analytic metric) are checked from the cost before
    training (:meth:`analytic_constraints`); measured ones (latency) where they are measured
    (:meth:`measured_constraints`). ``budget.max_params`` reads a limit by its budget key.
    """

    __slots__ = ("limits",)
    limits: Mapping[str, float]

    def __init__(self, limits: Mapping[str, float] | None = None, /, **max_keys: float | None) -> None:
        object.__setattr__(self, "limits", MappingProxyType(resolve_limits(limits, **max_keys)))

    @classmethod
    def from_config(cls, config: StudyConfig) -> "Budget":
        return cls(config.limits)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Budget is immutable")

    def __getattr__(self, name: str) -> Any:
        metric = metric_for_budget_key(name) if name.startswith("max_") else None
        if metric is None:
            raise AttributeError(f"'Budget' object has no attribute {name!r}")
        return self.limits.get(metric.name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Budget) and dict(self.limits) == dict(other.limits)

    def __hash__(self) -> int:
        return hash(tuple(self.limits.items()))

    def __repr__(self) -> str:
        return f"Budget({dict(self.limits)!r})"

    def limit(self, metric: str) -> float | None:
        """The limit on ``metric`` (a registered name), or None."""
        return self.limits.get(get_metric(metric).name)

    @property
    def names(self) -> list[str]:
        """Constraint names in the stored order (registry order: ``params``, ``macs``, ``latency_ms``, then
        metrics registered later), the limited ones only."""
        return list(self.limits)

    def analytic_constraints(self, c: "Cost", spec: "ArchSpec | None" = None) -> dict[str, float]:
        """``value - limit`` for every limited analytic metric (<= 0: feasible); ``spec`` is the
        architecture ``c`` is the cost of (None where only the cost is at hand)."""
        out: dict[str, float] = {}
        for name, limit in self.limits.items():
            metric = get_metric(name)
            if metric.kind == ANALYTIC:
                out[name] = float(metric.value(c, spec) - limit)
        return out

    def measured_constraints(self, values: Mapping[str, float]) -> dict[str, float]:
        """``value - limit`` for the limited metrics among the measured ``values`` (``{"latency_ms": 1.2}``)."""
        return {name: float(values[name] - limit) for name, limit in self.limits.items() if name in values}

    def measures(self) -> list[str]:
        """The limited metrics that are measured, not computed (``latency_ms``)."""
        return [name for name in self.limits if get_metric(name).kind == MEASURED]

    def fits(self, c: "Cost", spec: "ArchSpec | None" = None) -> bool:
        """True when the analytic cost meets every analytic limit."""
        return all(v <= 0 for v in self.analytic_constraints(c, spec).values())

    def use(self, c: "Cost", spec: "ArchSpec | None" = None) -> float | None:
        """The share of the binding analytic limit the cost uses: the largest ``value / limit`` over
        the limited analytic metrics (1.0 = at the budget); None when no analytic metric is limited."""
        shares = [float(get_metric(n).value(c, spec)) / limit for n, limit in self.limits.items()
                  if get_metric(n).kind == ANALYTIC and limit > 0]
        return max(shares) if shares else None

    @property
    def analytic(self) -> bool:
        """True when some analytic metric is limited (a spec can be fitted onto the budget)."""
        return any(get_metric(n).kind == ANALYTIC for n in self.limits)

    def describe(self) -> str:
        """``max_params=50,000, max_latency_ms=2.5`` (or ``no budget``)."""
        parts = [f"{get_metric(n).budget_key}={get_metric(n).format_limit(v)}" for n, v in self.limits.items()]
        return ", ".join(parts) or "no budget"


def check_space_minimum(space: "SearchSpace", budget: Budget, where: str) -> "Cost":
    """Raise :class:`BudgetError` when even the space's smallest architecture exceeds the budget.

    Returns the minimum's cost. ``where`` names the study file in the message.
    """
    from mgsearch.cost import cost

    smallest = space.min_spec()
    c = cost(smallest)
    over = [k for k, v in budget.analytic_constraints(c, smallest).items() if v > 0]
    if over:
        raise BudgetError(
            f"{where}: budget {budget.describe()} is below the smallest architecture of space "
            f"{space.source} (params={c.params:,}, macs={c.macs:,}; over on {', '.join(over)}): "
            "raise the budget or shrink the space's minimum widths/depths"
        )
    return c


def budget_check(budget: Budget) -> Callable[[ArchSpec], bool]:
    """``fits(spec)``: whether ``spec``'s analytic cost meets ``budget``'s analytic limits (the check
    :func:`mgsearch.fitting.scale_to_budget` and the strategies' context use)."""
    from mgsearch.cost import cost

    return lambda spec: budget.fits(cost(spec), spec)


def budget_use(budget: Budget) -> Callable[[ArchSpec], float]:
    """``use(spec)``: the share of ``budget``'s binding analytic limit ``spec`` uses (:meth:`Budget.use`;
    0.0 without analytic limits)."""
    from mgsearch.cost import cost

    return lambda spec: budget.use(cost(spec), spec) or 0.0


def fit_to_budget(spec: ArchSpec, budget: Budget, *, ceiling: ArchSpec | None = None) -> ArchSpec | None:
    """``spec`` scaled up or down onto ``budget`` (``fill_budget = true``): the widest uniform scaling
    of its widths that fits, filled slot by slot to :data:`~mgsearch.fitting.FILL_TARGET` of the binding
    limit where the widths' steps allow (:func:`mgsearch.fitting.scale_to_budget` with ``grow`` and
    ``use``). None when even the narrowest form of ``spec`` is over the budget. ``ceiling`` (a spec of
    the same width slots, e.g. a supernet's largest network) caps every slot: no width passes it."""
    fits = budget_check(budget)
    if ceiling is not None:
        top = [s.value for s in width_slots(ceiling)]
        if len(top) != len(width_slots(spec)):
            raise ValueError(f"ceiling {ceiling.short_hash} has {len(top)} width slots, spec {spec.short_hash} "
                             f"{len(width_slots(spec))}")
        check = fits
        fits = lambda s: all(a.value <= b for a, b in zip(width_slots(s), top)) and check(s)  # noqa: E731
    return scale_to_budget(spec, fits, grow=True, use=budget_use(budget))


def repair_to_budget(spec: ArchSpec, budget: Budget) -> ArchSpec | None:
    """The widest uniform down-scaling of ``spec`` that meets ``budget`` (``repair = true``), or None:
    :func:`mgsearch.fitting.scale_to_budget` with this budget's check (``spec`` itself when it fits)."""
    return scale_to_budget(spec, budget_check(budget))
