"""Family ``dacnn``: Deep anchored CNN: ResNet whose stages share conv weights across runs of share blocks (BN per application).

Built by :mod:`mgsearch.families.resnet_like` (one implementation for resnet / mgic / dacnn).
"""

from __future__ import annotations

from mgsearch.families.resnet_like import build, complexity

FAMILY = "dacnn"
__all__ = ["FAMILY", "build", "complexity"]
