"""torch modules of the MgNet families (their analytic twin: :mod:`mgsearch.families.mgnet.complexity`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mgsearch.families.base import ClassifierHead, MgsearchNet
from mgsearch.families.mgnet.complexity import a_applications, b_owners, f_width
from mgsearch.layers.conv import Conv2d, conv3x3, init_weights
from mgsearch.spec import ArchSpec


def residual(f: torch.Tensor, u: torch.Tensor | None, au: torch.Tensor | None, A: nn.Module | None) -> torch.Tensor:
    """``f - A u`` computing nothing for nothing: ``u`` None is zero, ``au`` a known ``A u``."""
    if u is None:
        return f
    if au is not None:
        return f - au
    return f - A(u, 1)  # type: ignore[misc]


class _Scalar(nn.Module):
    """A trainable scalar ``alpha`` (``x * alpha``): Poly-MgNet's degree-1 polynomial ``B``."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class PolyLevel(nn.Module):
    """A ``poly`` level (:mod:`mgsearch.families.mgnet.poly`): A shared by its steps, per step a
    scalar and two BNs; the depthwise transfer (Pi, R, no BN) from the previous level."""

    def __init__(self, spec: ArchSpec, index: int) -> None:
        super().__init__()
        from math import gcd

        stage = spec.stages[index]
        c = stage.width
        self.stride = stage.stride
        self.A = conv3x3(c, c) if a_applications(spec, index) > 0 else None
        if index > 0:
            cu, cf = spec.stages[index - 1].width, f_width(spec, index - 1)
            self.Pi = nn.Conv2d(cu, c, 3, stride=stage.stride, padding=1, groups=gcd(cu, c), bias=False)
            self.R = nn.Conv2d(cf, c, 3, stride=stage.stride, padding=1, groups=gcd(cf, c), bias=False)
        self.bn_r = nn.ModuleList(nn.BatchNorm2d(c) for _ in range(stage.depth))
        self.alpha = nn.ModuleList(_Scalar() for _ in range(stage.depth))
        self.bn_u = nn.ModuleList(nn.BatchNorm2d(c) for _ in range(stage.depth))

    def transfer(self, f: torch.Tensor, u: torch.Tensor, prev: nn.Module) -> tuple[torch.Tensor, ...]:
        """Restrict to this level: returns ``(f', u', A' u')``."""
        r = F.relu(f - prev.A(u, 1))
        u = self.Pi(u)
        au = self.A(u, 1)
        return self.R(r) + au, u, au

    def smooth(self, f: torch.Tensor, u: torch.Tensor | None, au: torch.Tensor | None) -> torch.Tensor:
        """``u <- relu(bn_u(u + alpha * bn_r(f - A u)))`` per step; ``u`` None means zero."""
        for j, (bn_r, alpha, bn_u) in enumerate(zip(self.bn_r, self.alpha, self.bn_u)):
            v = alpha(bn_r(residual(f, u, au if j == 0 else None, self.A)))
            u = F.relu(bn_u(v if u is None else u + v))
        assert u is not None
        return u


class Level(nn.Module):
    """One grid level: A (shared by all steps), B per sharing run, per-application BNs, and the
    transfer (Pi, R) from the previous level when ``u_prev`` is given."""

    def __init__(self, spec: ArchSpec, index: int) -> None:
        super().__init__()
        stage = spec.stages[index]
        s, uw, fw = stage.group_size, stage.width, f_width(spec, index)
        self.stride = stage.stride
        self.A = conv3x3(uw, fw, s) if a_applications(spec, index) > 0 else None
        if index > 0:
            prev = spec.stages[index - 1]
            self.Pi, self.bn_Pi = conv3x3(prev.width, uw, s), nn.BatchNorm2d(uw)
            self.R, self.bn_R = conv3x3(f_width(spec, index - 1), fw, s), nn.BatchNorm2d(fw)
        owners = b_owners(stage)
        made: dict[int, nn.Module] = {}
        for j, o in enumerate(owners):
            if o not in made:
                made[o] = conv3x3(fw, uw, s)
        self.B = nn.ModuleList(made[o] for o in owners)
        self.bn_r = nn.ModuleList(nn.BatchNorm2d(fw) for _ in owners)
        self.bn_B = nn.ModuleList(nn.BatchNorm2d(uw) for _ in owners)

    def transfer(
        self, f: torch.Tensor, u: torch.Tensor, prev: "Level"
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Restrict to this level: returns ``(f', u', A' u')``."""
        r = f - prev.A(u, 1)
        u = F.relu(self.bn_Pi(self.Pi(u, self.stride)))
        au = self.A(u, 1)
        f = F.relu(self.bn_R(self.R(r, self.stride))) + au
        return f, u, au

    def smooth(self, f: torch.Tensor, u: torch.Tensor | None, au: torch.Tensor | None) -> torch.Tensor:
        """The smoothing steps; ``u`` None means zero, ``au`` is a known ``A u`` for step 0."""
        for j, (b, bn_r, bn_b) in enumerate(zip(self.B, self.bn_r, self.bn_B)):
            v = F.relu(bn_b(b(F.relu(bn_r(residual(f, u, au if j == 0 else None, self.A))), 1)))
            u = v if u is None else u + v
        assert u is not None
        return u


class MgNetLike(MgsearchNet):
    """``mgnet`` / ``mgiad`` network built from an :class:`ArchSpec`."""

    def __init__(self, spec: ArchSpec) -> None:
        super().__init__(spec)
        self.stem_stride = spec.stages[0].stride
        self.stem = nn.Module()
        self.stem.conv = Conv2d(spec.in_channels, spec.stem.width, 3, stride=self.stem_stride, padding=1, bias=False)
        self.stem.bn = nn.BatchNorm2d(spec.stem.width)
        self._gate("stem.width", self.stem.bn)
        levels = []
        for l, stage in enumerate(spec.stages):
            if stage.block == "poly":
                levels.append(self._poly_level(spec, l))
                continue
            level = Level(spec, l)
            if l > 0:
                self._gate(f"stages[{l}].width", level.bn_Pi)
                self._gate(f"stages[{l}].blocks[0].inner", level.bn_R)
            for j in range(stage.depth):
                self._gate(f"stages[{l}].blocks[{j}].inner" if l > 0 else "stem.width", level.bn_r[j])
                self._gate(f"stages[{l}].width", level.bn_B[j])
            levels.append(level)
        self.stages = nn.ModuleList(levels)
        self.head = ClassifierHead(spec.stages[-1].width, spec.num_classes, spec.head.dropout)
        init_weights(self)

    def _poly_level(self, spec: ArchSpec, l: int) -> PolyLevel:
        level = PolyLevel(spec, l)
        for bn in (*level.bn_r, *level.bn_u):
            self._gate(f"stages[{l}].width", bn)
        return level

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = F.relu(self.stem.bn(self.stem.conv(x)))
        u: torch.Tensor | None = None
        au: torch.Tensor | None = None
        for l, level in enumerate(self.stages):
            if l > 0:
                assert u is not None
                f, u, au = level.transfer(f, u, self.stages[l - 1])
            u = level.smooth(f, u, au)
        assert u is not None
        return self.head(u)
