"""The MGIC inverted-residual block as its authors built it (``Stage.block = "vcycle"`` in ``mobilenet``).

Reference: BGUCompSci/MultigridInChannelsCNNs, ``mobilenetv3_MG.py`` (``MGBottleneck`` ->
``MgBlockDwGroup`` with ``genTensor4CycleDwGroup`` / ``netMGParamsDWGroup``; the driver's defaults:
``pwGroup=True``, ``mbnet=True``, serial cycle, ``fixGroup=True``). A block ``c_in -> width`` with
expanded width ``inner`` (their ``mid``) is a nonlinear V-cycle over channel levels
``c_l = width // 2^l`` with expanded widths ``m_l = inner // 2^l``; the halving stops at the first half
below ``coarse_width`` (their ``mgFcChannel``), which is the coarsest level ``L`` (``L >= 1``)::

    x = enter(x)                   only when the block changes width or stride: a 1x1 conv c_in -> width
                                   with the stride (no BN, no activation: their "connector")
    x_{l+1} = bn_l(R_l x_l)        l = 0..L-1: 1x1, groups g_l, c_l -> c_l / 2
    y_L = mb_L(x_L)                the coarsest level: an inverted residual with dense 1x1 convs
    z_l = x_l + bnp_l(P_l(y_{l+1} - x_{l+1}))        P_l: 1x1, groups g_l, c_l / 2 -> c_l
    y_l = mb_l(z_l)                an inverted residual whose 1x1 convs have groups g_l

    mb(x) = relu(f(x) + x) + x     their ``mbnetStep``, with the MobileNetV3 body
    f = [expand 1x1 c -> m, BN, act,] depthwise kxk on m, BN, [act, SE | SE, act], project 1x1 m -> c, BN

(without the expand conv when ``m == c``; with it, their SE comes before the activation). The groups of
level ``l`` are their ``groupsChannel``: the largest ``g <= max(c_l // group_size, 1)`` that divides both
``c_l`` and ``m_l``. The block's output is ``y_0``. Their R / P start as averaging operators, but their
``MGMBV3`` re-initialises every conv afterwards (normal, std ``sqrt(2 / (k^2 c_out))``), so mgsearch
initialises these convs like every other conv.

Widths: every level above the coarsest is even (their ``int(c / 2)`` halving) and R / P of level ``l``
exist only when ``c_l / g_l`` is even; a width whose levels all have ``2^v2(c_l) > max(c_l // group_size, 1)``
satisfies this for every inner width (:func:`width_ok`: the widths of their MobileNetV3 configurations
do). Widths need not be multiples of the group size. Every block needs ``inner >= 2^L`` (``m_L >= 1``).
``share`` is 1. Pure Python: the torch modules are in :mod:`mgsearch.families.mobilenet.vcycle_modules`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from mgsearch.errors import SpecError
from mgsearch.families.family import BlockForm
from mgsearch.families.mobilenet.complexity import se_complexity
from mgsearch.layers.accounting import LayerCost, bn_row, conv_row, out_size
from mgsearch.layers.channels import halving_levels
from mgsearch.spec import Block, Stage, WidthSlot

__all__ = ["MobileVCycleForm", "MOBILE_VCYCLE", "channel_levels", "level_groups", "width_ok", "inner_ok",
           "mb_complexity", "vcycle_block_complexity"]


def channel_levels(width: int, coarse_width: int) -> list[int]:
    """``[c_0, ..., c_L]`` (their ``nOutput / 2 < mgFcChannel`` stop): :func:`mgsearch.layers.channels.halving_levels`."""
    return halving_levels(width, coarse_width)


def level_groups(c: int, m: int, s: int) -> int:
    """Their ``groupsChannel``: the largest ``g <= max(c // s, 1)`` dividing both ``c`` and ``m``."""
    g = max(c // s, 1)
    while c % g or m % g:
        g -= 1
    return g


def _two_power(c: int) -> int:
    return c & -c


def width_ok(width: int, group_size: int, coarse_width: int) -> bool:
    """Every level above the coarsest is even and ``2^v2(c_l) > max(c_l // group_size, 1)``: R and P
    exist (``c_l / g_l`` even) whatever the inner width (the rule of the stage width slot)."""
    return all(c % 2 == 0 and _two_power(c) > max(c // group_size, 1)
               for c in channel_levels(width, coarse_width)[:-1])


def inner_ok(inner: int, width: int, coarse_width: int) -> bool:
    """The coarsest expanded width ``inner // 2^L`` is at least 1."""
    return inner >> (len(channel_levels(width, coarse_width)) - 1) >= 1


def mb_complexity(name: str, c: int, m: int, kernel: int, size: int, se: bool, groups: int) -> list[LayerCost]:
    """Rows of one level's inverted residual (``c -> m -> c``, 1x1 convs with ``groups``) on ``size x size``."""
    rows: list[LayerCost] = []
    if m != c:
        rows += [conv_row(f"{name}.expand.conv", c, m, 1, 1, size, groups=groups), bn_row(f"{name}.expand.bn", m, size)]
    rows += [conv_row(f"{name}.dw.conv", m, m, kernel, 1, size, groups=m), bn_row(f"{name}.dw.bn", m, size)]
    if se:
        rows += se_complexity(f"{name}.se", m)
    return rows + [conv_row(f"{name}.project.conv", m, c, 1, 1, size, groups=groups),
                   bn_row(f"{name}.project.bn", c, size)]


def vcycle_block_complexity(name: str, c_in: int, block: Block, width: int, stride: int, size: int, s: int,
                            coarse_width: int) -> list[LayerCost]:
    """Rows of one MGIC inverted-residual block on a ``size x size`` input, in forward order."""
    rows: list[LayerCost] = []
    if stride != 1 or c_in != width:
        rows.append(conv_row(f"{name}.enter", c_in, width, 1, stride, size))
        size = out_size(size, stride)
    levels = channel_levels(width, coarse_width)
    mids = [block.inner >> l for l in range(len(levels))]
    groups = [level_groups(c, m, s) for c, m in zip(levels[:-1], mids)]
    for l, g in enumerate(groups):
        rows += [conv_row(f"{name}.down.{l}.R", levels[l], levels[l + 1], 1, 1, size, groups=g),
                 bn_row(f"{name}.down.{l}.bn", levels[l + 1], size)]
    rows += mb_complexity(f"{name}.coarse", levels[-1], mids[-1], block.kernel, size, block.se, 1)
    for l in range(len(groups) - 1, -1, -1):
        c, g, p = levels[l], groups[l], f"{name}.up.{l}"
        rows += [conv_row(f"{p}.P", levels[l + 1], c, 1, 1, size, groups=g), bn_row(f"{p}.bnp", c, size)]
        rows += mb_complexity(p, c, mids[l], block.kernel, size, block.se, g)
    return rows


class MobileVCycleForm(BlockForm):
    """The ``vcycle`` block form of ``mobilenet`` (see the module docstring)."""

    name = "vcycle"
    description = ("the MGIC authors' inverted-residual block (mobilenetv3_MG.py MgBlockDwGroup): a nonlinear "
                   "V-cycle over channel levels with grouped 1x1 convs; coarse_width = their mgFcChannel, "
                   "group_size = their numberOfFixGroup")
    needs_group_size = True
    forces_share_one = True
    uses_coarse_width = True
    #: widths need not be multiples of the group size (the groups are their groupsChannel)
    widths_multiple_of_group_size = False

    def validate_stage(self, path: str, stage: Stage, c_in: int) -> None:
        s, cw = stage.group_size, stage.coarse_width
        if s is None:
            raise SpecError(f"{path}.group_size=null: block=\"vcycle\" needs a group size (the authors' "
                            f"numberOfFixGroup: 1x1 convs of a level of c channels have about c / group_size groups)")
        if cw is None:
            raise SpecError(f"{path}.coarse_width is missing: block=\"vcycle\" needs it (the authors' "
                            f"mgFcChannel, e.g. 32)")
        if stage.share != 1:
            raise SpecError(f"{path}.share={stage.share} is not allowed with block=\"vcycle\" (use 1)")
        if not width_ok(stage.width, s, cw):
            levels = channel_levels(stage.width, cw)[:-1]
            raise SpecError(
                f"{path}.width={stage.width} gives channel levels {levels} (coarse_width={cw}); each must be even "
                f"with 2^(its factors of two) > level // group_size={s} (e.g. group_size * 2^k, or 16, 24, 40, 48, 96)"
            )
        for j, block in enumerate(stage.blocks):
            if not inner_ok(block.inner, stage.width, cw):
                n = len(channel_levels(stage.width, cw)) - 1
                raise SpecError(f"{path}.blocks[{j}].inner={block.inner} is below 2^{n}={2 ** n}: the coarsest of "
                                f"the {n + 1} channel levels of width {stage.width} would have no expanded channel")

    def stage_slots(self, i: int, stage: Stage) -> list[WidthSlot]:
        s, cw = stage.group_size, stage.coarse_width
        rule = None if s is None or cw is None else partial(width_ok, group_size=s, coarse_width=cw)
        slots = [WidthSlot(f"stages[{i}].width", "stage", (f"stages[{i}].width",), stage.width, 2, rule)]
        inner_rule = None if cw is None else partial(_inner_rule, width=stage.width, coarse_width=cw)
        for j, block in enumerate(stage.blocks):
            path = f"stages[{i}].blocks[{j}].inner"
            slots.append(WidthSlot(path, "inner", (path,), block.inner, 1, inner_rule))
        return slots

    def width_allowed(self, width: int, group_size: int, coarse_width: int) -> bool:
        """Search spaces: ``width`` is a valid stage width with this group size and coarse width."""
        return width_ok(width, group_size, coarse_width)

    def inner_allowed(self, inner: int, width: int, group_size: int, coarse_width: int) -> bool:
        """Search spaces: ``inner`` is a valid expanded width of a block of a stage of ``width``."""
        return inner_ok(inner, width, coarse_width)

    def stage_complexity(self, i: int, stage: Stage, c_in: int, size: int) -> list[LayerCost]:
        rows: list[LayerCost] = []
        for j, block in enumerate(stage.blocks):
            stride = stage.stride if j == 0 else 1
            rows += vcycle_block_complexity(f"stages.{i}.blocks.{j}", c_in, block, stage.width, stride, size,
                                            stage.group_size, stage.coarse_width)  # type: ignore[arg-type]
            size, c_in = out_size(size, stride), stage.width
        return rows

    def build_stage(self, i: int, stage: Stage, c_in: int, gate: Any) -> Any:
        from mgsearch.families.mobilenet.vcycle_modules import VCycleStage

        return VCycleStage(i, stage, c_in, gate)


def _inner_rule(inner: int, *, width: int, coarse_width: int) -> bool:
    return inner_ok(inner, width, coarse_width)


MOBILE_VCYCLE = MobileVCycleForm()
