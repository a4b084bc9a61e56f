"""Neural-network building blocks of mgsearch.

The pure (torch-free) accounting helpers live in :mod:`mgsearch.layers.accounting` and are shared
with :mod:`mgsearch.cost`; the torch modules (:class:`Conv2d`, :class:`MGICConv2d`, shortcuts,
``conv_bn_act``) load lazily so that importing this package does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from mgsearch.layers.accounting import LayerCost, mgic_levels

_LAZY: dict[str, str] = {
    "Conv2d": "mgsearch.layers.conv",
    "ConvBNAct": "mgsearch.layers.conv",
    "conv_bn_act": "mgsearch.layers.conv",
    "conv3x3": "mgsearch.layers.conv",
    "init_weights": "mgsearch.layers.conv",
    "MGICConv2d": "mgsearch.layers.mgic",
    "PadShortcut": "mgsearch.layers.shortcut",
    "ProjectionShortcut": "mgsearch.layers.shortcut",
    "share_by_runs": "mgsearch.layers.sharing",
}

__all__ = ["LayerCost", "mgic_levels", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mgsearch.layers' has no attribute {name!r}")
