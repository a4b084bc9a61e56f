"""Analytic cost of the MgNet families (``mgnet``, ``mgiad``), level by level.

Levels are stages. ``stem.width`` is the width of ``f`` on level 0, ``stage.width`` the width of
``u``, ``blocks[j].inner`` the width of ``f`` on that level. The stem conv uses ``stages[0].stride``.

* start: ``f = relu(bn(conv3x3(x)))``, ``u = 0``;
* step j on level l: ``u <- u + relu(bn(B_j(relu(bn(f - A u)))))``; ``A`` (u -> f) is one conv per
  level shared by all its applications, ``B_j`` (f -> u) shared in runs of ``share`` steps;
* into level l+1 (stride t): ``u' = relu(bn(Pi(u)))``, ``f' = relu(bn(R(f - A u))) + A' u'``.

Zero work is skipped and nothing is computed twice: the first step of level 0 uses ``f`` itself
(``A 0 = 0``), and the first step of a later level reuses ``A' u'`` from the transfer. ``A`` is
only created when it is applied at least once. In ``mgiad`` A, B, Pi and R of a stage with
``group_size`` are MGIC convs (Pi and R take the group size of the level they lead into). A level
with ``block = "poly"`` is Poly-MgNet's (:mod:`mgsearch.families.mgnet.poly`).
"""

from __future__ import annotations

from mgsearch.families.common import head_complexity, stem_complexity
from mgsearch.families.mgnet.poly import poly_step_rows, poly_transfer_rows
from mgsearch.layers.accounting import LayerCost, bn_row, conv3x3_row, out_size
from mgsearch.spec import ArchSpec, Stage, sharing_runs

__all__ = ["f_width", "a_applications", "b_owners", "transfer_complexity", "step_complexity", "complexity"]


def f_width(spec: ArchSpec, level: int) -> int:
    """Width of the data ``f`` on ``level``."""
    return spec.stem.width if level == 0 else spec.stages[level].blocks[0].inner


def a_applications(spec: ArchSpec, level: int) -> int:
    """How many times ``A`` of ``level`` is applied in one forward pass (0: not built)."""
    depth = spec.stages[level].depth
    n = depth - 1 + (1 if level > 0 else 0)  # steps after the first, + the transfer's A' u'
    if level < len(spec.stages) - 1:
        n += 1  # the residual f - A u restricted to the next level
    return n


def b_owners(stage: Stage) -> list[int]:
    """For each step, the index of the step whose B it uses (the first of its sharing run)."""
    return [run.start for run in sharing_runs(stage) for _ in run]


class _AApplications:
    """Names the applications of each level's shared ``A``: ``stages.l.A``, then ``stages.l.A#2``, ..."""

    def __init__(self, spec: ArchSpec) -> None:
        self.spec = spec
        self.count: dict[int, int] = {}

    def row(self, level: int, size: int) -> LayerCost:
        """The row of the next application of ``A`` of ``level`` on a ``size x size`` u."""
        n = self.count.get(level, 0) + 1
        self.count[level] = n
        st = self.spec.stages[level]
        name = f"stages.{level}.A"
        return conv3x3_row(name if n == 1 else f"{name}#{n}", st.width, f_width(self.spec, level), 1, size,
                           st.group_size, shared_with=None if n == 1 else name)


def transfer_complexity(spec: ArchSpec, level: int, size: int, a: _AApplications) -> list[LayerCost]:
    """Rows of the transfer into ``level`` (> 0) from a ``size x size`` finer level:
    ``f - A u`` there, ``Pi``, ``R`` with their BNs, and ``A' u'`` on the new level."""
    stage, prev = spec.stages[level], spec.stages[level - 1]
    s, uw, fw = stage.group_size, stage.width, f_width(spec, level)
    h = out_size(size, stage.stride)
    if stage.block == "poly":
        return [a.row(level - 1, size),
                *poly_transfer_rows(level, prev.width, f_width(spec, level - 1), uw, stage.stride, size),
                a.row(level, h)]
    return [
        a.row(level - 1, size),
        conv3x3_row(f"stages.{level}.Pi", prev.width, uw, stage.stride, size, s),
        bn_row(f"stages.{level}.bn_Pi", uw, h),
        conv3x3_row(f"stages.{level}.R", f_width(spec, level - 1), fw, stage.stride, size, s),
        bn_row(f"stages.{level}.bn_R", fw, h),
        a.row(level, h),
    ]


def step_complexity(spec: ArchSpec, level: int, j: int, size: int, a: _AApplications) -> list[LayerCost]:
    """Rows of smoothing step ``j`` of ``level``: ``A u`` (not for step 0: known or zero), the
    residual's BN, ``B_j`` (shared by its sharing run) and its BN."""
    stage = spec.stages[level]
    if stage.block == "poly":
        return ([a.row(level, size)] if j > 0 else []) + poly_step_rows(level, j, stage.width, size)
    s, uw, fw = stage.group_size, stage.width, f_width(spec, level)
    o = b_owners(stage)[j]
    return ([a.row(level, size)] if j > 0 else []) + [
        bn_row(f"stages.{level}.bn_r.{j}", fw, size),
        conv3x3_row(f"stages.{level}.B.{j}", fw, uw, 1, size, s,
                    shared_with=None if o == j else f"stages.{level}.B.{o}"),
        bn_row(f"stages.{level}.bn_B.{j}", uw, size),
    ]


def complexity(spec: ArchSpec) -> list[LayerCost]:
    """Per-layer cost rows, in forward order, computed from the spec alone."""
    stride0 = spec.stages[0].stride
    rows = stem_complexity(spec, stride0)
    size = out_size(spec.input_size, stride0)
    a = _AApplications(spec)
    for level, stage in enumerate(spec.stages):
        if level > 0:
            rows += transfer_complexity(spec, level, size, a)
            size = out_size(size, stage.stride)
        for j in range(stage.depth):
            rows += step_complexity(spec, level, j, size, a)
    return rows + head_complexity(spec)
