"""The multigrid-in-channels (MGIC) convolution: a linear operator built from grouped convs.

Level plan from :func:`mgsearch.layers.accounting.mgic_levels` (shared with the analytic cost)::

    x_0 = x ──G_0 (3x3, groups gcd/s, stride t)──────────────(+)── y_0 = output
     │ R_0 (1x1, groups c/s, c -> c/2)                          ^ P_0 (1x1, groups c_out/s)
    x_1 ──G_1──────────────────────────────────────(+)── y_1 ───┘
     │ R_1                                            ^ P_1
    x_L ──D (dense 3x3, stride t)── y_L ──────────────┘

``y_l = G_l(x_l) + P_l(y_{l+1})``, ``y_L = D(x_L)``. With one level it is a dense 3x3 conv.
Weights grow linearly with width for a fixed group size ``s`` (the coarsest level has ~s channels).
"""

from __future__ import annotations

from math import gcd

import torch
from torch import nn

from mgsearch.layers.accounting import mgic_levels
from mgsearch.layers.conv import Conv2d


class MGICConv2d(nn.Module):
    """MGIC 3x3 convolution ``c_in -> c_out`` with group size ``s`` (no bias, no BN inside).

    ``forward(x, stride=None)`` uses the constructor's stride unless ``stride`` is given, so one
    instance can be shared by applications with different strides.
    """

    def __init__(self, c_in: int, c_out: int, s: int, *, stride: int = 1) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.group_size, self.stride = c_in, c_out, s, stride
        self.levels = mgic_levels(c_in, c_out, s)
        fine = self.levels[:-1]
        self.G = nn.ModuleList(
            Conv2d(ci, co, 3, stride=stride, padding=1, groups=gcd(ci, co) // s, bias=False) for ci, co in fine
        )
        self.R = nn.ModuleList(Conv2d(ci, ci // 2, 1, groups=ci // s, bias=False) for ci, _ in fine)
        self.P = nn.ModuleList(Conv2d(co // 2, co, 1, groups=co // s, bias=False) for _, co in fine)
        ci, co = self.levels[-1]
        self.D = Conv2d(ci, co, 3, stride=stride, padding=1, bias=False)
        self.init_transfers()

    @torch.no_grad()
    def init_transfers(self) -> None:
        """Restriction and prolongation start as averaging operators (every weight ``1/s``)."""
        for conv in (*self.R, *self.P):
            conv.weight.fill_(1.0 / self.group_size)

    def forward(self, x: torch.Tensor, stride: int | None = None) -> torch.Tensor:
        t = self.stride if stride is None else stride
        xs = [x]
        for r in self.R:
            xs.append(r(xs[-1]))
        y = self.D(xs[-1], t)
        for level in range(len(self.G) - 1, -1, -1):
            y = self.G[level](xs[level], t) + self.P[level](y)
        return y

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, s={self.group_size}, stride={self.stride}, levels={self.levels}"
