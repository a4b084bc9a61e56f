"""Family ``mgic``: ResNet whose stages with group_size use MGIC convs for every 3x3 conv (sharing allowed).

Built by :mod:`mgsearch.families.resnet_like` (one implementation for resnet / mgic / dacnn).
"""

from __future__ import annotations

from mgsearch.families.resnet_like import build, complexity

FAMILY = "mgic"
__all__ = ["FAMILY", "build", "complexity"]
