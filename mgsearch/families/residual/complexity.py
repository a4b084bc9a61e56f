"""Analytic cost of the ResNet-like families (``resnet``, ``mgic``, ``dacnn``), block by block.

Semantics (docs/architecture.md): stem conv3x3 + BN + ReLU; per block conv1 (stride on block 0) +
BN + ReLU, conv2 + BN, shortcut (identity / option-A pad / 1x1 projection + BN when narrowing), ReLU.
A stage with ``group_size`` uses MGIC convs for its 3x3 convs; a sharing run shares conv1 and conv2
(BN per application), except conv1 of a block 0 whose input width differs from the stage width.
As in pycls, :func:`basic_block_complexity` is one block's cost and :func:`complexity` their fold.
"""

from __future__ import annotations

from typing import Any, Mapping

from mgsearch.families.common import head_complexity, stem_complexity
from mgsearch.layers.accounting import LayerCost, bn_row, conv3x3_row, conv_row, out_size
from mgsearch.spec import DEFAULT_BLOCK, ArchSpec, sharing_runs

__all__ = ["shortcut_kind", "basic_block_complexity", "complexity"]


def shortcut_kind(c_in: int, c_out: int, stride: int) -> str:
    """``"identity"``, ``"pad"`` (option A) or ``"projection"`` (1x1 conv + BN)."""
    if stride == 1 and c_in == c_out:
        return "identity"
    return "pad" if c_out >= c_in else "projection"


def basic_block_complexity(
    name: str, c_in: int, inner: int, width: int, stride: int, size: int, s: int | None, *,
    conv1_owner: str | None = None, conv2_owner: str | None = None,
) -> list[LayerCost]:
    """Rows of one basic block on a ``size x size`` input; ``conv*_owner`` names the block whose
    conv weights this one shares (None: it owns them)."""
    h = out_size(size, stride)
    rows = [
        conv3x3_row(f"{name}.conv1", c_in, inner, stride, size, s, shared_with=conv1_owner),
        bn_row(f"{name}.bn1", inner, h),
        conv3x3_row(f"{name}.conv2", inner, width, 1, h, s, shared_with=conv2_owner),
        bn_row(f"{name}.bn2", width, h),
    ]
    if shortcut_kind(c_in, width, stride) == "projection":
        rows.append(conv_row(f"{name}.shortcut.conv", c_in, width, 1, stride, size))
        rows.append(bn_row(f"{name}.shortcut.bn", width, h))
    return rows


def complexity(spec: ArchSpec, forms: Mapping[str, Any] | None = None) -> list[LayerCost]:
    """Per-layer cost rows, in forward order, computed from the spec alone; a stage whose
    ``block`` is not ``"conv"`` is costed by its block form (``forms[stage.block]``)."""
    size = spec.input_size
    rows = stem_complexity(spec)
    w_in = spec.stem.width
    for i, stage in enumerate(spec.stages):
        width = stage.width
        if stage.block != DEFAULT_BLOCK:
            rows += forms[stage.block].stage_complexity(i, stage, w_in, size)  # type: ignore[index]
            size, w_in = out_size(size, stage.stride), width
            continue
        for run in sharing_runs(stage):
            owner1 = owner2 = None
            for j in run:
                name = f"stages.{i}.blocks.{j}"
                c_in, stride = (w_in, stage.stride) if j == 0 else (width, 1)
                transition = j == 0 and c_in != width  # conv1's shape differs: it cannot share
                rows += basic_block_complexity(
                    name, c_in, stage.blocks[j].inner, width, stride, size, stage.group_size,
                    conv1_owner=None if transition else owner1, conv2_owner=owner2,
                )
                if not transition:
                    owner1 = owner1 or f"{name}.conv1"
                owner2 = owner2 or f"{name}.conv2"
                size = out_size(size, stride)
        w_in = width
    return rows + head_complexity(spec)
