"""The strategy registry: name -> :class:`~mgsearch.strategies.strategy.Strategy` object.

This module imports nothing heavy, so :mod:`mgsearch.study` may ask it for the names a study file
may use and for a strategy's settings parser (the one upward path to strategies, like the family
registry's for :mod:`mgsearch.spec`). The built-in strategies (:mod:`mgsearch.strategies.builtin`)
are imported on the first lookup or registration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from mgsearch.errors import ConfigError
from mgsearch.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.strategies.strategy import Strategy

__all__ = ["register_strategy", "unregister_strategy", "get_strategy", "strategy_names", "strategies"]

_REGISTRY: "Registry[Strategy]" = Registry("strategy", "strategies", "mgsearch.strategies.builtin", ConfigError)


def register_strategy(strategy: "Strategy") -> "Strategy":
    """Register ``strategy`` under ``strategy.name`` and return it.

    A name that is already registered is a :class:`ValueError` naming it (unregister the old one
    first to replace it); so is a settings ``table`` another strategy already reads. The built-in
    strategies are loaded first, so a clash with one of them is reported here.
    """
    from mgsearch.strategies.strategy import Strategy

    if not isinstance(strategy, Strategy):
        raise TypeError(f"register_strategy expects a Strategy, got {type(strategy).__name__}")
    table = strategy.table
    if table is not None and strategy.name not in _REGISTRY:  # a taken name: add() says so
        if not isinstance(table, str) or not table:
            raise ValueError(f"strategy {strategy.name!r}: table must be a non-empty string or None, not {table!r}")
        owner = next((s for s in _REGISTRY.values() if s.table == table), None)
        if owner is not None:
            raise ValueError(f"strategy {strategy.name!r}: table [{table}] is already read by strategy {owner.name!r}")
    return _REGISTRY.add(strategy.name, strategy)


def unregister_strategy(name: str) -> "Strategy":
    """Remove the strategy ``name`` from the registry and return it (for tests and plug-ins)."""
    return _REGISTRY.remove(name)


def get_strategy(name: Any) -> "Strategy":
    """The strategy registered as ``name``; an unknown name is a one-line :class:`ConfigError`
    listing the known ones."""
    return _REGISTRY.get(name)


def strategy_names(where: "Callable[[Strategy], bool] | None" = None) -> tuple[str, ...]:
    """The registered names, in registration order (the built-ins first); with ``where``, only the
    names of the strategies it accepts (e.g. ``lambda s: s.searches``: the names a study may use)."""
    return _REGISTRY.names(where)


def strategies() -> tuple["Strategy", ...]:
    """The registered strategy objects, in registration order."""
    return _REGISTRY.values()
