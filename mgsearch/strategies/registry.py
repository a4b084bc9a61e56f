"""The strategy registry: name -> :class:`~mgsearch.strategies.strategy.Strategy` object.

This module imports nothing heavy, so :mod:`mgsearch.study` may ask it for the names a study file
may use and for a strategy's settings parser (the one upward path to strategies, like the family
registry's for :mod:`mgsearch.spec`). The built-in strategies (:mod:`mgsearch.strategies.builtin`)
are imported on the first lookup or registration.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

from mgsearch.errors import ConfigError, clip_repr

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.strategies.strategy import Strategy

__all__ = ["register_strategy", "unregister_strategy", "get_strategy", "strategy_names", "strategies"]

_BUILTIN = "mgsearch.strategies.builtin"
_STRATEGIES: dict[str, "Strategy"] = {}
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True  # set first: the built-in module registers through register_strategy
    try:
        importlib.import_module(_BUILTIN)
    except BaseException:
        _builtins_loaded = False
        raise


def register_strategy(strategy: "Strategy") -> "Strategy":
    """Register ``strategy`` under ``strategy.name`` and return it.

    A name that is already registered is a :class:`ValueError` naming it (unregister the old one
    first to replace it); so is a settings ``table`` another strategy already reads. The built-in
    strategies are loaded first, so a clash with one of them is reported here.
    """
    from mgsearch.strategies.strategy import Strategy

    _load_builtins()
    if not isinstance(strategy, Strategy):
        raise TypeError(f"register_strategy expects a Strategy, got {type(strategy).__name__}")
    name = strategy.name
    if not isinstance(name, str) or not name:
        raise ValueError(f"a strategy's name must be a non-empty string, not {name!r}")
    if name in _STRATEGIES:
        raise ValueError(f"strategy {name!r} is already registered ({_STRATEGIES[name]!r}); names must be unique")
    table = strategy.table
    if table is not None:
        if not isinstance(table, str) or not table:
            raise ValueError(f"strategy {name!r}: table must be a non-empty string or None, not {table!r}")
        owner = next((s for s in _STRATEGIES.values() if s.table == table), None)
        if owner is not None:
            raise ValueError(f"strategy {name!r}: table [{table}] is already read by strategy {owner.name!r}")
    _STRATEGIES[name] = strategy
    return strategy


def unregister_strategy(name: str) -> "Strategy":
    """Remove the strategy ``name`` from the registry and return it (for tests and plug-ins)."""
    strategy = get_strategy(name)
    del _STRATEGIES[name]
    return strategy


def get_strategy(name: Any) -> "Strategy":
    """The strategy registered as ``name``; an unknown name is a one-line :class:`ConfigError`
    listing the known ones."""
    if not _builtins_loaded:
        _load_builtins()
    try:
        return _STRATEGIES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"strategy={clip_repr(name)} is unknown; known strategies: {', '.join(_STRATEGIES)}") from None


def strategy_names(where: "Callable[[Strategy], bool] | None" = None) -> tuple[str, ...]:
    """The registered names, in registration order (the built-ins first); with ``where``, only the
    names of the strategies it accepts (e.g. ``lambda s: s.searches``: the names a study may use)."""
    _load_builtins()
    return tuple(name for name, strategy in _STRATEGIES.items() if where is None or where(strategy))


def strategies() -> tuple["Strategy", ...]:
    """The registered strategy objects, in registration order."""
    _load_builtins()
    return tuple(_STRATEGIES.values())
