"""The registered inverted-residual family ``mobilenet`` (MobileNetV2/V3 blocks; MGIC as a block form)."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from mgsearch.errors import SpecError
from mgsearch.families.mobilenet import complexity as _cost
from mgsearch.families.topology import ResNetLikeFamily
from mgsearch.layers.accounting import LayerCost
from mgsearch.spec import DEFAULT_BLOCK, ArchSpec, width_slots

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet

__all__ = ["MobileNetFamily", "MOBILENET", "REFERENCE_EXPANSION"]

#: expansion ratio of the reference (width-multiplier) MobileNet's blocks: MobileNetV2's t = 6
#: (t = 1 in the first stage, as MobileNetV2's first bottleneck)
REFERENCE_EXPANSION = 6.0
_INNER = re.compile(r"^stages\[(\d+)\]\.blocks\[(\d+)\]\.inner$")
_STAGE = re.compile(r"^stages\[(\d+)\]\.width$")


class MobileNetFamily(ResNetLikeFamily):
    """Inverted-residual blocks (expansion = ``inner``, depthwise ``kernel``, optional ``se``, ``act``);
    a stage may instead use the MGIC authors' multigrid-in-channels blocks (``block = "vcycle"``)."""

    allows_block_options = True
    conv_allows_group_size = False

    def validate(self, spec: ArchSpec) -> None:
        """A stage of plain inverted-residual blocks has no group size (only ``block = "vcycle"`` uses one)."""
        for i, stage in enumerate(spec.stages):
            if stage.block == DEFAULT_BLOCK and stage.group_size is not None:
                forms = ", ".join(f'"{f}"' for f in self.block_forms) or "none"
                raise SpecError(f"stages[{i}].group_size={stage.group_size} is not allowed with block=\"conv\" in "
                                f"family {self.name!r} (use null, or a block form that uses it: {forms})")

    def complexity(self, spec: ArchSpec) -> list[LayerCost]:
        return _cost.complexity(spec, self.block_forms)

    def build(self, spec: ArchSpec) -> "MgsearchNet":
        from mgsearch.families.mobilenet.modules import MobileNet

        return MobileNet(spec, self.block_forms)

    def reference_networks(self, spec: ArchSpec) -> dict[str, ArchSpec]:
        """``dense-resnet`` (:meth:`Family.reference_networks`) and ``mobilenet-wm``: the width-multiplier
        MobileNet of ``spec``'s structure (its depths, strides and each block's kernel / se / act;
        plain inverted-residual blocks, no MGIC, no sharing), its widths :meth:`reference_profile` x 16
        (the relative widths ``mgsearch baseline`` scales onto the budget: one factor is the width
        multiplier)."""
        from mgsearch.spec import Block, Stage

        out = super().reference_networks(spec)
        stages = tuple(
            Stage(width=stage.width, stride=stage.stride,
                  blocks=tuple(Block(inner=b.inner, kernel=b.kernel, se=b.se, act=b.act) for b in stage.blocks))
            for stage in spec.stages
        )
        plain = dataclasses.replace(spec, stages=stages)
        out["mobilenet-wm"] = plain.with_slot_values([round(16 * p) for p in self.reference_profile(plain)])
        return out

    def reference_profile(self, spec: ArchSpec) -> list[float]:
        """Per width slot of ``spec``: the relative widths of the width-multiplier MobileNet of its
        structure, for :func:`mgsearch.fitting.scale_to_budget` (``profile=``): the stem 1; stage ``i``
        ``2^k`` (``k`` = stride-2 stages up to ``i``: the uniform ladder); a block's inner (expanded)
        width :data:`REFERENCE_EXPANSION` x its input width (1 x in stage 0, as MobileNetV2's first
        bottleneck). Scaling this profile by one factor is the width multiplier."""
        level, k = [], 0
        for stage in spec.stages:
            k += stage.stride == 2
            level.append(float(2 ** k))

        def c_in(i: int, j: int) -> float:
            return level[i] if j > 0 else (level[i - 1] if i > 0 else 1.0)

        out = []
        for slot in width_slots(spec):
            if slot.kind == "stem":
                out.append(1.0)
                continue
            m = _STAGE.match(slot.paths[0])
            if m:
                out.append(level[int(m.group(1))])
                continue
            m = _INNER.match(slot.paths[0])
            if m is None:  # pragma: no cover - every slot of this family is stem, stage or inner
                raise ValueError(f"width slot {slot.name} has no reference width")
            i, j = int(m.group(1)), int(m.group(2))
            out.append(c_in(i, j) * (1.0 if i == 0 else REFERENCE_EXPANSION))
        return out


MOBILENET = MobileNetFamily(
    name="mobilenet",
    description="Inverted residuals (MobileNetV2/V3): expansion (inner), depthwise 3x3/5x5/7x7, optional "
                "squeeze-excite, ReLU or hard swish; block=\"vcycle\": the MGIC authors' multigrid blocks "
                "(mobilenetv3_MG.py)",
    allows_group_size=True,
)
