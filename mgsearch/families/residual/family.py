"""The registered ResNet-like families: ``resnet``, ``mgic`` and ``dacnn`` (one basic-block network)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.families.residual import complexity as _cost
from mgsearch.families.residual.plain import PLAIN_FORMS, PlainRuns, merge_plain_slots
from mgsearch.families.topology import ResNetLikeFamily
from mgsearch.layers.accounting import LayerCost
from mgsearch.spec import ArchSpec, WidthSlot

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet

__all__ = ["BasicBlockFamily", "DacnnFamily", "RESNET", "MGIC", "DACNN"]


class BasicBlockFamily(ResNetLikeFamily):
    """CIFAR ResNet basic blocks with option-A shortcuts; MGIC convs and sharing as the flags allow."""

    def complexity(self, spec: ArchSpec) -> list[LayerCost]:
        return _cost.complexity(spec, self.block_forms)

    def build(self, spec: ArchSpec) -> "MgsearchNet":
        from mgsearch.families.residual.modules import ResNetLike

        return ResNetLike(spec, self.block_forms)


class DacnnFamily(BasicBlockFamily):
    """``dacnn``: the basic-block family plus the stage forms whose kernel is shared across stages
    (plain DACNN: consecutive ``plain`` stages share one kernel, see ``residual/plain.py``)."""

    def _forms(self, spec: ArchSpec) -> dict:
        if not any(st.block in PLAIN_FORMS for st in spec.stages):
            return self.block_forms
        runs = PlainRuns(spec)
        return {**self.block_forms, **{name: runs for name in PLAIN_FORMS}}

    def width_slots(self, spec: ArchSpec) -> tuple[WidthSlot, ...]:
        return tuple(merge_plain_slots(spec, list(super().width_slots(spec))))

    def complexity(self, spec: ArchSpec) -> list[LayerCost]:
        return _cost.complexity(spec, self._forms(spec))

    def build(self, spec: ArchSpec) -> "MgsearchNet":
        from mgsearch.families.residual.modules import ResNetLike

        return ResNetLike(spec, self._forms(spec))


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
DACNN = DacnnFamily(
    name="dacnn",
    description="Deep anchored CNN: block=\"plain\" (plain DACNN: one kernel for the network) and "
                "block=\"anchored\" (DACNN-mix: one kernel per stage) as the authors built them; the default "
                "block is mgsearch's two-kernel variant (conv1/conv2 shared by runs of share blocks)",
    allows_sharing=True,
)
