"""The family registry: name -> :class:`~mgsearch.families.family.Family` object.

This module imports nothing heavy, so :mod:`mgsearch.spec` (the lowest tier) may ask it about a
spec's family; that is the one allowed upward path. The built-in families
(:mod:`mgsearch.families.builtin`) are imported on the first lookup or registration, so importing
the registry never imports them (nor torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from mgsearch.errors import SpecError
from mgsearch.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.family import Family

__all__ = ["register_family", "unregister_family", "get_family", "family_names", "families"]

_REGISTRY: "Registry[Family]" = Registry("family", "families", "mgsearch.families.builtin", SpecError)


def register_family(family: "Family") -> "Family":
    """Register ``family`` under ``family.name`` and return it.

    A name that is already registered is a :class:`ValueError` naming it (unregister the old one
    first to replace it). The built-in families are loaded first, so a name clash with one of them
    is reported here, not later.
    """
    from mgsearch.families.family import Family, SpaceKnobs

    if not isinstance(family, Family):
        raise TypeError(f"register_family expects a Family, got {type(family).__name__}")
    topology, knobs = getattr(family, "topology", None), getattr(family, "knobs", None)
    if not isinstance(topology, str) or not isinstance(knobs, SpaceKnobs):
        raise TypeError(f"{family!r} must set topology (a str) and knobs (a SpaceKnobs); subclass a topology base")
    return _REGISTRY.add(family.name, family)


def unregister_family(name: str) -> "Family":
    """Remove the family ``name`` from the registry and return it (for tests and plug-ins)."""
    return _REGISTRY.remove(name)


def get_family(name: object) -> "Family":
    """The family registered as ``name``; an unknown name is a :class:`SpecError` listing the known ones."""
    return _REGISTRY.get(name)


def family_names(where: "Callable[[Family], bool] | None" = None) -> tuple[str, ...]:
    """The registered names, in registration order (the built-ins first); with ``where``, only the
    names of the families it accepts (e.g. ``lambda f: f.allows_group_size``)."""
    return _REGISTRY.names(where)


def families() -> tuple["Family", ...]:
    """The registered family objects, in registration order."""
    return _REGISTRY.values()
