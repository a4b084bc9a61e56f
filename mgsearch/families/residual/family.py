"""The registered ResNet-like families: ``resnet``, ``mgic`` and ``dacnn`` (one basic-block network)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.families.residual import complexity as _cost
from mgsearch.families.topology import ResNetLikeFamily
from mgsearch.layers.accounting import LayerCost
from mgsearch.spec import ArchSpec

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet

__all__ = ["BasicBlockFamily", "RESNET", "MGIC", "DACNN"]


class BasicBlockFamily(ResNetLikeFamily):
    """CIFAR ResNet basic blocks with option-A shortcuts; MGIC convs and sharing as the flags allow."""

    def complexity(self, spec: ArchSpec) -> list[LayerCost]:
        return _cost.complexity(spec, self.block_forms)

    def build(self, spec: ArchSpec) -> "MgsearchNet":
        from mgsearch.families.residual.modules import ResNetLike

        return ResNetLike(spec, self.block_forms)


RESNET = BasicBlockFamily(
    name="resnet",
    description="CIFAR ResNet (He et al.): basic blocks, option-A shortcuts; "
                "the dense baseline (no group_size, share=1)",
)
MGIC = BasicBlockFamily(
    name="mgic",
    description="ResNet whose stages with group_size use MGIC convs for every 3x3 conv (sharing allowed)",
    allows_group_size=True, allows_sharing=True,
)
DACNN = BasicBlockFamily(
    name="dacnn",
    description="Deep anchored CNN: ResNet whose stages share conv weights across runs of share blocks "
                "(BN per application)",
    allows_sharing=True,
)
