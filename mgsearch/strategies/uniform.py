"""The uniform-width baseline: the space's reference network with the classic width profile, at a
fraction of the budget (``mgsearch baseline`` runs it once per size; a study file cannot name it).

The reference architecture is the space's "middle" network (:class:`MiddleChooser`: every depth at
the middle of its range, no weight sharing where the space allows ``share = 1``, the first
group-size choice of each stage). Its widths follow the uniform profile: the stem and every width of
stage ``i`` are ``base * 2^k``, ``k`` = the number of stride-2 stages up to ``i`` (16/32/64 for
ResNet-20), and ``base`` is the largest that keeps the network within ``size x`` the budget (params
when the budget has a params limit, else MACs), found by :func:`mgsearch.fitting.scale_to_budget`
with the profile above, so the baselines round like every other scaling.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from mgsearch.errors import BudgetError, ConfigError, clip, clip_repr
from mgsearch.fitting import scale_to_budget, scale_widths
from mgsearch.spec import ArchSpec, width_slots
from mgsearch.strategies.choosers import MiddleChooser
from mgsearch.strategies.strategy import Candidate, Strategy, StrategyContext

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.space import SearchSpace

__all__ = ["UniformStrategy", "UniformSettings", "UNIFORM", "reference_spec", "uniform_profile", "uniform_steps",
           "uniform_spec", "baseline_metric"]

_STAGE = re.compile(r"stages\[(\d+)\]")


@dataclass(frozen=True)
class UniformSettings:
    """``size``: the fraction of the budget the baseline may use (1.0 = the budget)."""

    size: float = 1.0

    @property
    def baseline_name(self) -> str:
        """``uniform-<size>x`` (e.g. ``uniform-1x``, ``uniform-0.5x``): the stored ``baseline_name``."""
        return f"uniform-{self.size:g}x"


def reference_spec(space: "SearchSpace") -> ArchSpec:
    """The space's middle architecture (see the module docstring); its widths are replaced later."""
    return space.to_spec(MiddleChooser())


def _slot_stages(reference: ArchSpec) -> list[int]:
    """Per width slot of ``reference``: the index of its stage (the stem counts as stage 0)."""
    out = []
    for slot in width_slots(reference):
        m = _STAGE.search(" ".join(slot.paths))
        out.append(int(m.group(1)) if m and slot.kind != "stem" else 0)
    return out


def uniform_profile(reference: ArchSpec) -> list[float]:
    """Per width slot of ``reference``: ``2^k``, ``k`` = the stride-2 stages up to the slot's stage
    (the stem counts as stage 0)."""
    level, k = [], 0
    for stage in reference.stages:
        if stage.stride == 2:
            k += 1
        level.append(k)
    return [float(2 ** level[i]) for i in _slot_stages(reference)]


def uniform_steps(reference: ArchSpec) -> list[int]:
    """Per width slot: its stage's group size (1 for a dense stage), so a uniform network's stem is
    rounded like its first stage and equals it."""
    slots = width_slots(reference)
    out = []
    for slot, i in zip(slots, _slot_stages(reference)):
        group = reference.stages[i].group_size or 1
        out.append(math.lcm(group, slot.multiple_of))
    return out


def uniform_spec(reference: ArchSpec, base: float) -> ArchSpec:
    """``reference`` with the uniform widths ``base * 2^k`` (rounded by :func:`~mgsearch.fitting.scale_widths`)."""
    return scale_widths(reference, base, profile=uniform_profile(reference), steps=uniform_steps(reference))


def baseline_metric(limits: Mapping[str, float]) -> str:
    """The metric the baselines are sized by: ``params`` when limited, else ``macs``
    (:class:`BudgetError` when neither is)."""
    for name in ("params", "macs"):
        if limits.get(name) is not None:
            return name
    raise BudgetError("baselines need a budget: set budget.max_params or budget.max_macs in the study file")


def _at_most(metric: str, limit: float) -> Callable[[ArchSpec], bool]:
    """``fits(spec)``: the analytic ``metric`` of a spec is at most ``limit``."""
    from mgsearch.cost import cost
    from mgsearch.metrics import get_metric

    value = get_metric(metric).value
    return lambda spec: value(cost(spec), spec) <= limit


class UniformStrategy(Strategy):
    """The uniform network at ``settings.size x`` the budget; the chooser is not asked."""

    name = "uniform"
    description = "the space's reference network with uniform widths, scaled to a fraction of the budget"
    searches = False

    def parse_settings(self, table: Mapping[str, Any], *, source: str) -> UniformSettings:
        for key in table:
            if key != "size":
                raise ConfigError(f"{source}: uniform.{clip(key)} is not a known key; allowed: size")
        size = table.get("size", 1.0)
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size) or size <= 0:
            raise ConfigError(f"{source}: uniform.size={clip_repr(size)} must be a positive budget fraction")
        return UniformSettings(float(size))

    def propose(self, chooser: Any, context: StrategyContext) -> Candidate:
        settings = context.settings if isinstance(context.settings, UniformSettings) else UniformSettings()
        by = baseline_metric(context.limits)
        target = settings.size * context.limits[by]
        reference = reference_spec(context.space)
        spec = scale_to_budget(reference, _at_most(by, target), profile=uniform_profile(reference),
                               steps=uniform_steps(reference), grow=True)
        if spec is None:
            raise BudgetError(
                f"no uniform {reference.family} network of the space fits {settings.size:g}x the budget "
                f"({by} <= {target:,.0f}); raise the budget or the baseline sizes"
            )
        return Candidate(spec=spec, attrs={"baseline_name": settings.baseline_name})


UNIFORM = UniformStrategy()
