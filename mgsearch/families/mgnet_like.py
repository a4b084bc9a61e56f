"""MgNet-like families (``mgnet``, ``mgiad``): analytic complexity; ``build`` is lazy.

Levels are stages. ``stem.width`` is the width of ``f`` on level 0, ``stage.width`` the width of
``u``, ``blocks[j].inner`` the width of ``f`` on that level. The stem conv uses ``stages[0].stride``.

* start: ``f = relu(bn(conv3x3(x)))``, ``u = 0``;
* step j on level l: ``u <- u + relu(bn(B_j(relu(bn(f - A u)))))``; ``A`` (u -> f) is one conv per
  level shared by all its applications, ``B_j`` (f -> u) shared in runs of ``share`` steps;
* into level l+1 (stride t): ``u' = relu(bn(Pi(u)))``, ``f' = relu(bn(R(f - A u))) + A' u'``.

Zero work is skipped and nothing is computed twice: the first step of level 0 uses ``f`` itself
(``A 0 = 0``), and the first step of a later level reuses ``A' u'`` from the transfer. ``A`` is
only created when it is applied at least once. In ``mgiad`` A, B, Pi and R of a stage with
``group_size`` are MGIC convs (Pi and R take the group size of the level they lead into).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.layers.accounting import LayerCost, bn_row, conv3x3_row, conv_row, linear_row, out_size
from mgsearch.spec import ArchSpec, Stage, sharing_runs

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.families.base import MgsearchNet


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


def complexity(spec: ArchSpec) -> list[LayerCost]:
    """Per-layer cost rows, in forward order, computed from the spec alone."""
    stride0 = spec.stages[0].stride
    size = spec.input_size
    rows = [conv_row("stem.conv", spec.in_channels, spec.stem.width, 3, stride0, size)]
    size = out_size(size, stride0)
    rows.append(bn_row("stem.bn", spec.stem.width, size))
    a_count: dict[int, int] = {}

    def apply_a(level: int, h: int) -> None:
        n = a_count.get(level, 0) + 1
        a_count[level] = n
        st = spec.stages[level]
        name = f"stages.{level}.A"
        rows.append(
            conv3x3_row(name if n == 1 else f"{name}#{n}", st.width, f_width(spec, level), 1, h, st.group_size,
                        shared_with=None if n == 1 else name)
        )

    for l, stage in enumerate(spec.stages):
        s, uw, fw = stage.group_size, stage.width, f_width(spec, l)
        if l > 0:
            prev = spec.stages[l - 1]
            apply_a(l - 1, size)
            h = out_size(size, stage.stride)
            rows.append(conv3x3_row(f"stages.{l}.Pi", prev.width, uw, stage.stride, size, s))
            rows.append(bn_row(f"stages.{l}.bn_Pi", uw, h))
            rows.append(conv3x3_row(f"stages.{l}.R", f_width(spec, l - 1), fw, stage.stride, size, s))
            rows.append(bn_row(f"stages.{l}.bn_R", fw, h))
            size = h
            apply_a(l, size)
        owners = b_owners(stage)
        for j in range(stage.depth):
            if j > 0:
                apply_a(l, size)
            rows.append(bn_row(f"stages.{l}.bn_r.{j}", fw, size))
            o = owners[j]
            rows.append(conv3x3_row(f"stages.{l}.B.{j}", fw, uw, 1, size, s,
                                    shared_with=None if o == j else f"stages.{l}.B.{o}"))
            rows.append(bn_row(f"stages.{l}.bn_B.{j}", uw, size))
    rows.append(linear_row("head.fc", spec.stages[-1].width, spec.num_classes))
    return rows


def build(spec: ArchSpec) -> "MgsearchNet":
    """Build the network (imports torch)."""
    from mgsearch.families.mgnet_like_net import MgNetLike

    return MgNetLike(spec)
