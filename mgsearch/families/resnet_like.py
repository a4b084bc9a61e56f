"""ResNet-like families (``resnet``, ``mgic``, ``dacnn``): analytic complexity; ``build`` is lazy.

Semantics (docs/architecture.md): stem conv3x3 + BN + ReLU; per block conv1 (stride on block 0) +
BN + ReLU, conv2 + BN, shortcut (identity / option-A pad / 1x1 projection + BN when narrowing), ReLU.
A stage with ``group_size`` uses MGIC convs for its 3x3 convs; a sharing run shares conv1 and conv2
(BN per application), except conv1 of a block 0 whose input width differs from the stage width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.layers.accounting import LayerCost, bn_row, conv3x3_row, conv_row, linear_row, out_size
from mgsearch.spec import ArchSpec, sharing_runs

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet


def shortcut_kind(c_in: int, c_out: int, stride: int) -> str:
    """``"identity"``, ``"pad"`` (option A) or ``"projection"`` (1x1 conv + BN)."""
    if stride == 1 and c_in == c_out:
        return "identity"
    return "pad" if c_out >= c_in else "projection"


def complexity(spec: ArchSpec) -> list[LayerCost]:
    """Per-layer cost rows, in forward order, computed from the spec alone."""
    size = spec.input_size
    rows = [conv_row("stem.conv", spec.in_channels, spec.stem.width, 3, 1, size), bn_row("stem.bn", spec.stem.width, size)]
    w_in = spec.stem.width
    for i, stage in enumerate(spec.stages):
        s, width = stage.group_size, stage.width
        for run in sharing_runs(stage):
            owner1 = owner2 = None
            for j in run:
                name = f"stages.{i}.blocks.{j}"
                inner = stage.blocks[j].inner
                c_in, stride = (w_in, stage.stride) if j == 0 else (width, 1)
                if j == 0 and c_in != width:
                    rows.append(conv3x3_row(f"{name}.conv1", c_in, inner, stride, size, s))
                else:
                    rows.append(conv3x3_row(f"{name}.conv1", c_in, inner, stride, size, s, shared_with=owner1))
                    owner1 = owner1 or f"{name}.conv1"
                h = out_size(size, stride)
                rows.append(bn_row(f"{name}.bn1", inner, h))
                rows.append(conv3x3_row(f"{name}.conv2", inner, width, 1, h, s, shared_with=owner2))
                owner2 = owner2 or f"{name}.conv2"
                rows.append(bn_row(f"{name}.bn2", width, h))
                if shortcut_kind(c_in, width, stride) == "projection":
                    rows.append(conv_row(f"{name}.shortcut.conv", c_in, width, 1, stride, size))
                    rows.append(bn_row(f"{name}.shortcut.bn", width, h))
                size = h
        w_in = width
    rows.append(linear_row("head.fc", w_in, spec.num_classes))
    return rows


def build(spec: ArchSpec) -> "MgsearchNet":
    """Build the network (imports torch)."""
    from mgsearch.families.resnet_like_net import ResNetLike

    return ResNetLike(spec)
