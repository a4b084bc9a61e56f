"""Residual shortcuts: zero-padding ("option A", no parameters) and 1x1 projection + BN."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mgsearch.layers.conv import Conv2d


class PadShortcut(nn.Module):
    """Subsample ``x[:, :, ::stride, ::stride]`` and zero-pad channels ``c_in -> c_out`` (c_out >= c_in)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        if c_out < c_in:
            raise ValueError(f"PadShortcut needs c_out >= c_in, got {c_in} -> {c_out}")
        self.c_in, self.c_out, self.stride = c_in, c_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.c_out > self.c_in:
            x = F.pad(x, (0, 0, 0, 0, 0, self.c_out - self.c_in))
        return x

    def extra_repr(self) -> str:
        return f"{self.c_in}, {self.c_out}, stride={self.stride}"


class ProjectionShortcut(nn.Module):
    """``bn(conv1x1(x))`` with stride: used when the stream narrows (c_out < c_in)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = Conv2d(c_in, c_out, 1, stride=stride, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))
