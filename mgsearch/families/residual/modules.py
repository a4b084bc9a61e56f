"""torch modules of the ResNet-like families (their analytic twin: :mod:`mgsearch.families.residual.complexity`)."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from mgsearch.families.base import BlockStage, ClassifierHead, MgsearchNet
from mgsearch.families.residual.complexity import shortcut_kind
from mgsearch.layers.conv import conv3x3, conv_bn_act, init_weights
from mgsearch.layers.sharing import share_by_runs
from mgsearch.layers.shortcut import PadShortcut, ProjectionShortcut
from mgsearch.spec import DEFAULT_BLOCK, ArchSpec, sharing_runs


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x, stride))))) + shortcut(x))``; conv1/conv2 may be shared."""

    def __init__(self, conv1: nn.Module, conv2: nn.Module, inner: int, width: int, c_in: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv1, self.bn1 = conv1, nn.BatchNorm2d(inner)
        self.conv2, self.bn2 = conv2, nn.BatchNorm2d(width)
        kind = shortcut_kind(c_in, width, stride)
        if kind == "identity":
            self.shortcut: nn.Module = nn.Identity()
        elif kind == "pad":
            self.shortcut = PadShortcut(c_in, width, stride)
        else:
            self.shortcut = ProjectionShortcut(c_in, width, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x, self.stride)))
        out = self.bn2(self.conv2(out, 1))
        return self.relu(out + self.shortcut(x))


class ResStage(BlockStage):
    """The blocks of one stage (``stages.i.blocks.j`` in module paths)."""


class ResNetLike(MgsearchNet):
    """``resnet`` / ``mgic`` / ``dacnn`` network built from an :class:`ArchSpec`."""

    def __init__(self, spec: ArchSpec, forms: Mapping[str, Any] | None = None) -> None:
        super().__init__(spec)
        forms = forms or {}
        self.stem = conv_bn_act(spec.in_channels, spec.stem.width)
        self._gate("stem.width", self.stem.bn)
        stages = []
        w_in = spec.stem.width
        for i, stage in enumerate(spec.stages):
            if stage.block != DEFAULT_BLOCK:  # a registered block form builds the whole stage
                stages.append(forms[stage.block].build_stage(i, stage, w_in, self._gate))
                w_in = stage.width
                continue
            s, width, runs = stage.group_size, stage.width, sharing_runs(stage)
            own = (0,) if w_in != width else ()
            conv1s = share_by_runs(
                runs, lambda j: conv3x3(w_in if j == 0 else width, stage.blocks[j].inner, s), own=own
            )
            conv2s = share_by_runs(runs, lambda j: conv3x3(stage.blocks[j].inner, width, s))
            blocks = []
            for j, block in enumerate(stage.blocks):
                c_in, stride = (w_in, stage.stride) if j == 0 else (width, 1)
                b = BasicBlock(conv1s[j], conv2s[j], block.inner, width, c_in, stride)
                self._gate(f"stages[{i}].blocks[{j}].inner", b.bn1)
                self._gate(f"stages[{i}].width", b.bn2)
                if isinstance(b.shortcut, ProjectionShortcut):
                    self._gate(f"stages[{i}].width", b.shortcut.bn)
                blocks.append(b)
            stages.append(ResStage(blocks))
            w_in = width
        self.stages = nn.ModuleList(stages)
        self.head = ClassifierHead(w_in, spec.num_classes, spec.head.dropout)
        init_weights(self)
        for m in self.modules():  # block forms' transfer operators (e.g. vcycle R / P) start as theirs
            if m is not self and hasattr(m, "init_transfers"):
                m.init_transfers()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)
