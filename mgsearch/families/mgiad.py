"""Family ``mgiad``: MGiaD: MgNet whose A, B, Pi and R are MGIC convs in stages with group_size (multigrid in all dimensions).

Built by :mod:`mgsearch.families.mgnet_like` (one implementation for mgnet / mgiad).
"""

from __future__ import annotations

from mgsearch.families.mgnet_like import build, complexity

FAMILY = "mgiad"
__all__ = ["FAMILY", "build", "complexity"]
