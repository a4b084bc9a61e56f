"""Names of the channel-importance methods (torch-free, so settings can be checked without torch).

The methods themselves are :func:`mgsearch.shrink.importance.channel_importance`.
"""

from __future__ import annotations

__all__ = ["IMPORTANCE_METHODS"]

IMPORTANCE_METHODS = ("grad-init", "bn-l1")
