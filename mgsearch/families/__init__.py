"""Architecture families: ``spec -> nn.Module`` and the analytic per-layer complexity.

Importing this package does not import torch; :func:`build` does. Every family module exposes
``build(spec) -> MgsearchNet`` and ``complexity(spec) -> list[LayerCost]``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from mgsearch.errors import SpecError
from mgsearch.families import dacnn, mgiad, mgic, mgnet, resnet
from mgsearch.layers.accounting import LayerCost
from mgsearch.spec import ArchSpec

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet

#: family name -> module with ``build(spec)`` and ``complexity(spec)``
FAMILY_REGISTRY: dict[str, ModuleType] = {m.FAMILY: m for m in (resnet, mgic, dacnn, mgnet, mgiad)}

__all__ = ["FAMILY_REGISTRY", "build", "complexity", "family_module"]


def family_module(spec: ArchSpec) -> ModuleType:
    """The registry entry of ``spec.family`` (a :class:`SpecError` for an unknown family)."""
    if not isinstance(spec, ArchSpec):
        raise SpecError(f"expected an ArchSpec, got {type(spec).__name__}")
    try:
        return FAMILY_REGISTRY[spec.family]
    except KeyError:
        raise SpecError(f"family={spec.family!r} is unknown; known families: {', '.join(FAMILY_REGISTRY)}") from None


def build(spec: ArchSpec) -> "MgsearchNet":
    """Build the network of ``spec`` (an :class:`~mgsearch.families.base.MgsearchNet`), freshly initialised."""
    return family_module(spec).build(spec)


def complexity(spec: ArchSpec) -> list[LayerCost]:
    """Per-layer analytic cost rows of ``spec``, without building anything."""
    return family_module(spec).complexity(spec)
