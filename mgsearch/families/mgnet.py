"""Family ``mgnet``: MgNet (He & Xu): multigrid smoothing u <- u + s(B s(f - A u)) with A shared per level, B shared in runs, stride-2 transfers.

Built by :mod:`mgsearch.families.mgnet_like` (one implementation for mgnet / mgiad).
"""

from __future__ import annotations

from mgsearch.families.mgnet_like import build, complexity

FAMILY = "mgnet"
__all__ = ["FAMILY", "build", "complexity"]
