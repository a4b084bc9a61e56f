"""Cost rows of the parts the built-in families share: the stem conv + BN and the classifier head.

Their torch modules are :func:`mgsearch.layers.conv.conv_bn_act` (or a stem conv + BN) and
:class:`mgsearch.families.base.ClassifierHead`. Pure Python.
"""

from __future__ import annotations

from mgsearch.layers.accounting import LayerCost, bn_row, conv_row, linear_row, out_size
from mgsearch.spec import ArchSpec

__all__ = ["stem_complexity", "head_complexity"]


def stem_complexity(spec: ArchSpec, stride: int = 1) -> list[LayerCost]:
    """``stem.conv`` (3x3, ``in_channels -> stem.width``, ``stride``) and ``stem.bn``."""
    size = spec.input_size
    return [
        conv_row("stem.conv", spec.in_channels, spec.stem.width, 3, stride, size),
        bn_row("stem.bn", spec.stem.width, out_size(size, stride)),
    ]


def head_complexity(spec: ArchSpec) -> list[LayerCost]:
    """``head.fc``: the linear classifier on the last stage's width (pooling and dropout cost nothing)."""
    return [linear_row("head.fc", spec.stages[-1].width, spec.num_classes)]
