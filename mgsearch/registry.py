"""A name -> object table whose built-in entries are imported on first use: the common part of the
extension-point registries (families, metrics and strategies each hold one).

Importing it imports nothing but :mod:`mgsearch.errors`, so any tier may hold a registry.
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterator, TypeVar

from mgsearch.errors import clip_repr

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Objects of one kind by unique name, in registration order (the built-ins first).

    ``builtin`` is the module whose import registers the built-in objects (through :meth:`add`); it
    is imported on the first :meth:`add`, :meth:`get` or listing, never on import of the registry.
    ``unknown(message)`` builds the error for an unknown name (a ``ConfigError``, a ``SpecError``).
    """

    def __init__(self, kind: str, plural: str, builtin: str, unknown: Callable[[str], Exception]) -> None:
        self.kind, self.plural = kind, plural
        self._builtin = builtin
        self._unknown = unknown
        self._items: dict[str, T] = {}
        self._loaded = False

    def load_builtins(self) -> None:
        """Import the built-in module once (it registers through :meth:`add`)."""
        if self._loaded:
            return
        self._loaded = True  # set first: the built-in module registers through add()
        try:
            importlib.import_module(self._builtin)
        except BaseException:
            self._loaded = False
            raise

    def add(self, name: str, item: T) -> T:
        """Register ``item`` as ``name``; a taken name is a :class:`ValueError` naming it."""
        self.load_builtins()
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind}'s name must be a non-empty string, not {name!r}")
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered ({self._items[name]!r}); names must be unique")
        self._items[name] = item
        return item

    def remove(self, name: str) -> T:
        """Unregister ``name`` and return its object (an unknown name: see :meth:`get`)."""
        item = self.get(name)
        del self._items[name]
        return item

    def get(self, name: object) -> T:
        """The object registered as ``name``; an unknown name is ``unknown(message)`` listing the known ones."""
        try:  # the hot path (spec validation, cost): a registered name; add() loaded the built-ins first
            return self._items[name]  # type: ignore[index]
        except (KeyError, TypeError):
            pass
        self.load_builtins()
        try:
            return self._items[name]  # type: ignore[index]
        except (KeyError, TypeError):
            raise self._unknown(
                f"{self.kind}={clip_repr(name)} is unknown; known {self.plural}: {', '.join(self._items)}"
            ) from None

    def names(self, where: Callable[[T], bool] | None = None) -> tuple[str, ...]:
        """The registered names (with ``where``: of the objects it accepts), in registration order."""
        self.load_builtins()
        return tuple(name for name, item in self._items.items() if where is None or where(item))

    def values(self) -> tuple[T, ...]:
        """The registered objects, in registration order."""
        self.load_builtins()
        return tuple(self._items.values())

    def __iter__(self) -> Iterator[T]:
        return iter(self.values())

    def __contains__(self, name: object) -> bool:
        self.load_builtins()
        return name in self._items
