"""The two topologies a family can have: their tie rules, width slots and search-space knobs.

* :class:`ResNetLikeFamily`: each stage is one residual stream (``stage.width``, tied by the residual
  sums); each block has its own free width (``block.inner``), tied only within a sharing run.
* :class:`LevelsFamily` (MgNet): each stage is a grid level with a solution ``u`` (``stage.width``)
  and data ``f`` (``block.inner``) of one width per level; level 0's ``f`` is the stem's output.

A concrete family subclasses one of them and adds ``complexity`` and ``build``. Pure Python.
"""

from __future__ import annotations

from abc import ABC

from mgsearch.errors import SpecError
from mgsearch.families.family import LEVELS, RESNET_LIKE, Family, SpaceKnobs
from mgsearch.spec import DEFAULT_BLOCK, ArchSpec, WidthSlot, sharing_runs

__all__ = ["ResNetLikeFamily", "LevelsFamily"]


def _inner_paths(i: int, blocks: range) -> tuple[str, ...]:
    return tuple(f"stages[{i}].blocks[{j}].inner" for j in blocks)


def _stage_slot(i: int, spec: ArchSpec) -> WidthSlot:
    stage = spec.stages[i]
    return WidthSlot(f"stages[{i}].width", "stage", (f"stages[{i}].width",), stage.width, stage.group_size or 1)


class ResNetLikeFamily(Family, ABC):
    """A family whose stages are residual streams and whose blocks have their own inner width."""

    topology = RESNET_LIKE
    knobs = SpaceKnobs(per_layer_inner=True, stem_is_first_inner=False)

    def width_slots(self, spec: ArchSpec) -> tuple[WidthSlot, ...]:
        """Stem; per stage its width, then one inner per sharing run (blocks of a run share it)."""
        slots = [WidthSlot("stem", "stem", ("stem.width",), spec.stem.width, 1)]
        for i, stage in enumerate(spec.stages):
            if stage.block != DEFAULT_BLOCK:  # a block form ties its stage's widths its own way
                slots += self.block_forms[stage.block].stage_slots(i, stage)
                continue
            m = stage.group_size or 1
            slots.append(_stage_slot(i, spec))
            for run in sharing_runs(stage):
                name = f"stages[{i}].blocks[{run.start}].inner" if len(run) == 1 else (
                    f"stages[{i}].blocks[{run.start}:{run.stop}].inner"
                )
                slots.append(WidthSlot(name, "inner", _inner_paths(i, run), stage.blocks[run.start].inner, m))
        return tuple(slots)


class LevelsFamily(Family, ABC):
    """A family whose stages are MgNet grid levels: ``f`` has one width per level, level 0's = the stem's."""

    topology = LEVELS
    knobs = SpaceKnobs(per_layer_inner=False, stem_is_first_inner=True)

    def validate(self, spec: ArchSpec) -> None:
        """Every block of a level has the level's f-width (the stem width on level 0), and the stem
        width is a multiple of level 0's group size."""
        for i, stage in enumerate(spec.stages):
            p = f"stages[{i}]"
            f_width = spec.stem.width if i == 0 else stage.blocks[0].inner
            where = "stem.width" if i == 0 else f"{p}.blocks[0].inner"
            for j, block in enumerate(stage.blocks):
                if block.inner != f_width:
                    raise SpecError(
                        f"{p}.blocks[{j}].inner={block.inner} differs from {where}={f_width}: "
                        f"in family {self.name!r} the data f has one width per level"
                    )
            s = stage.group_size
            if i == 0 and s is not None and spec.stem.width % s:
                raise SpecError(f"stem.width={spec.stem.width} is not a multiple of stages[0].group_size={s}")

    def width_slots(self, spec: ArchSpec) -> tuple[WidthSlot, ...]:
        """Stem together with level 0's f; per level its u-width, then (from level 1) its f-width."""
        first = spec.stages[0]
        paths = ("stem.width",) + _inner_paths(0, range(first.depth))
        slots = [WidthSlot("stem+stages[0].f", "stem", paths, spec.stem.width, first.group_size or 1)]
        for i, stage in enumerate(spec.stages):
            slots.append(_stage_slot(i, spec))
            if i > 0:
                slots.append(WidthSlot(f"stages[{i}].f", "inner", _inner_paths(i, range(stage.depth)),
                                       stage.blocks[0].inner, stage.group_size or 1))
        return tuple(slots)
