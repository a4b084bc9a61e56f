"""LW-DNA widen-then-shrink (the Heterogeneity Hypothesis) for every mgsearch family.

* :func:`widen` scales every width slot by a factor (rounded up to the slot's ``multiple_of``);
* :func:`channel_importance` scores each slot's channels (``grad-init`` or ``bn-l1``);
* :func:`shrink_to_budget` picks per-slot widths that meet a params/MACs budget;
* :func:`shrink` runs the whole pipeline and trains the result from scratch.

The search strategy ``strategy = "lwdna"`` that uses these functions is
:mod:`mgsearch.strategies.lwdna`.

torch is imported only by the functions that need it, so ``import mgsearch.shrink`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from mgsearch.shrink.fit import BudgetError, FitResult, fit_widths, minimum_spec, shrink_to_budget, slot_minimums
from mgsearch.shrink.methods import IMPORTANCE_METHODS
from mgsearch.shrink.widen import widen

__all__ = [
    "widen",
    "channel_importance",
    "IMPORTANCE_METHODS",
    "shrink_to_budget",
    "fit_widths",
    "FitResult",
    "slot_minimums",
    "minimum_spec",
    "shrink",
    "ShrinkResult",
    "BudgetError",
]

_LAZY = {
    "channel_importance": "mgsearch.shrink.importance",
    "shrink": "mgsearch.shrink.pipeline",
    "ShrinkResult": "mgsearch.shrink.pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mgsearch.shrink' has no attribute {name!r}")
