"""The registered MgNet families: ``mgnet`` and ``mgiad`` (one smoothing-step network over grid levels)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.families.mgnet import complexity as _cost
from mgsearch.families.topology import LevelsFamily
from mgsearch.layers.accounting import LayerCost
from mgsearch.spec import ArchSpec

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet

__all__ = ["SmoothingFamily", "MGNET", "MGIAD"]


class SmoothingFamily(LevelsFamily):
    """MgNet smoothing ``u <- u + s(B s(f - A u))``: A shared per level, B in runs, stride-2 transfers."""

    def complexity(self, spec: ArchSpec) -> list[LayerCost]:
        return _cost.complexity(spec)

    def build(self, spec: ArchSpec) -> "MgsearchNet":
        from mgsearch.families.mgnet.modules import MgNetLike

        return MgNetLike(spec)


MGNET = SmoothingFamily(
    name="mgnet",
    description="MgNet (He & Xu): multigrid smoothing u <- u + s(B s(f - A u)) with A shared per level, "
                "B shared in runs, stride-2 transfers",
    allows_sharing=True,
)
MGIAD = SmoothingFamily(
    name="mgiad",
    description="MGiaD: MgNet whose A, B, Pi and R are MGIC convs in stages with group_size "
                "(multigrid in all dimensions)",
    allows_group_size=True, allows_sharing=True,
)
