"""Search strategies: registered :class:`Strategy` objects that propose each trial's architecture.

Importing this package imports neither torch nor optuna nor the built-in strategies: the registry
loads them on the first lookup.

Layout: :mod:`.strategy` (the protocol: :class:`Strategy`, :class:`Candidate`,
:class:`StrategyContext`), :mod:`.registry` (register / look up), :mod:`.builtin` (the built-in
registrations), one module per strategy (:mod:`.direct`, :mod:`.lwdna`, :mod:`.uniform`) and
:mod:`.choosers` (chooser wrappers that fix some knobs). Scaling a spec onto a budget is
:func:`mgsearch.fitting.scale_to_budget`.
"""

from __future__ import annotations

from mgsearch.strategies.registry import (
    get_strategy,
    register_strategy,
    strategies,
    strategy_names,
    unregister_strategy,
)
from mgsearch.strategies.strategy import RESERVED_ATTRS, Candidate, Strategy, StrategyContext

__all__ = [
    "Strategy", "Candidate", "StrategyContext", "RESERVED_ATTRS",
    "register_strategy", "unregister_strategy", "get_strategy", "strategy_names", "strategies",
]
