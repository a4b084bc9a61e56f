"""DACNN-mix as its authors built it (``Stage.block = "anchored"`` in family ``dacnn``).

Reference: Gabriel-Huang/DACNN_release, ``resnet_mix_reg.py`` (``resnet_mix``, ``BasicBlock_Fix``).
ONE 3x3 kernel per stage (``width -> width``, with bias, as their ``nn.Conv2d`` default) is applied
as conv1 AND conv2 of every block of the stage; each application has its own BatchNorm. A stage
with ``stride`` 2 downsamples with a 2x2 max-pool at its start (their max-pool after the previous
stage; ``ceil_mode`` so odd sizes halve like a strided conv), then its blocks run at stride 1::

    h = relu(trans.bn(trans.conv(x)))    block 0 when its input width differs from the stage width:
                                         its own 3x3 conv c_in -> width (with bias), BN, ReLU
    h = relu(bn1(conv(x)))               every other block (conv: the stage's anchored kernel)
    y = swap(bn2(conv(swap(h))))         swap: rotate the channels by one (their ``swap``)
    out = relu(y + swap(swap(shortcut(x))))   shortcut: identity, or 1x1 conv (no bias) + BN in
                                              the transition block

The channel rotations (``swap``) are the authors': the second application of the kernel sees the
channels rotated, and the residual is added rotated by two. Their 1x1 "regulators" are defined in
``BasicBlock_Fix`` but never applied in its forward, so they are not part of this form (nor of the
4,925,668 used parameters of their [3,4,6,3] CIFAR-100 network, which this form reproduces).

Widths: all blocks of an anchored stage have the stage width (``blocks[j].inner == stage.width``:
one width slot per stage); ``share`` is 1 (the whole stage shares one kernel anyway); no group
size, no ``coarse_width``. Pure Python: the torch modules are in
:mod:`mgsearch.families.residual.anchored_modules`.
"""

from __future__ import annotations

from typing import Any

from mgsearch.families.family import BlockForm
from mgsearch.families.form_rules import check_tied_stage, tied_width_slot
from mgsearch.layers.accounting import LayerCost, bn_row, conv_row, out_size
from mgsearch.spec import Stage, WidthSlot

__all__ = ["AnchoredForm", "ANCHORED", "anchored_stage_complexity"]


def _biased(row: LayerCost) -> LayerCost:
    """A conv row whose conv has a bias (``c_out`` more parameters for the owner; no MACs)."""
    return row if row.shared_with else row._replace(params=row.params + row.out_channels)


def anchored_stage_complexity(i: int, c_in: int, width: int, stride: int, depth: int,
                              size: int) -> list[LayerCost]:
    """Rows of one anchored stage on a ``size x size`` input of ``c_in`` channels, in forward order."""
    size = out_size(size, stride)  # the max-pool (no MACs)
    rows: list[LayerCost] = []
    owner: str | None = None

    def kernel(app: str) -> LayerCost:  # one application of the stage's anchored kernel
        nonlocal owner
        row = _biased(conv_row(app, width, width, 3, 1, size, shared_with=owner))
        owner = owner or app
        return row

    for j in range(depth):
        name = f"stages.{i}.blocks.{j}"
        transition = j == 0 and c_in != width
        if transition:
            rows += [_biased(conv_row(f"{name}.trans.conv", c_in, width, 3, 1, size)),
                     bn_row(f"{name}.trans.bn", width, size), kernel(f"{name}.conv")]
        else:
            rows += [kernel(f"{name}.conv"), bn_row(f"{name}.bn1", width, size), kernel(f"{name}.conv#2")]
        rows.append(bn_row(f"{name}.bn2", width, size))
        if transition:
            rows += [conv_row(f"{name}.shortcut.conv", c_in, width, 1, 1, size),
                     bn_row(f"{name}.shortcut.bn", width, size)]
    return rows


class AnchoredForm(BlockForm):
    """The ``anchored`` block form of ``dacnn`` (see the module docstring)."""

    name = "anchored"
    description = ("DACNN-mix as its authors built it (DACNN_release resnet_mix_reg.py): one 3x3 kernel "
                   "per stage for both convs of every block, BN per application, max-pool downsampling, "
                   "a transition conv + 1x1 projection where the width changes")
    allows_group_size = False
    ties_inner_to_width = True
    forces_share_one = True

    def validate_stage(self, path: str, stage: Stage, c_in: int) -> None:
        check_tied_stage(path, stage, self.name, coarse_why=' (only block="vcycle" uses it)',
                         share_why="the whole stage shares one kernel",
                         inner_why="an anchored block applies the stage's width x width kernel twice")

    def stage_slots(self, i: int, stage: Stage) -> list[WidthSlot]:
        return [tied_width_slot(i, stage)]

    def stage_complexity(self, i: int, stage: Stage, c_in: int, size: int) -> list[LayerCost]:
        return anchored_stage_complexity(i, c_in, stage.width, stage.stride, stage.depth, size)

    def build_stage(self, i: int, stage: Stage, c_in: int, gate: Any) -> Any:
        from mgsearch.families.residual.anchored_modules import AnchoredStage

        return AnchoredStage(i, stage, c_in, gate)


ANCHORED = AnchoredForm()
