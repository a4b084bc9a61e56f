"""The budget: constraint values from the analytic cost, the space-minimum check and width repair."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mgsearch.errors import BudgetError
from mgsearch.spec import ArchSpec, round_to_multiple, width_slots
from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    from mgsearch.cost import Cost
    from mgsearch.space import SearchSpace

__all__ = ["Budget", "check_space_minimum", "repair_to_budget", "uniform_scale"]

#: the smallest width repair scales a slot down to (or the slot's value, when that is smaller)
MIN_REPAIR_WIDTH = 4


@dataclass(frozen=True)
class Budget:
    """The hard limits of a study; ``None`` means unlimited."""

    max_params: int | None = None
    max_macs: int | None = None
    max_latency_ms: float | None = None

    @classmethod
    def from_config(cls, config: StudyConfig) -> "Budget":
        return cls(config.max_params, config.max_macs, config.max_latency_ms)

    @property
    def names(self) -> list[str]:
        """Constraint names in the stored order: ``params``, ``macs``, ``latency_ms`` (the set ones)."""
        return [n for n, v in (("params", self.max_params), ("macs", self.max_macs),
                               ("latency_ms", self.max_latency_ms)) if v is not None]

    def analytic_constraints(self, c: "Cost") -> dict[str, float]:
        """``value - limit`` for the params / MACs limits that are set (<= 0: feasible)."""
        out: dict[str, float] = {}
        if self.max_params is not None:
            out["params"] = float(c.params - self.max_params)
        if self.max_macs is not None:
            out["macs"] = float(c.macs - self.max_macs)
        return out

    def fits(self, c: "Cost") -> bool:
        """True when the analytic cost meets the params and MACs limits."""
        return all(v <= 0 for v in self.analytic_constraints(c).values())

    def describe(self) -> str:
        parts = []
        if self.max_params is not None:
            parts.append(f"max_params={self.max_params:,}")
        if self.max_macs is not None:
            parts.append(f"max_macs={self.max_macs:,}")
        if self.max_latency_ms is not None:
            parts.append(f"max_latency_ms={self.max_latency_ms:g}")
        return ", ".join(parts) or "no budget"


def check_space_minimum(space: "SearchSpace", budget: Budget, where: str) -> "Cost":
    """Raise :class:`BudgetError` when even the space's smallest architecture exceeds the budget.

    Returns the minimum's cost. ``where`` names the study file in the message.
    """
    from mgsearch.cost import cost

    smallest = space.min_spec()
    c = cost(smallest)
    over = [k for k, v in budget.analytic_constraints(c).items() if v > 0]
    if over:
        raise BudgetError(
            f"{where}: budget {budget.describe()} is below the smallest architecture of space "
            f"{space.source} (params={c.params:,}, macs={c.macs:,}; over on {', '.join(over)}): "
            "raise the budget or shrink the space's minimum widths/depths"
        )
    return c


def uniform_scale(spec: ArchSpec, factor: float) -> ArchSpec:
    """Every width slot of ``spec`` times ``factor``, rounded to the slot's multiple (>= the minimum width)."""
    values = []
    for slot in width_slots(spec):
        floor = min(slot.value, MIN_REPAIR_WIDTH)
        values.append(round_to_multiple(slot.value * factor, slot.multiple_of, minimum=floor))
    return spec.with_slot_values(values)


def repair_to_budget(spec: ArchSpec, budget: Budget, *, iterations: int = 20) -> ArchSpec | None:
    """The widest uniform down-scaling of ``spec`` that meets the params/MACs budget, or None.

    Bisection on the width factor in (0, 1]; the depth, group sizes and sharing stay as they are.
    """
    from mgsearch.cost import cost

    if budget.fits(cost(spec)):
        return spec
    lo, hi = 0.0, 1.0
    smallest = uniform_scale(spec, 1e-6)
    if not budget.fits(cost(smallest)):
        return None
    best = smallest
    for _ in range(iterations):
        mid = (lo + hi) / 2
        candidate = uniform_scale(spec, mid)
        if budget.fits(cost(candidate)):
            lo, best = mid, candidate
        else:
            hi = mid
    return best
