"""torch modules of the ``mobilenet`` family (analytic twin: :mod:`mgsearch.families.mobilenet.complexity`).

Plain ``nn.Conv2d`` / ``nn.BatchNorm2d`` / ``nn.Linear`` with their standard layouts, so that their
channels can be sliced (LW-DNA, one-shot supernets)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import nn

from mgsearch.families.base import BlockStage, ClassifierHead, MgsearchNet
from mgsearch.families.mobilenet.complexity import se_width
from mgsearch.layers.conv import conv_bn_act, init_weights
from mgsearch.spec import DEFAULT_BLOCK, ArchSpec, Block

__all__ = ["activation", "SqueezeExcite", "ConvBN", "InvertedResidual", "MobileNet"]


def activation(name: str) -> nn.Module:
    """``"relu"`` -> ReLU, ``"hswish"`` -> hard swish ``x * relu6(x + 3) / 6``."""
    return nn.Hardswish() if name == "hswish" else nn.ReLU()


class SqueezeExcite(nn.Module):
    """``x * hsigmoid(fc2(relu(fc1(avgpool(x)))))`` with Linear layers (bias) of hidden width ``se_width(c)``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        r = se_width(channels)
        self.fc1, self.fc2 = nn.Linear(channels, r), nn.Linear(r, channels)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        y = self.gate(self.fc2(torch.relu(self.fc1(y))))
        return x * y[:, :, None, None]


class ConvBN(nn.Module):
    """``bn(conv(x))``: a kxk conv without bias (``groups``, ``stride``, padding k // 2) and its BatchNorm."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, *, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class InvertedResidual(nn.Module):
    """expand (1x1, when inner != c_in) -> depthwise kxk (stride) -> squeeze-excite -> project (1x1), + x."""

    def __init__(self, c_in: int, block: Block, width: int, stride: int) -> None:
        super().__init__()
        inner = block.inner
        self.expand = ConvBN(c_in, inner) if inner != c_in else None
        self.dw = ConvBN(inner, inner, block.kernel, stride=stride, groups=inner)
        self.se = SqueezeExcite(inner) if block.se else None
        self.project = ConvBN(inner, width)
        self.act = activation(block.act)
        self.residual = stride == 1 and c_in == width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.expand(x)) if self.expand is not None else x
        h = self.act(self.dw(h))
        if self.se is not None:
            h = self.se(h)
        h = self.project(h)
        return h + x if self.residual else h


class MobileNet(MgsearchNet):
    """stem (3x3 conv, BN, ReLU) -> stages of inverted-residual blocks (or a block form's) -> head."""

    def __init__(self, spec: ArchSpec, forms: Mapping[str, Any]) -> None:
        super().__init__(spec)
        self.stem = conv_bn_act(spec.in_channels, spec.stem.width)
        self._gate("stem.width", self.stem.bn)
        stages: list[nn.Module] = []
        w_in = spec.stem.width
        gate: Callable[[str, nn.BatchNorm2d], Any] = self._gate
        for i, stage in enumerate(spec.stages):
            if stage.block != DEFAULT_BLOCK:
                stages.append(forms[stage.block].build_stage(i, stage, w_in, gate))
            else:
                blocks = []
                for j, b in enumerate(stage.blocks):
                    ir = InvertedResidual(w_in if j == 0 else stage.width, b, stage.width,
                                          stage.stride if j == 0 else 1)
                    if ir.expand is not None:
                        gate(f"stages[{i}].blocks[{j}].inner", ir.expand.bn)
                    gate(f"stages[{i}].blocks[{j}].inner", ir.dw.bn)
                    gate(f"stages[{i}].width", ir.project.bn)
                    blocks.append(ir)
                stages.append(BlockStage(blocks))
            w_in = stage.width
        self.stages = nn.ModuleList(stages)
        self.head = ClassifierHead(w_in, spec.num_classes, spec.head.dropout)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)
