"""torch modules of mobilenet's ``vcycle`` block form (analytic twin: :mod:`mgsearch.families.mobilenet.vcycle`)."""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from mgsearch.families.base import BlockStage
from mgsearch.families.mobilenet.modules import ConvBN, SqueezeExcite, activation
from mgsearch.families.mobilenet.vcycle import channel_levels, level_groups
from mgsearch.spec import Block, Stage

__all__ = ["LevelBody", "VCycleBlock", "VCycleStage"]


class LevelBody(nn.Module):
    """One level's inverted residual ``c -> m -> c`` (1x1 convs with ``groups``); ``forward`` is the
    authors' ``mbnetStep``: ``relu(f(x) + x) + x``. With an expand conv their SE precedes the activation."""

    def __init__(self, c: int, m: int, block: Block, groups: int) -> None:
        super().__init__()
        self.expand = ConvBN(c, m, groups=groups) if m != c else None
        self.dw = ConvBN(m, m, block.kernel, groups=m)
        self.se = SqueezeExcite(m) if block.se else None
        self.project = ConvBN(m, c, groups=groups)
        self.act = activation(block.act)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        """``f(x)`` (see the class docstring)."""
        se = self.se if self.se is not None else nn.Identity()
        if self.expand is None:
            h = se(self.act(self.dw(x)))
        else:
            h = self.act(se(self.dw(self.act(self.expand(x)))))
        return self.project(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x) + x


class _Down(nn.Module):
    def __init__(self, c: int, groups: int) -> None:
        super().__init__()
        self.R = nn.Conv2d(c, c // 2, 1, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.R(x))


class _Up(LevelBody):
    """Coarse correction ``z = x + bnp(P(y_coarse - x_coarse))``, then the level's inverted residual."""

    def __init__(self, c: int, m: int, block: Block, groups: int) -> None:
        super().__init__(c, m, block, groups)
        self.P = nn.Conv2d(c // 2, c, 1, groups=groups, bias=False)
        self.bnp = nn.BatchNorm2d(c)

    def correct(self, x: torch.Tensor, x_coarse: torch.Tensor, y_coarse: torch.Tensor) -> torch.Tensor:
        return self.forward(x + self.bnp(self.P(y_coarse - x_coarse)))


class VCycleBlock(nn.Module):
    """One MGIC inverted-residual block ``c_in -> width`` (see :mod:`mgsearch.families.mobilenet.vcycle`)."""

    def __init__(self, c_in: int, block: Block, width: int, stride: int, s: int, coarse_width: int) -> None:
        super().__init__()
        levels = channel_levels(width, coarse_width)
        mids = [block.inner >> l for l in range(len(levels))]
        groups = [level_groups(c, m, s) for c, m in zip(levels[:-1], mids)]
        self.enter = (nn.Conv2d(c_in, width, 1, stride=stride, bias=False)
                      if stride != 1 or c_in != width else None)
        self.down = nn.ModuleList(_Down(c, g) for c, g in zip(levels, groups))
        self.coarse = LevelBody(levels[-1], mids[-1], block, 1)
        self.up = nn.ModuleList(_Up(c, m, block, g) for c, m, g in zip(levels, mids, groups))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.enter is not None:
            x = self.enter(x)
        xs = [x]
        for down in self.down:
            xs.append(down(xs[-1]))
        y = self.coarse(xs[-1])
        for l in range(len(self.up) - 1, -1, -1):
            y = self.up[l].correct(xs[l], xs[l + 1], y)
        return y


class VCycleStage(BlockStage):
    """The blocks of a vcycle stage (``stages.i.blocks.j``); records the gates of the stage and inner widths."""

    def __init__(self, i: int, stage: Stage, c_in: int, gate: Callable[[str, nn.BatchNorm2d], Any]) -> None:
        blocks = []
        for j, block in enumerate(stage.blocks):
            b = VCycleBlock(c_in if j == 0 else stage.width, block, stage.width, stage.stride if j == 0 else 1,
                            stage.group_size, stage.coarse_width)  # type: ignore[arg-type]
            top = b.up[0]
            gate(f"stages[{i}].width", top.bnp)
            gate(f"stages[{i}].width", top.project.bn)
            if top.expand is not None:
                gate(f"stages[{i}].blocks[{j}].inner", top.expand.bn)
            gate(f"stages[{i}].blocks[{j}].inner", top.dw.bn)
            blocks.append(b)
        super().__init__(blocks)
