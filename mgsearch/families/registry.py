"""The family registry: name -> :class:`~mgsearch.families.family.Family` object.

This module imports nothing heavy, so :mod:`mgsearch.spec` (the lowest tier) may ask it about a
spec's family; that is the one allowed upward path. The built-in families
(:mod:`mgsearch.families.builtin`) are imported on the first lookup or registration, so importing
the registry never imports them (nor torch).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

from mgsearch.errors import SpecError, clip_repr

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.family import Family

__all__ = ["register_family", "unregister_family", "get_family", "family_names", "families"]

_BUILTIN = "mgsearch.families.builtin"
_FAMILIES: dict[str, "Family"] = {}
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True  # set first: the built-in module registers through register_family
    try:
        importlib.import_module(_BUILTIN)
    except BaseException:
        _builtins_loaded = False
        raise


def register_family(family: "Family") -> "Family":
    """Register ``family`` under ``family.name`` and return it.

    A name that is already registered is a :class:`ValueError` naming it (unregister the old one
    first to replace it). The built-in families are loaded first, so a name clash with one of them
    is reported here, not later.
    """
    from mgsearch.families.family import Family, SpaceKnobs

    _load_builtins()
    if not isinstance(family, Family):
        raise TypeError(f"register_family expects a Family, got {type(family).__name__}")
    topology, knobs = getattr(family, "topology", None), getattr(family, "knobs", None)
    if not isinstance(topology, str) or not isinstance(knobs, SpaceKnobs):
        raise TypeError(f"{family!r} must set topology (a str) and knobs (a SpaceKnobs); subclass a topology base")
    name = family.name
    if not isinstance(name, str) or not name:
        raise ValueError(f"a family's name must be a non-empty string, not {name!r}")
    if name in _FAMILIES:
        raise ValueError(f"family {name!r} is already registered ({_FAMILIES[name]!r}); names must be unique")
    _FAMILIES[name] = family
    return family


def unregister_family(name: str) -> "Family":
    """Remove the family ``name`` from the registry and return it (for tests and plug-ins)."""
    family = get_family(name)
    del _FAMILIES[name]
    return family


def get_family(name: Any) -> "Family":
    """The family registered as ``name``; an unknown name is a :class:`SpecError` listing the known ones."""
    if not _builtins_loaded:
        _load_builtins()
    try:
        return _FAMILIES[name]
    except (KeyError, TypeError):
        raise SpecError(f"family={clip_repr(name)} is unknown; known families: {', '.join(_FAMILIES)}") from None


def family_names(where: "Callable[[Family], bool] | None" = None) -> tuple[str, ...]:
    """The registered names, in registration order (the built-ins first); with ``where``, only the
    names of the families it accepts (e.g. ``lambda f: f.allows_group_size``)."""
    _load_builtins()
    return tuple(name for name, family in _FAMILIES.items() if where is None or where(family))


def families() -> tuple["Family", ...]:
    """The registered family objects, in registration order."""
    _load_builtins()
    return tuple(_FAMILIES.values())
