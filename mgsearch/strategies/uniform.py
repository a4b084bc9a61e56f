"""The baselines: the networks a user would build instead of searching, scaled onto the budget
(``mgsearch baseline`` runs them; a study file cannot name this strategy; trials store
``strategy = "baseline"`` and ``baseline_name``, e.g. ``uniform@budget``).

``uniform``: the space's "middle" network (:class:`MiddleChooser`: every depth at the middle of its
range, no weight sharing where the space allows ``share = 1``, the first group-size choice of each
stage) with the uniform profile: the stem and every width of stage ``i`` are ``base * 2^k``, ``k`` =
the number of stride-2 stages up to ``i`` (16/32/64 for ResNet-20). The other kinds come from the
space's family (:meth:`~mgsearch.families.family.Family.reference_networks`: ``dense-resnet``, the He
et al. CIFAR ResNet with the space's stage count and depths; an inverted-residual family adds its
width-multiplier MobileNet there), with the same profile. Each is scaled by
:func:`mgsearch.fitting.scale_to_budget` (``grow``, filled slot by slot) onto ``size x`` the
analytic limits, so the baselines round like every other scaling and use at least
:data:`~mgsearch.fitting.FILL_TARGET` of the budget where the widths' steps allow.
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

__all__ = ["BaselineStrategy", "BaselineSettings", "BASELINE", "UNIFORM_KIND", "reference_spec", "reference_networks",
           "uniform_profile", "uniform_steps", "uniform_spec", "scale_reference", "baseline_metric"]

_STAGE = re.compile(r"stages\[(\d+)\]")


#: the label of the space's own reference network with uniform widths
UNIFORM_KIND = "uniform"


@dataclass(frozen=True)
class BaselineSettings:
    """``kind``: which reference network (``uniform``, the space's middle structure with uniform
    widths, or a label of its family's :meth:`~mgsearch.families.family.Family.reference_networks`,
    e.g. ``dense-resnet``); ``size``: the fraction of the budget it may use (1.0 = the budget)."""

    size: float = 1.0
    kind: str = UNIFORM_KIND

    @property
    def baseline_name(self) -> str:
        """``<kind>@budget`` at the budget, ``<kind>@<size>x`` at another fraction of it (e.g.
        ``uniform@budget``, ``dense-resnet@0.5x``): the stored ``baseline_name``."""
        return f"{self.kind}@budget" if self.size == 1.0 else f"{self.kind}@{self.size:g}x"



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
    """Per width slot: the lcm of its stage's group size (1 for a dense stage), its ``multiple_of`` and
    its profile value ``2^k`` (:func:`uniform_profile`), so a uniform network's stem is rounded like
    its first stage and equals it, and the stage widths keep the exact 1 : 2 : 4 ratios (``base *
    2^k`` rounded to a multiple of ``2^k`` is ``2^k * round(base)``)."""
    slots = width_slots(reference)
    out = []
    for slot, i, level in zip(slots, _slot_stages(reference), uniform_profile(reference)):
        group = reference.stages[i].group_size or 1
        out.append(math.lcm(group, slot.multiple_of, int(level)))
    return out


def uniform_spec(reference: ArchSpec, base: float) -> ArchSpec:
    """``reference`` with the uniform widths ``base * 2^k`` (rounded by :func:`~mgsearch.fitting.scale_widths`)."""
    return scale_widths(reference, base, profile=uniform_profile(reference), steps=uniform_steps(reference))


def reference_networks(space: "SearchSpace") -> dict[str, ArchSpec]:
    """The baselines' networks of ``space`` before scaling, label -> spec: its family's hand-designed
    references (:meth:`~mgsearch.families.family.Family.reference_networks`: ``dense-resnet``, ...),
    then ``uniform`` (the space's middle structure, :func:`reference_spec`). ``uniform`` is scaled with
    the classic stage profile (:func:`uniform_profile`), a family's reference with its own relative
    widths (its widths as returned); in a dense ResNet space ``dense-resnet`` and ``uniform`` are the
    same network, trained once under the first label."""
    from mgsearch.families.registry import get_family

    reference = reference_spec(space)
    out = dict(get_family(reference.family).reference_networks(reference))
    out.setdefault(UNIFORM_KIND, reference)
    return out


def scale_reference(start: ArchSpec, limits: Mapping[str, float], *, size: float = 1.0,
                    uniform: bool = True) -> ArchSpec | None:
    """``start`` scaled onto ``size x`` the analytic ``limits`` as every baseline is: with the classic
    stage profile (:func:`uniform_profile`) when ``uniform``, else with ``start``'s own relative widths;
    grown or shrunk by :func:`~mgsearch.fitting.scale_to_budget` and filled slot by slot up to
    :data:`~mgsearch.fitting.FILL_TARGET` of the binding limit. None when even the narrowest form of
    ``start`` is over them. ``strategy = "lwdna"`` with ``base = "uniform"`` widens this network."""
    profile = uniform_profile(start) if uniform else None
    fits, use = _at_fraction(limits, size)
    return scale_to_budget(start, fits, profile=profile, steps=uniform_steps(start), grow=True, use=use)


def baseline_metric(limits: Mapping[str, float]) -> str:
    """The metric the baselines are sized by: ``params`` when limited, else ``macs``
    (:class:`BudgetError` when neither is)."""
    for name in ("params", "macs"):
        if limits.get(name) is not None:
            return name
    raise BudgetError("baselines need a budget: set budget.max_params or budget.max_macs in the study file")


def _at_fraction(limits: Mapping[str, float], size: float) -> tuple[Callable[[ArchSpec], bool], Callable[[ArchSpec], float]]:
    """``(fits, use)`` for ``size x`` the analytic limits of ``limits``: whether a spec's analytic
    metrics are within them, and the largest share of them it uses."""
    from mgsearch.cost import cost
    from mgsearch.metrics import ANALYTIC, get_metric

    scaled = [(get_metric(n), v * size) for n, v in limits.items() if get_metric(n).kind == ANALYTIC and v > 0]

    def use(spec: ArchSpec) -> float:
        c = cost(spec)
        return max(float(m.value(c, spec)) / limit for m, limit in scaled)

    return (lambda spec: use(spec) <= 1.0), use


class BaselineStrategy(Strategy):
    """A baseline network at ``settings.size x`` the budget; the chooser is not asked.

    The network of ``settings.kind`` (:func:`reference_networks`) with its classic stage profile is
    scaled onto the analytic limits times ``size`` by :func:`~mgsearch.fitting.scale_to_budget`
    (grown or shrunk, the last steps filled slot by slot up to
    :data:`~mgsearch.fitting.FILL_TARGET` of the binding limit), like every candidate of a
    ``fill_budget`` search.
    """

    name = "baseline"
    description = "a reference network a user would build (uniform, dense-resnet, ...), scaled onto the budget"
    searches = False

    def parse_settings(self, table: Mapping[str, Any], *, source: str) -> BaselineSettings:
        for key in table:
            if key not in ("size", "kind"):
                raise ConfigError(f"{source}: {self.name}.{clip(key)} is not a known key; allowed: size, kind")
        size = table.get("size", 1.0)
        if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size) or size <= 0:
            raise ConfigError(f"{source}: {self.name}.size={clip_repr(size)} must be a positive budget fraction")
        kind = table.get("kind", UNIFORM_KIND)
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"{source}: {self.name}.kind={clip_repr(kind)} must be a baseline label, e.g. uniform")
        return BaselineSettings(float(size), kind)

    def kinds(self, space: "SearchSpace") -> list[str]:
        """The labels of the baselines ``space`` offers, in training order (:func:`reference_networks`)."""
        return list(reference_networks(space))

    def propose(self, chooser: Any, context: StrategyContext) -> Candidate:
        settings = context.settings if isinstance(context.settings, BaselineSettings) else BaselineSettings()
        baseline_metric(context.limits)  # a BudgetError without params / MACs limits
        networks = reference_networks(context.space)
        if settings.kind not in networks:
            raise ConfigError(f"{context.source}: baseline kind {settings.kind!r} is not offered by this space; "
                              f"allowed: {', '.join(networks)}")
        start = networks[settings.kind]
        # uniform: the 1/2/4 ladder over the space's middle network; a family's reference carries its
        # own relative widths (dense-resnet: w/2w/4w; a MobileNet: its expansions), scaled as they are
        spec = scale_reference(start, context.limits, size=settings.size, uniform=settings.kind == UNIFORM_KIND)
        if spec is None:
            raise BudgetError(
                f"no {settings.kind} {start.family} network of the space fits {settings.size:g}x the budget "
                f"({_describe(context.limits, settings.size)}); raise the budget or the baseline sizes"
            )
        return Candidate(spec=spec, attrs={"baseline_name": settings.baseline_name})


def _describe(limits: Mapping[str, float], size: float) -> str:
    from mgsearch.metrics import ANALYTIC, get_metric

    return ", ".join(f"{n} <= {v * size:,.0f}" for n, v in limits.items() if get_metric(n).kind == ANALYTIC)


BASELINE = BaselineStrategy()
