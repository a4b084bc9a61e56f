"""The MGIC block as its authors built it (``Stage.block = "vcycle"`` in family ``mgic``).

Reference: BGUCompSci/MultigridInChannelsCNNs, ``resnetMG.py`` (``MgBlockDwGroup``, default form:
``pwGroup=True``, ``bottleneck=False``, one-sided, serial cycle). A nonlinear V-cycle over channel
levels ``c_0 = width, c_{l+1} = c_l / 2``; the halving stops at the first half below
``coarse_width`` (the authors' ``mgFcChannel``), which is the coarsest level ``L`` (``L >= 1``)::

    x = relu(bn(enter(x)))       only when the block changes width or stride: 3x3, stride,
                                 groups gcd(c_in, width) (= c_in, depthwise, in the authors' code)
    x_{l+1} = R_l x_l            l = 0..L-1: 1x1, groups g_l = max(c_l // s, 1), c_l -> c_l / 2
    y_L = relu(x_L + bn2(conv2(relu(bn1(conv1(x_L))))))          dense 3x3 residual block
    z_l = x_l + bnp_l(P_l(y_{l+1} - x_{l+1}))                     P_l: 1x1, groups g_l, c_l/2 -> c_l
    y_l = relu(z_l + bn2_l(conv2_l(relu(bn1_l(conv1_l(z_l))))))   3x3 convs with groups g_l

The block's output is ``y_0`` (no skip around the whole block). R and P start as averaging
operators (every weight ``1/s``, as the authors' block initialises them).

Widths: the blocks of a vcycle stage have no free inner width (``blocks[j].inner`` equals
``stage.width``: one width slot per stage); every level above the coarsest is even and, when it is
at least ``s``, a multiple of ``s``; ``share`` is 1. Pure Python: the torch modules are in
:mod:`mgsearch.families.residual.vcycle_modules`.

Cycle variants (the options of the authors' ``MgBlockDwGroup``), each a registered block form of
its own, so a spec states it with ``Stage.block`` and a space searches it with ``block = [...]``
(no new spec field: every existing spec keeps its JSON and hash):

* ``vcycle``: the serial one-sided cycle above (the authors' default);
* ``vcycle_rt``: ``P_l = R_l^T`` (their ``reuse_PR``): no P weights; the coarse correction applies the
  transpose of R's grouped 1x1 weights, which, as in their ``R.weight.data``, carries no gradient
  (R learns through the restriction only);
* ``vcycle_two_sided`` / ``vcycle_two_sided_rt``: smoothing on the way down too (their
  ``twoSided``): ``x_l <- relu(x_l + bn(conv(relu(bn(conv(x_l))))))`` (grouped 3x3, ``g_l``) before
  ``R_l``; the authors' code builds these two convs without BatchNorm and then calls ``bn1``/``bn2``
  (it cannot run); mgsearch gives them their BatchNorms like every other smoother;
* ``vcycle_parallel``: the additive cycle (their ``mgParallelMode``): ``x_{l+1} = R_l x_l`` (the
  unsmoothed ``x_l``), ``s_l = smoother_l(x_l)`` on every level (dense on the coarsest), output
  ``relu(x_0 + s_0 + P_0(s_1 + P_1(s_2 + ... + P_{L-1} s_L)))``; no BatchNorm after P and no
  smoothers on the way up. The authors' loop prolongates every level's term separately (``P_l`` is
  applied ``L - l`` times); mgsearch nests the sum (each ``P_l`` once): the same function (P is
  linear), fewer MACs, and the MACs counted are mgsearch's.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from mgsearch.errors import SpecError
from mgsearch.families.family import BlockForm
from mgsearch.families.form_rules import check_share_one_and_tied_inner, tied_width_slot
from mgsearch.layers.accounting import LayerCost, bn_row, conv_row, out_size
from mgsearch.spec import Stage, WidthSlot

__all__ = ["VCycleForm", "VCYCLE", "VCYCLE_FORMS", "CYCLES", "vcycle_levels", "level_groups", "vcycle_block_complexity", "vcycle_width_ok"]


def level_groups(c: int, s: int) -> int:
    """Groups of the convs of a level of width ``c`` (the authors' ``max(c / s, 1)``)."""
    return max(c // s, 1)


def vcycle_levels(width: int, coarse_width: int) -> list[int]:
    """``[c_0, ..., c_L]``: halve while the half is ``>= coarse_width``; the first half below it is
    the last (coarsest) entry. Always at least two levels (the authors' block restricts once)."""
    levels = [width]
    while True:
        levels.append(levels[-1] // 2)
        if levels[-1] < coarse_width:
            return levels


def vcycle_width_ok(width: int, group_size: int, coarse_width: int) -> bool:
    """The level rule of a vcycle stage: every level above the coarsest is even and, when it is at
    least ``group_size``, a multiple of it (widths ``group_size * 2^k`` with a power-of-two group size
    always are). Width slots of vcycle stages carry it as their ``allowed`` rule."""
    s = group_size
    return all(c % 2 == 0 and (c < s or c % s == 0) for c in vcycle_levels(width, coarse_width)[:-1])


#: the cycles a vcycle form may run (see the module docstring)
CYCLES = ("serial", "two_sided", "parallel")


def _smoother_rows(p: str, c: int, g: int, size: int) -> list[LayerCost]:
    """``relu(x + bn2(conv2(relu(bn1(conv1(x))))))`` with 3x3 convs of ``g`` groups, at ``p``."""
    return [conv_row(f"{p}.conv1", c, c, 3, 1, size, groups=g), bn_row(f"{p}.bn1", c, size),
            conv_row(f"{p}.conv2", c, c, 3, 1, size, groups=g), bn_row(f"{p}.bn2", c, size)]


def vcycle_block_complexity(name: str, c_in: int, width: int, stride: int, size: int, s: int,
                            coarse_width: int, cycle: str = "serial", transpose: bool = False) -> list[LayerCost]:
    """Rows of one V-cycle block on a ``size x size`` input, in forward order (``cycle`` one of
    :data:`CYCLES`; ``transpose``: ``P_l = R_l^T``, rows of the transposed R with no params)."""
    rows: list[LayerCost] = []
    if stride != 1 or c_in != width:
        rows.append(conv_row(f"{name}.enter.conv", c_in, width, 3, stride, size,
                             groups=_gcd(c_in, width)))
        size = out_size(size, stride)
        rows.append(bn_row(f"{name}.enter.bn", width, size))
    levels = vcycle_levels(width, coarse_width)
    fine = levels[:-1]
    for l, c in enumerate(fine):
        if cycle == "two_sided":
            rows += _smoother_rows(f"{name}.pre.{l}", c, level_groups(c, s), size)
        elif cycle == "parallel":
            rows += _smoother_rows(f"{name}.smooth.{l}", c, level_groups(c, s), size)
        rows.append(conv_row(f"{name}.down.{l}", c, c // 2, 1, 1, size, groups=level_groups(c, s)))
    rows += _smoother_rows(f"{name}.coarse", levels[-1], 1, size)
    for l in range(len(fine) - 1, -1, -1):
        c, g, p = fine[l], level_groups(fine[l], s), f"{name}.up.{l}"
        if cycle == "parallel":
            rows.append(conv_row(f"{name}.prolong.{l}", c // 2, c, 1, 1, size, groups=g))
            continue
        if transpose:
            rows.append(conv_row(f"{name}.down.{l}#T", c // 2, c, 1, 1, size, groups=g,
                                 shared_with=f"{name}.down.{l}"))
        else:
            rows.append(conv_row(f"{p}.P", c // 2, c, 1, 1, size, groups=g))
        rows.append(bn_row(f"{p}.bnp", c, size))
        rows += _smoother_rows(p, c, g, size)
    return rows


def _gcd(a: int, b: int) -> int:
    from math import gcd

    return gcd(a, b)


class VCycleForm(BlockForm):
    """A ``vcycle`` block form (see the module docstring): ``cycle`` one of :data:`CYCLES`,
    ``transpose`` for ``P = R^T``."""

    needs_group_size = True
    ties_inner_to_width = True
    forces_share_one = True
    uses_coarse_width = True

    def __init__(self, name: str, description: str, cycle: str = "serial", transpose: bool = False) -> None:
        if cycle not in CYCLES or (transpose and cycle == "parallel"):
            raise ValueError(f"cycle={cycle!r}, transpose={transpose} is not a vcycle variant")
        self.name, self.description, self.cycle, self.transpose = name, description, cycle, transpose

    def validate_stage(self, path: str, stage: Stage, c_in: int) -> None:
        s, b = stage.group_size, f'block="{self.name}"'
        if s is None:
            raise SpecError(f"{path}.group_size=null: {b} needs a group size (its grouped convs "
                            f"have groups of group_size channels)")
        if stage.coarse_width is None:
            raise SpecError(f"{path}.coarse_width is missing: {b} needs it (the authors' "
                            f"mgFcChannel, e.g. 32)")
        check_share_one_and_tied_inner(path, stage, self.name, share_why="",
                                       inner_why="a vcycle block has no inner width of its own")
        for c in vcycle_levels(stage.width, stage.coarse_width)[:-1]:
            if c % 2 or (c >= s and c % s):
                raise SpecError(
                    f"{path}.width={stage.width} gives channel level {c} (coarse_width={stage.coarse_width}), "
                    f"which must be even and, when >= group_size={s}, a multiple of it"
                )

    def stage_slots(self, i: int, stage: Stage) -> list[WidthSlot]:
        rule = None
        if stage.group_size is not None and stage.coarse_width is not None:
            rule = partial(vcycle_width_ok, group_size=stage.group_size, coarse_width=stage.coarse_width)
        return [tied_width_slot(i, stage, stage.group_size or 1, rule)]

    def width_allowed(self, width: int, group_size: int, coarse_width: int) -> bool:
        """Search spaces: ``width`` is a valid stage width with this group size and coarse width."""
        return vcycle_width_ok(width, group_size, coarse_width)

    def stage_complexity(self, i: int, stage: Stage, c_in: int, size: int) -> list[LayerCost]:
        rows: list[LayerCost] = []
        for j in range(stage.depth):
            stride = stage.stride if j == 0 else 1
            rows += vcycle_block_complexity(f"stages.{i}.blocks.{j}", c_in, stage.width, stride, size,
                                            stage.group_size, stage.coarse_width,  # type: ignore[arg-type]
                                            self.cycle, self.transpose)
            size, c_in = out_size(size, stride), stage.width
        return rows

    def build_stage(self, i: int, stage: Stage, c_in: int, gate: Any) -> Any:
        from mgsearch.families.residual.vcycle_modules import VCycleStage

        return VCycleStage(i, stage, c_in, gate, self.cycle, self.transpose)


VCYCLE = VCycleForm("vcycle", "the authors' MGIC block: a nonlinear V-cycle over channel levels (resnetMG.py "
                              "MgBlockDwGroup, serial one-sided cycle); coarse_width = their mgFcChannel")
VCYCLE_RT = VCycleForm("vcycle_rt", "vcycle with P = R^T (the authors' reuse_PR)", transpose=True)
VCYCLE_TWO_SIDED = VCycleForm("vcycle_two_sided", "vcycle with smoothing on the way down too (the authors' "
                                                  "twoSided)", cycle="two_sided")
VCYCLE_TWO_SIDED_RT = VCycleForm("vcycle_two_sided_rt", "vcycle_two_sided with P = R^T", cycle="two_sided",
                                 transpose=True)
VCYCLE_PARALLEL = VCycleForm("vcycle_parallel", "the additive (parallel) V-cycle (the authors' mgParallelMode)",
                             cycle="parallel")
#: every vcycle form, the default first (registered on mgic in ``families/builtin.py``)
VCYCLE_FORMS = (VCYCLE, VCYCLE_RT, VCYCLE_TWO_SIDED, VCYCLE_TWO_SIDED_RT, VCYCLE_PARALLEL)
