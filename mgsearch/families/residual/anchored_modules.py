"""torch modules of the ``anchored`` block form (analytic twin: :mod:`mgsearch.families.residual.anchored`)."""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from mgsearch.spec import Stage


def _swap(x: torch.Tensor) -> torch.Tensor:
    """The authors' ``swap``: channel 0 moves to the end (a rotation by one channel)."""
    return torch.roll(x, -1, 1)


class _Transition(nn.Module):
    """``relu(bn(conv(x)))``: the transition block's own 3x3 conv ``c_in -> width`` (with bias)."""

    def __init__(self, c_in: int, width: int) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(c_in, width, 3, padding=1, bias=True), nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class _Projection(nn.Module):
    """``bn(conv1x1(x))`` (no bias): the transition block's shortcut."""

    def __init__(self, c_in: int, width: int) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(c_in, width, 1, bias=False), nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class AnchoredBlock(nn.Module):
    """One DACNN-mix block; ``conv`` is the stage's anchored kernel (the same module object in every block)."""

    def __init__(self, conv: nn.Conv2d, c_in: int, width: int) -> None:
        super().__init__()
        self.conv = conv
        if c_in != width:
            self.trans: nn.Module | None = _Transition(c_in, width)
            self.shortcut: nn.Module = _Projection(c_in, width)
        else:
            self.trans, self.bn1, self.shortcut = None, nn.BatchNorm2d(width), nn.Identity()
        self.bn2 = nn.BatchNorm2d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.trans(x) if self.trans is not None else F.relu(self.bn1(self.conv(x)))
        y = _swap(self.bn2(self.conv(_swap(h))))
        return F.relu(y + torch.roll(self.shortcut(x), -2, 1))


class AnchoredStage(nn.Module):
    """The blocks of an anchored stage (``stages.i.blocks.j``), after a 2x2 max-pool when ``stride`` is 2;
    records the gates of ``stages[i].width``."""

    def __init__(self, i: int, stage: Stage, c_in: int, gate: Callable[[str, nn.BatchNorm2d], Any]) -> None:
        super().__init__()
        w = stage.width
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True) if stage.stride == 2 else nn.Identity()
        conv = nn.Conv2d(w, w, 3, padding=1, bias=True)
        blocks = []
        for j in range(stage.depth):
            b = AnchoredBlock(conv, c_in if j == 0 else w, w)
            path = f"stages[{i}].width"
            if b.trans is not None:
                gate(path, b.trans.bn)
                gate(path, b.shortcut.bn)
            else:
                gate(path, b.bn1)
            gate(path, b.bn2)
            blocks.append(b)
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        for block in self.blocks:
            x = block(x)
        return x
