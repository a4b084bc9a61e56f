"""Rules and width slots shared by the block forms whose blocks have no inner width of their own
(``vcycle``, ``anchored``, ``plain``, ``poly``: every block's ``inner`` is the stage width)."""

from __future__ import annotations

from typing import Callable

from mgsearch.errors import SpecError
from mgsearch.spec import Stage, WidthSlot

__all__ = ["tied_width_slot", "check_tied_stage", "check_share_one_and_tied_inner"]


def tied_width_slot(i: int, stage: Stage, multiple_of: int = 1,
                    allowed: Callable[[int], bool] | None = None) -> WidthSlot:
    """The one slot of stage ``i``: its width and every block's inner (``stages[i].width``)."""
    paths = (f"stages[{i}].width",) + tuple(f"stages[{i}].blocks[{j}].inner" for j in range(stage.depth))
    return WidthSlot(f"stages[{i}].width", "stage", paths, stage.width, multiple_of, allowed)


def check_tied_stage(path: str, stage: Stage, form: str, *, share_why: str, inner_why: str,
                     coarse_why: str = "") -> None:
    """A stage of ``form`` with no group size, no coarse width, share 1 and every inner = width;
    ``*_why``: the reason each message gives."""
    b = f'block="{form}"'
    if stage.group_size is not None:
        raise SpecError(f"{path}.group_size={stage.group_size} is not allowed with {b} (use null)")
    if stage.coarse_width is not None:
        raise SpecError(f"{path}.coarse_width={stage.coarse_width} is not allowed with {b}{coarse_why}")
    check_share_one_and_tied_inner(path, stage, form, share_why=share_why, inner_why=inner_why)


def check_share_one_and_tied_inner(path: str, stage: Stage, form: str, *, share_why: str, inner_why: str) -> None:
    """``share`` is 1 and every block's ``inner`` is the stage width (messages give the reasons)."""
    if stage.share != 1:
        b = f'block="{form}"'
        raise SpecError(f"{path}.share={stage.share} is not allowed with {b} (use 1{': ' + share_why if share_why else ''})")
    for j, block in enumerate(stage.blocks):
        if block.inner != stage.width:
            raise SpecError(f"{path}.blocks[{j}].inner={block.inner} differs from {path}.width={stage.width}: "
                            f"{inner_why}")
