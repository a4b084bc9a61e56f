"""Family ``resnet``: CIFAR ResNet (He et al.): basic blocks, option-A shortcuts; the dense baseline (no group_size, share=1).

Built by :mod:`mgsearch.families.resnet_like` (one implementation for resnet / mgic / dacnn).
"""

from __future__ import annotations

from mgsearch.families.resnet_like import build, complexity

FAMILY = "resnet"
__all__ = ["FAMILY", "build", "complexity"]
