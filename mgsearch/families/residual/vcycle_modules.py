"""torch modules of the ``vcycle`` block form (analytic twin: :mod:`mgsearch.families.residual.vcycle`)."""

from __future__ import annotations

from math import gcd
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from mgsearch.families.residual.vcycle import level_groups, vcycle_levels
from mgsearch.spec import Stage


def _conv(c_in: int, c_out: int, k: int, groups: int = 1, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, groups=groups, bias=False)


class _Smoother(nn.Module):
    """``relu(x + bn2(conv2(relu(bn1(conv1(x))))))`` with 3x3 convs of ``groups`` groups."""

    def __init__(self, c: int, groups: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv(c, c, 3, groups), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = _conv(c, c, 3, groups), nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))


class _UpLevel(_Smoother):
    """Coarse correction ``z = x + bnp(P(y_coarse - x_coarse))``, then the grouped smoother; with
    ``restriction`` given, ``P`` is its transpose (no weights of its own, no gradient through P)."""

    def __init__(self, c: int, groups: int, restriction: nn.Conv2d | None = None) -> None:
        super().__init__(c, groups)
        self.P = _conv(c // 2, c, 1, groups) if restriction is None else None
        self.bnp = nn.BatchNorm2d(c)
        self._restriction = [restriction]  # a list: not a submodule (R is owned by ``down``)

    def prolong(self, d: torch.Tensor) -> torch.Tensor:
        if self.P is not None:
            return self.P(d)
        r = self._restriction[0]
        g = r.groups
        w = r.weight.detach()  # (c/2, c/g, 1, 1): per group a (c/2g x c/g) block; P's block is its transpose
        w = w.view(g, w.shape[0] // g, w.shape[1]).transpose(1, 2).reshape(w.shape[1] * g, w.shape[0] // g, 1, 1)
        return F.conv2d(d, w, groups=g)

    def correct(self, x: torch.Tensor, x_coarse: torch.Tensor, y_coarse: torch.Tensor) -> torch.Tensor:
        return self.forward(x + self.bnp(self.prolong(y_coarse - x_coarse)))


class _Enter(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv = _conv(c_in, c_out, 3, gcd(c_in, c_out), stride)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class VCycleBlock(nn.Module):
    """One MGIC V-cycle block ``c_in -> width`` (see :mod:`mgsearch.families.residual.vcycle`)."""

    def __init__(self, c_in: int, width: int, stride: int, s: int, coarse_width: int,
                 cycle: str = "serial", transpose: bool = False) -> None:
        super().__init__()
        levels = vcycle_levels(width, coarse_width)
        fine = levels[:-1]
        self.cycle = cycle
        self.enter = _Enter(c_in, width, stride) if (stride != 1 or c_in != width) else None
        if cycle == "two_sided":
            self.pre = nn.ModuleList(_Smoother(c, level_groups(c, s)) for c in fine)
        elif cycle == "parallel":
            self.smooth = nn.ModuleList(_Smoother(c, level_groups(c, s)) for c in fine)
        self.down = nn.ModuleList(_conv(c, c // 2, 1, level_groups(c, s)) for c in fine)
        self.coarse = _Smoother(levels[-1], 1)
        if cycle == "parallel":
            self.prolong = nn.ModuleList(_conv(c // 2, c, 1, level_groups(c, s)) for c in fine)
        else:
            self.up = nn.ModuleList(_UpLevel(c, level_groups(c, s), r if transpose else None)
                                    for c, r in zip(fine, self.down))
        self.group_size = s

    @torch.no_grad()
    def init_transfers(self) -> None:
        """R and P start as averaging operators (every weight ``1/s``, as in the authors' block)."""
        ps = self.prolong if self.cycle == "parallel" else [u.P for u in self.up if u.P is not None]
        for conv in (*self.down, *ps):
            conv.weight.fill_(1.0 / self.group_size)

    def top_gates(self) -> list[nn.BatchNorm2d]:
        """The BatchNorms of the finest level (they normalise the stage width's channels)."""
        if self.cycle == "parallel":
            return [self.smooth[0].bn1, self.smooth[0].bn2]
        top = [self.up[0].bnp, self.up[0].bn1, self.up[0].bn2]
        return top + ([self.pre[0].bn1, self.pre[0].bn2] if self.cycle == "two_sided" else [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.enter is not None:
            x = self.enter(x)
        if self.cycle == "parallel":
            return self._parallel(x)
        zs, rs = [], []  # per fine level: its (smoothed) state, and the restriction of it
        for l, r in enumerate(self.down):
            if self.cycle == "two_sided":
                x = self.pre[l](x)
            zs.append(x)
            x = r(x)
            rs.append(x)
        y = self.coarse(x)
        for l in range(len(self.up) - 1, -1, -1):  # correction: P (coarse result - restriction)
            y = self.up[l].correct(zs[l], rs[l], y)
        return y

    def _parallel(self, x: torch.Tensor) -> torch.Tensor:
        xs = [x]
        for r in self.down:
            xs.append(r(xs[-1]))
        y = self.coarse(xs[-1])
        for l in range(len(self.down) - 1, -1, -1):
            y = self.smooth[l](xs[l]) + self.prolong[l](y)
        return F.relu(x + y)


class VCycleStage(nn.Module):
    """The blocks of a vcycle stage (``stages.i.blocks.j``); records the gates of ``stages[i].width``."""

    def __init__(self, i: int, stage: Stage, c_in: int, gate: Callable[[str, nn.BatchNorm2d], Any],
                 cycle: str = "serial", transpose: bool = False) -> None:
        super().__init__()
        blocks = []
        for j in range(stage.depth):
            b = VCycleBlock(c_in if j == 0 else stage.width, stage.width, stage.stride if j == 0 else 1,
                            stage.group_size, stage.coarse_width, cycle, transpose)  # type: ignore[arg-type]
            path = f"stages[{i}].width"
            if b.enter is not None:
                gate(path, b.enter.bn)
            for bn in b.top_gates():
                gate(path, bn)
            blocks.append(b)
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x
