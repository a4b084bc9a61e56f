"""Analytic cost of the ``mobilenet`` family (inverted-residual blocks), block by block.

Semantics (docs/architecture.md, docs/concepts.md): stem conv3x3 (stride 1) + BN + ReLU; per block
(``c_in -> inner -> width``, stride on block 0 of a stage)::

    expand   1x1 conv c_in -> inner + BN + act        only when inner != c_in (MobileNetV3's rule)
    dw       kxk depthwise conv (stride) + BN + act   k = block.kernel
    se       squeeze-excite on inner                  only when block.se (Linear inner -> r, ReLU,
                                                      Linear r -> inner, hard sigmoid; r = se_width(inner))
    project  1x1 conv inner -> width + BN             (linear bottleneck: no activation)
    + x      when stride 1 and c_in == width

act is ReLU or hard swish (``block.act``). Head: global average pool, dropout, linear on the last
stage's width. As in pycls, :func:`inverted_residual_complexity` is one block's cost and
:func:`complexity` their fold; a stage of another block form is costed by that form.
"""

from __future__ import annotations

from typing import Any, Mapping

from mgsearch.families.common import head_complexity, stem_complexity
from mgsearch.layers.accounting import LayerCost, bn_row, conv_row, linear_row, out_size
from mgsearch.layers.channels import make_divisible
from mgsearch.spec import DEFAULT_BLOCK, ArchSpec

__all__ = ["se_width", "se_complexity", "inverted_residual_complexity", "complexity"]


def se_width(channels: int) -> int:
    """Hidden width of the squeeze-excite on ``channels`` channels: ``make_divisible(channels // 4, 8)``
    (the MGIC authors' ``SELayer``, as in the MobileNetV3 reference implementations)."""
    return make_divisible(channels // 4, 8)


def se_complexity(name: str, channels: int) -> list[LayerCost]:
    """Rows of a squeeze-excite (``{name}.fc1``, ``{name}.fc2``: Linear layers with bias on the pooled vector)."""
    r = se_width(channels)
    return [linear_row(f"{name}.fc1", channels, r), linear_row(f"{name}.fc2", r, channels)]


def inverted_residual_complexity(name: str, c_in: int, inner: int, width: int, kernel: int, stride: int,
                                 size: int, se: bool) -> list[LayerCost]:
    """Rows of one inverted-residual block on a ``size x size`` input, in forward order."""
    rows: list[LayerCost] = []
    if inner != c_in:
        rows += [conv_row(f"{name}.expand.conv", c_in, inner, 1, 1, size), bn_row(f"{name}.expand.bn", inner, size)]
    h = out_size(size, stride)
    rows += [conv_row(f"{name}.dw.conv", inner, inner, kernel, stride, size, groups=inner),
             bn_row(f"{name}.dw.bn", inner, h)]
    if se:
        rows += se_complexity(f"{name}.se", inner)
    rows += [conv_row(f"{name}.project.conv", inner, width, 1, 1, h), bn_row(f"{name}.project.bn", width, h)]
    return rows


def complexity(spec: ArchSpec, forms: Mapping[str, Any] | None = None) -> list[LayerCost]:
    """Per-layer cost rows, in forward order, from the spec alone; a stage whose ``block`` is not
    ``"conv"`` is costed by its block form (``forms[stage.block]``)."""
    size = spec.input_size
    rows = stem_complexity(spec)
    w_in = spec.stem.width
    for i, stage in enumerate(spec.stages):
        if stage.block != DEFAULT_BLOCK:
            rows += forms[stage.block].stage_complexity(i, stage, w_in, size)  # type: ignore[index]
        else:
            c_in, s = w_in, size
            for j, b in enumerate(stage.blocks):
                stride = stage.stride if j == 0 else 1
                rows += inverted_residual_complexity(f"stages.{i}.blocks.{j}", c_in, b.inner, stage.width,
                                                     b.kernel, stride, s, b.se)
                c_in, s = stage.width, out_size(s, stride)
        size, w_in = out_size(size, stage.stride), stage.width
    return rows + head_complexity(spec)
