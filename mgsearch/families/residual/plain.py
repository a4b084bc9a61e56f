"""Plain DACNN as its authors built it (``Stage.block = "plain"`` / ``"plain_reg"`` in family ``dacnn``).

Reference: Gabriel-Huang/DACNN_release, ``resnet_Fix_BN.py`` (``resnet_Fix_BN``, ``BasicBlock_Fix``):
ONE 3x3 kernel (``width -> width``, no bias, their ``conv_fix``) for every conv of the whole network,
at constant width; each application has its own BatchNorm; a 2x2 max-pool between stages::

    stage with stride 2: 2x2 max-pool first (ceil mode), then its blocks (the last stage: a 2x2 max-pool after)
    block:  h = relu(bn1(K x));  out = relu(bn2(K h) + x)          K: the network's one kernel

``"plain_reg"`` adds the paper's regulators: per block its own 1x1 conv (``width -> width``, no
bias, their ``BasicBlock_Fix.regulator`` of ``resnet_mix_reg.py``) on the second application's
normalised output, before the residual add: ``out = relu(reg(bn2(K h)) + x)``. (The authors define
the regulators but never apply them; the position is the paper's: after the second conv and BN.)

Kernel sharing: consecutive plain stages (``plain`` or ``plain_reg``) form a run that shares one
kernel; a run cannot change width (every plain stage has ``width`` equal to its input width, so the
whole network is at the stem width when every stage is plain: the paper's network). The run is
the spec's, not one stage's, so the ``dacnn`` family costs and builds plain stages through
:class:`PlainRuns` (made per spec); the registered forms hold the rules and width slots. Width
slots: a plain stage's widths join the slot of the stream it continues (the stem's for stage 0).

A plain stage that ends the network max-pools its output (2x2, ceil mode) before the head's global
average pool, as their forward does (no parameters or MACs). Their blocks also hold an unused ``bn2`` (they apply ``bn1`` and ``bn3``), so their registered
parameter count is ``2 * width`` per block higher than the used one that mgsearch reproduces.
Pure Python: the torch modules are in :mod:`mgsearch.families.residual.plain_modules`.
"""

from __future__ import annotations

from typing import Any

from mgsearch.errors import SpecError
from mgsearch.families.family import BlockForm
from mgsearch.families.form_rules import check_tied_stage, tied_width_slot
from mgsearch.layers.accounting import LayerCost, bn_row, conv_row, out_size
from mgsearch.spec import ArchSpec, Stage, WidthSlot

__all__ = ["PlainForm", "PLAIN", "PLAIN_REG", "PLAIN_FORMS", "PlainRuns", "merge_plain_slots"]

PLAIN_FORMS = ("plain", "plain_reg")


class PlainForm(BlockForm):
    """A plain DACNN stage form (see the module docstring); ``regulated``: with the paper's regulators."""

    allows_group_size = False
    ties_inner_to_width = True
    forces_share_one = True

    def __init__(self, name: str, description: str, regulated: bool) -> None:
        self.name, self.description, self.regulated = name, description, regulated

    def validate_stage(self, path: str, stage: Stage, c_in: int) -> None:
        check_tied_stage(path, stage, self.name, share_why="the network shares one kernel anyway",
                         inner_why="a plain block applies the width x width kernel twice")
        if stage.width != c_in:
            raise SpecError(f"{path}.width={stage.width} differs from its input width {c_in}: block=\"{self.name}\" "
                            f"keeps the width (one width x width kernel for the whole run of plain stages)")

    def stage_slots(self, i: int, stage: Stage) -> list[WidthSlot]:
        return [tied_width_slot(i, stage)]

    def stage_complexity(self, i: int, stage: Stage, c_in: int, size: int) -> list[LayerCost]:
        raise NotImplementedError("plain stages are costed by the dacnn family (PlainRuns: runs share a kernel)")

    def build_stage(self, i: int, stage: Stage, c_in: int, gate: Any) -> Any:
        raise NotImplementedError("plain stages are built by the dacnn family (PlainRuns: runs share a kernel)")


PLAIN = PlainForm("plain", "plain DACNN as its authors built it (DACNN_release resnet_Fix_BN.py): one 3x3 kernel "
                           "for every conv of a run of plain stages (the whole network), BN per application, "
                           "constant width, max-pool downsampling", regulated=False)
PLAIN_REG = PlainForm("plain_reg", "plain DACNN with the paper's regulators (a 1x1 conv per block after the "
                                   "second kernel application and its BN)", regulated=True)


def _run_starts(spec: ArchSpec) -> dict[int, int]:
    """Plain stage index -> the first stage of its run (consecutive plain stages)."""
    out: dict[int, int] = {}
    for i, stage in enumerate(spec.stages):
        if stage.block in PLAIN_FORMS:
            out[i] = out[i - 1] if (i - 1) in out else i
    return out


class PlainRuns:
    """Costs and builds the plain stages of one spec (consecutive plain stages share one kernel): the
    ``stage_complexity`` / ``build_stage`` the residual family asks a block form for."""

    def __init__(self, spec: ArchSpec) -> None:
        self.spec = spec
        self.starts = _run_starts(spec)
        self.kernels: dict[int, Any] = {}  # run start -> its kernel module (while building)

    def owner(self, i: int) -> str:
        """Module path of the kernel of stage ``i``'s run (its first application)."""
        return f"stages.{self.starts[i]}.blocks.0.conv"

    def stage_complexity(self, i: int, stage: Stage, c_in: int, size: int) -> list[LayerCost]:
        w = stage.width
        size = out_size(size, stage.stride)  # the max-pool (no MACs)
        regulated = stage.block == "plain_reg"
        rows: list[LayerCost] = []
        for j in range(stage.depth):
            name = f"stages.{i}.blocks.{j}"
            first = self.starts[i] == i and j == 0
            rows += [conv_row(f"{name}.conv", w, w, 3, 1, size, shared_with=None if first else self.owner(i)),
                     bn_row(f"{name}.bn1", w, size),
                     conv_row(f"{name}.conv#2", w, w, 3, 1, size, shared_with=self.owner(i)),
                     bn_row(f"{name}.bn2", w, size)]
            if regulated:
                rows.append(conv_row(f"{name}.regulator", w, w, 1, 1, size))
        return rows

    def build_stage(self, i: int, stage: Stage, c_in: int, gate: Any) -> Any:
        from mgsearch.families.residual.plain_modules import PlainStage, plain_kernel

        start = self.starts[i]
        if start not in self.kernels:
            self.kernels[start] = plain_kernel(stage.width)
        return PlainStage(i, stage, self.kernels[start], gate, last=i == len(self.spec.stages) - 1)


def merge_plain_slots(spec: ArchSpec, slots: list[WidthSlot]) -> list[WidthSlot]:
    """Join each plain stage's slot into the slot of the stream it continues (stem / previous stage)."""
    out = list(slots)
    for i, stage in enumerate(spec.stages):
        if stage.block not in PLAIN_FORMS:
            continue
        own = next(k for k, s in enumerate(out) if s.name == f"stages[{i}].width")
        prev = "stem.width" if i == 0 else f"stages[{i - 1}].width"
        k = next(k for k, s in enumerate(out) if prev in s.paths)
        keep = out[k]
        out[k] = WidthSlot(keep.name, keep.kind, keep.paths + out[own].paths, keep.value, keep.multiple_of,
                           keep.allowed)
        del out[own]
    return out
