"""Architecture families: registered :class:`Family` objects (rules, width slots, cost, build).

Importing this package imports neither torch nor the built-in families: the registry loads them on
the first lookup, and :func:`build` imports torch. ``build(spec)`` and ``complexity(spec)`` ask the
registry for ``spec.family``.

Layout: :mod:`.family` (the protocol), :mod:`.registry` (register / look up), :mod:`.topology`
(ResNet-like and MgNet-levels rules), :mod:`.builtin` (the built-in registrations), one package per
network implementation (:mod:`.residual`, :mod:`.mgnet`) with ``complexity`` (analytic), ``modules``
(torch) and ``family`` (the Family objects), :mod:`.common` (stem / head cost rows) and
:mod:`.base` (the torch base class of every network).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.errors import SpecError
from mgsearch.families.family import LEVELS, RESNET_LIKE, Family, SpaceKnobs
from mgsearch.families.registry import families, family_names, get_family, register_family, unregister_family
from mgsearch.layers.accounting import LayerCost
from mgsearch.spec import ArchSpec

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet

__all__ = [
    "Family", "SpaceKnobs", "RESNET_LIKE", "LEVELS",
    "register_family", "unregister_family", "get_family", "family_names", "families",
    "family_of", "build", "complexity",
]


def family_of(spec: ArchSpec) -> Family:
    """The registered family of ``spec`` (a :class:`SpecError` for anything but an ArchSpec)."""
    if not isinstance(spec, ArchSpec):
        raise SpecError(f"expected an ArchSpec, got {type(spec).__name__}")
    return get_family(spec.family)


def build(spec: ArchSpec) -> "MgsearchNet":
    """Build the network of ``spec`` (an :class:`~mgsearch.families.base.MgsearchNet`), freshly initialised."""
    return family_of(spec).build(spec)


def complexity(spec: ArchSpec) -> list[LayerCost]:
    """Per-layer analytic cost rows of ``spec``, without building anything."""
    return family_of(spec).complexity(spec)
