"""Names of the channel-importance methods (torch-free, so settings can be checked without torch).

``IMPORTANCE_METHODS`` score every channel (:func:`mgsearch.shrink.importance.channel_importance`);
``SHRINK_METHODS`` adds ``slimmable``, which scores whole networks instead: the widened parent is
trained as a slimmable network and shrunk greedily by measured accuracy
(:func:`mgsearch.shrink.slimmable.slimmable_shrink`).
"""

from __future__ import annotations

__all__ = ["IMPORTANCE_METHODS", "SHRINK_METHODS", "SLIMMABLE"]

IMPORTANCE_METHODS = ("grad-init", "bn-l1")
SLIMMABLE = "slimmable"
SHRINK_METHODS = (*IMPORTANCE_METHODS, SLIMMABLE)
