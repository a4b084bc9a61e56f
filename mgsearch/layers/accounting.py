"""Pure-Python accounting of layer costs (no torch): the MGIC level plan and per-layer rows.

:func:`mgic_levels` is THE level plan of an MGIC convolution: :class:`mgsearch.layers.MGICConv2d`
builds its sub-convolutions from it and the analytic cost counts them from it, so the two cannot
drift apart. The ``*_row`` helpers turn one layer application into a :class:`LayerCost`.

Conventions (see :class:`mgsearch.cost.Cost`): ``params`` counts a weight tensor at its first
application only (rows of later applications carry ``shared_with`` and ``params=0``); ``macs`` and
``activations`` are counted per application for one image; BatchNorm rows carry their affine
parameters (2 per channel) and no MACs; convolutions have no bias; the classifier has one.
"""

from __future__ import annotations

from math import gcd
from typing import NamedTuple


class LayerCost(NamedTuple):
    """The cost of one layer application (a NamedTuple: cheap to create, immutable).

    ``kind`` is ``"conv"`` (dense or grouped conv), ``"mgic"`` (a whole MGIC convolution: its
    sub-convolutions summed; ``groups`` is the fine level's group count), ``"bn"`` or ``"linear"``.
    ``name`` is the module path in the built model (``#k`` marks the k-th application of a shared
    module); ``shared_with`` names the row that owns the weights (``params`` then counts none).
    ``out_size`` is the output's spatial side length; ``activations`` the output elements of the
    conv / linear operators (0 for BN), as fvcore counts them.
    """

    name: str
    kind: str
    in_channels: int
    out_channels: int
    groups: int
    kernel: int
    stride: int
    out_size: int
    params: int
    macs: int
    activations: int
    shared_with: str | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict of the fields."""
        return self._asdict()


def out_size(size: int, stride: int) -> int:
    """Output side of a 3x3/pad-1 or 1x1/pad-0 conv (and of ``x[..., ::stride, ::stride]``)."""
    return (size - 1) // stride + 1


def mgic_levels(c_in: int, c_out: int, s: int | None) -> list[tuple[int, int]]:
    """Channel levels ``[(c_in, c_out), (c_in/2, c_out/2), ...]`` of an MGIC conv with group size ``s``.

    A level is added while both halves stay multiples of ``s``; the last level is the coarsest
    (a dense conv). One level (``s`` None, or no halving possible) means a plain dense conv.
    """
    levels = [(c_in, c_out)]
    if s is None:
        return levels
    ci, co = c_in, c_out
    while ci % 2 == 0 and co % 2 == 0 and (ci // 2) % s == 0 and (co // 2) % s == 0:
        ci, co = ci // 2, co // 2
        levels.append((ci, co))
    return levels


def mgic_fine_groups(c_in: int, c_out: int, s: int | None) -> int:
    """Groups of the fine-level 3x3 conv (1 when the MGIC conv degenerates to a dense conv)."""
    if s is None or len(mgic_levels(c_in, c_out, s)) == 1:
        return 1
    return gcd(c_in, c_out) // s


def mgic_counts(c_in: int, c_out: int, s: int | None, stride: int, size: int) -> tuple[int, int, int]:
    """``(params, macs, activations)`` of an MGIC conv on a ``size x size`` input.

    Per non-coarsest level l (``ci, co``): G_l 3x3 grouped (``gcd(ci, co)/s`` groups, strided),
    R_l 1x1 ``ci -> ci/2`` (``ci/s`` groups, input resolution), P_l 1x1 ``co/2 -> co``
    (``co/s`` groups, output resolution); the coarsest level: a dense 3x3 (strided).
    """
    levels = mgic_levels(c_in, c_out, s)
    ho = out_size(size, stride)
    hw_in, hw_out = size * size, ho * ho
    params = macs = acts = 0
    for ci, co in levels[:-1]:
        g = gcd(ci, co) // s  # type: ignore[operator]
        w_g = co * (ci // g) * 9
        w_r = (ci // 2) * s  # type: ignore[operator]
        w_p = co * (s // 2)  # type: ignore[operator]
        params += w_g + w_r + w_p
        macs += (w_g + w_p) * hw_out + w_r * hw_in
        acts += 2 * co * hw_out + (ci // 2) * hw_in
    ci, co = levels[-1]
    w_d = co * ci * 9
    params += w_d
    macs += w_d * hw_out
    acts += co * hw_out
    return params, macs, acts


def conv_row(
    name: str, c_in: int, c_out: int, kernel: int, stride: int, size: int, *, groups: int = 1,
    shared_with: str | None = None,
) -> LayerCost:
    """A dense / grouped conv (no bias) applied to a ``size x size`` input."""
    ho = out_size(size, stride)
    w = c_out * (c_in // groups) * kernel * kernel
    return LayerCost(
        name, "conv", c_in, c_out, groups, kernel, stride, ho, 0 if shared_with else w, w * ho * ho,
        c_out * ho * ho, shared_with,
    )


def conv3x3_row(
    name: str, c_in: int, c_out: int, stride: int, size: int, s: int | None, *, shared_with: str | None = None
) -> LayerCost:
    """A 3x3 conv: dense when ``s`` is None, otherwise an MGIC conv with group size ``s``."""
    if s is None:
        return conv_row(name, c_in, c_out, 3, stride, size, shared_with=shared_with)
    params, macs, acts = mgic_counts(c_in, c_out, s, stride, size)
    return LayerCost(
        name, "mgic", c_in, c_out, mgic_fine_groups(c_in, c_out, s), 3, stride, out_size(size, stride),
        0 if shared_with else params, macs, acts, shared_with,
    )


def bn_row(name: str, channels: int, size: int) -> LayerCost:
    """A BatchNorm2d (affine): 2 parameters per channel, no MACs."""
    return LayerCost(name, "bn", channels, channels, 1, 1, 1, size, 2 * channels, 0, 0, None)


def linear_row(name: str, in_features: int, out_features: int) -> LayerCost:
    """A linear layer with bias."""
    return LayerCost(
        name, "linear", in_features, out_features, 1, 1, 1, 1, in_features * out_features + out_features,
        in_features * out_features, out_features, None,
    )
