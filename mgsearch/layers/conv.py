"""Convolutions whose stride is chosen per call (so one weight can be shared by a strided and an
unstrided application), ``conv_bn_act`` and the weight initialisation used by every family."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` whose ``forward(x, stride=None)`` may override the stride of this application."""

    def forward(self, x: torch.Tensor, stride: int | None = None) -> torch.Tensor:  # type: ignore[override]
        if stride is None or (stride, stride) == self.stride:
            return super().forward(x)
        return F.conv2d(x, self.weight, self.bias, stride, self.padding, self.dilation, self.groups)


def conv3x3(c_in: int, c_out: int, group_size: int | None = None, *, stride: int = 1) -> nn.Module:
    """A 3x3 conv without bias: dense when ``group_size`` is None, else an MGIC conv.

    Both accept ``forward(x, stride=None)``.
    """
    if group_size is None:
        return Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
    from mgsearch.layers.mgic import MGICConv2d

    return MGICConv2d(c_in, c_out, group_size, stride=stride)


class ConvBNAct(nn.Module):
    """``act(bn(conv(x)))`` with a 3x3 (dense or MGIC) conv; ``act`` may be ``None`` (identity)."""

    def __init__(
        self, c_in: int, c_out: int, *, stride: int = 1, group_size: int | None = None, act: bool = True
    ) -> None:
        super().__init__()
        self.conv = conv3x3(c_in, c_out, group_size, stride=stride)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.ReLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def conv_bn_act(
    c_in: int, c_out: int, *, stride: int = 1, group_size: int | None = None, act: bool = True
) -> ConvBNAct:
    """Build a :class:`ConvBNAct` (3x3 conv, BatchNorm, ReLU unless ``act=False``)."""
    return ConvBNAct(c_in, c_out, stride=stride, group_size=group_size, act=act)


@torch.no_grad()
def init_weights(model: nn.Module) -> None:
    """Kaiming-normal (fan_out, relu) convs, BN weight 1 / bias 0, MGIC transfers to averaging.

    The last BN of a residual branch is NOT zero-initialised: LW-DNA ranks channels by BN scales,
    which must all start equal.
    """
    from mgsearch.layers.mgic import MGICConv2d

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in model.modules():
        if isinstance(m, MGICConv2d):
            m.init_transfers()
