"""torch modules of plain DACNN stages (analytic twin: :mod:`mgsearch.families.residual.plain`)."""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from mgsearch.spec import Stage


def plain_kernel(width: int) -> nn.Conv2d:
    """The run's one 3x3 kernel ``width -> width`` (no bias, as the authors' ``conv_fix``)."""
    return nn.Conv2d(width, width, 3, padding=1, bias=False)


class PlainBlock(nn.Module):
    """``relu([regulator](bn2(K relu(bn1(K x)))) + x)``; ``conv`` is the run's kernel (one module object)."""

    def __init__(self, conv: nn.Conv2d, width: int, regulated: bool) -> None:
        super().__init__()
        self.conv = conv
        self.bn1, self.bn2 = nn.BatchNorm2d(width), nn.BatchNorm2d(width)
        self.regulator = nn.Conv2d(width, width, 1, bias=False) if regulated else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv(F.relu(self.bn1(self.conv(x)))))
        if self.regulator is not None:
            y = self.regulator(y)
        return F.relu(y + x)


class PlainStage(nn.Module):
    """A plain stage (``stages.i.blocks.j``) after a 2x2 max-pool when ``stride`` is 2 (and before one when
    it ends the network); records the gates of its width (``stages[i].width``, joined to the stream's slot)."""

    def __init__(self, i: int, stage: Stage, kernel: nn.Conv2d, gate: Callable[[str, nn.BatchNorm2d], Any],
                 last: bool = False) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True) if stage.stride == 2 else nn.Identity()
        # the authors' forward max-pools the last stage's output too, before the global average pool
        self.pool_after = nn.MaxPool2d(2, 2, ceil_mode=True) if last else nn.Identity()
        blocks = [PlainBlock(kernel, stage.width, stage.block == "plain_reg") for _ in range(stage.depth)]
        for b in blocks:
            gate(f"stages[{i}].width", b.bn1)
            gate(f"stages[{i}].width", b.bn2)
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)
        for block in self.blocks:
            x = block(x)
        return self.pool_after(x)
