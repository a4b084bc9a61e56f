"""The registered MgNet families: ``mgnet`` and ``mgiad`` (one smoothing-step network over grid levels)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.families.mgnet import complexity as _cost
from mgsearch.families.topology import LevelsFamily
from mgsearch.layers.accounting import LayerCost
from mgsearch.errors import SpecError
from mgsearch.spec import ArchSpec, WidthSlot

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet

__all__ = ["SmoothingFamily", "MGNET", "MGIAD"]


class SmoothingFamily(LevelsFamily):
    """MgNet smoothing ``u <- u + s(B s(f - A u))``: A shared per level, B in runs, stride-2 transfers."""

    def validate(self, spec: ArchSpec) -> None:
        """The levels rules, and a ``poly`` level 0's width equal to the stem width (its f is the stem's output)."""
        super().validate(spec)
        first = spec.stages[0]
        if first.block == "poly" and first.width != spec.stem.width:
            raise SpecError(f"stages[0].width={first.width} differs from stem.width={spec.stem.width}: a poly "
                            f"level 0 has one width for f (the stem's output) and u")

    def width_slots(self, spec: ArchSpec) -> tuple[WidthSlot, ...]:
        """The levels slots; a ``poly`` level has one slot (f and u one width), level 0's with the stem."""
        if all(st.block != "poly" for st in spec.stages):
            return super().width_slots(spec)
        slots: list[WidthSlot] = []
        for slot in super().width_slots(spec):
            poly_level = _slot_level(slot, spec)
            if poly_level is None:
                slots.append(slot)
            elif not any(s.name == _poly_slot_name(poly_level) for s in slots):
                slots.append(_poly_slot(spec, poly_level))
        return tuple(slots)

    def complexity(self, spec: ArchSpec) -> list[LayerCost]:
        return _cost.complexity(spec)

    def build(self, spec: ArchSpec) -> "MgsearchNet":
        from mgsearch.families.mgnet.modules import MgNetLike

        return MgNetLike(spec)


def _slot_level(slot: WidthSlot, spec: ArchSpec) -> int | None:
    """The poly level whose widths ``slot`` sets (None: no poly level's)."""
    for path in slot.paths:
        for i, st in enumerate(spec.stages):
            if st.block == "poly" and (path.startswith(f"stages[{i}].") or (i == 0 and path == "stem.width")):
                return i
    return None


def _poly_slot_name(i: int) -> str:
    return "stem+stages[0]" if i == 0 else f"stages[{i}].width"


def _poly_slot(spec: ArchSpec, i: int) -> WidthSlot:
    """One slot for a poly level's f and u (with the stem on level 0)."""
    st = spec.stages[i]
    paths = (("stem.width",) if i == 0 else ()) + (f"stages[{i}].width",) + tuple(
        f"stages[{i}].blocks[{j}].inner" for j in range(st.depth))
    return WidthSlot(_poly_slot_name(i), "stem" if i == 0 else "stage", paths, st.width, 1)


MGNET = SmoothingFamily(
    name="mgnet",
    description="MgNet (He & Xu): multigrid smoothing u <- u + s(B s(f - A u)) with A shared per level, "
                "B shared in runs, stride-2 transfers",
    allows_sharing=True,
)
MGIAD = SmoothingFamily(
    name="mgiad",
    description="MGiaD: MgNet whose A, B, Pi and R are MGIC convs in stages with group_size "
                "(multigrid in all dimensions)",
    allows_group_size=True, allows_sharing=True,
)
