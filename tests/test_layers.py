"""Layers: the MGIC level plan and conv, stride-per-call convs, shortcuts, sharing helper, init."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mgsearch.layers import LayerCost, mgic_levels
from mgsearch.layers.accounting import conv3x3_row, mgic_counts
from mgsearch.layers.conv import Conv2d, conv_bn_act, init_weights
from mgsearch.layers.mgic import MGICConv2d
from mgsearch.layers.sharing import share_by_runs
from mgsearch.layers.shortcut import PadShortcut, ProjectionShortcut

torch.set_num_threads(1)


def nparams(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_mgic_levels_plan() -> None:
    assert mgic_levels(64, 64, 8) == [(64, 64), (32, 32), (16, 16), (8, 8)]
    assert mgic_levels(64, 128, 16) == [(64, 128), (32, 64), (16, 32)]
    assert mgic_levels(48, 48, 16) == [(48, 48)]  # 24 is not a multiple of 16: dense
    assert mgic_levels(16, 24, 8) == [(16, 24)]
    assert mgic_levels(3, 16, 8) == [(3, 16)]  # an input that is not a multiple of s: dense
    assert mgic_levels(64, 64, None) == [(64, 64)]


@pytest.mark.parametrize("c_in,c_out,s,stride", [(64, 64, 8, 1), (32, 64, 8, 2), (48, 96, 4, 2), (16, 16, 16, 1),
                                                 (24, 12, 2, 1), (3, 16, 8, 1)])
def test_mgic_conv_shapes_and_counts(c_in: int, c_out: int, s: int, stride: int) -> None:
    conv = MGICConv2d(c_in, c_out, s, stride=stride)
    x = torch.randn(2, c_in, 15, 15)
    y = conv(x)
    h = (15 - 1) // stride + 1
    assert y.shape == (2, c_out, h, h)
    params, macs, acts = mgic_counts(c_in, c_out, s, stride, 15)
    assert nparams(conv) == params
    assert len(conv.G) == len(conv.R) == len(conv.P) == len(mgic_levels(c_in, c_out, s)) - 1
    row = conv3x3_row("x", c_in, c_out, stride, 15, s)
    assert isinstance(row, LayerCost) and row.kind == "mgic" and row.params == params and row.macs == macs


def test_mgic_conv_is_linear_and_stride_override() -> None:
    conv = MGICConv2d(32, 32, 8)
    x, z = torch.randn(1, 32, 8, 8), torch.randn(1, 32, 8, 8)
    with torch.no_grad():
        assert torch.allclose(conv(2 * x + 3 * z), 2 * conv(x) + 3 * conv(z), atol=1e-4)
        strided = conv(x, 2)
        assert strided.shape == (1, 32, 4, 4)
        # a stride-1 instance applied with stride 2 == a stride-2 instance with the same weights
        twin = MGICConv2d(32, 32, 8, stride=2)
        twin.load_state_dict(conv.state_dict())
        assert torch.allclose(twin(x), strided)


def test_single_level_mgic_is_a_dense_conv() -> None:
    conv = MGICConv2d(48, 48, 16)
    assert len(conv.G) == 0 and nparams(conv) == 48 * 48 * 9
    dense = nn.Conv2d(48, 48, 3, padding=1, bias=False)
    dense.weight.data.copy_(conv.D.weight.data)
    x = torch.randn(1, 48, 6, 6)
    assert torch.allclose(conv(x), dense(x), atol=1e-5)


def test_mgic_param_count_linear_in_width_dense_quadratic() -> None:
    s = 16
    widths = [32, 64, 128, 256, 512]
    mg = [nparams(MGICConv2d(c, c, s)) for c in widths]
    dense = [nparams(Conv2d(c, c, 3, padding=1, bias=False)) for c in widths]
    # MGIC: exactly affine in c (equal second differences on a doubling grid: p(4c)-p(2c) = 2(p(2c)-p(c)))
    for a, b, c in zip(mg, mg[1:], mg[2:]):
        assert c - b == 2 * (b - a)
    assert mg == [20 * s * c - 11 * s * s for c in widths]  # closed form for c = s * 2^k
    # dense: quadratic (doubling the width quadruples the weights)
    for a, b in zip(dense, dense[1:]):
        assert b == 4 * a
    # and the analytic counter agrees with the modules
    assert mg == [mgic_counts(c, c, s, 1, 8)[0] for c in widths]
    assert mg[-1] < dense[-1] / 10


def test_mgic_transfers_start_as_averaging() -> None:
    conv = MGICConv2d(32, 32, 8)
    init_weights(conv)
    for t in (*conv.R, *conv.P):
        assert torch.all(t.weight == 1.0 / 8)
    x = torch.ones(1, 32, 4, 4)
    assert torch.allclose(conv.R[0](x), torch.ones(1, 16, 4, 4))  # averaging preserves constants


def test_conv2d_stride_per_call() -> None:
    conv = Conv2d(4, 6, 3, padding=1, bias=False)
    x = torch.randn(1, 4, 9, 9)
    assert conv(x).shape == (1, 6, 9, 9)
    assert conv(x, 2).shape == (1, 6, 5, 5)
    ref = nn.functional.conv2d(x, conv.weight, None, 2, 1)
    assert torch.equal(conv(x, 2), ref)


def test_conv_bn_act() -> None:
    m = conv_bn_act(3, 8, stride=2)
    y = m(torch.randn(2, 3, 8, 8))
    assert y.shape == (2, 8, 4, 4) and (y >= 0).all()
    m2 = conv_bn_act(8, 16, group_size=4, act=False)
    assert isinstance(m2.conv, MGICConv2d) and isinstance(m2.act, nn.Identity)


def test_pad_shortcut() -> None:
    sc = PadShortcut(4, 8, 2)
    x = torch.randn(2, 4, 7, 7)
    y = sc(x)
    assert y.shape == (2, 8, 4, 4)
    assert torch.equal(y[:, :4], x[:, :, ::2, ::2]) and torch.all(y[:, 4:] == 0)
    assert nparams(sc) == 0
    with pytest.raises(ValueError):
        PadShortcut(8, 4)


def test_projection_shortcut() -> None:
    sc = ProjectionShortcut(16, 8, 2)
    assert sc(torch.randn(2, 16, 7, 7)).shape == (2, 8, 4, 4)
    assert nparams(sc) == 16 * 8 + 2 * 8


def test_share_by_runs() -> None:
    made: list[int] = []

    def factory(i: int) -> object:
        made.append(i)
        return object()

    objs = share_by_runs([range(0, 3), range(3, 5)], factory, own=(0,))
    assert made == [0, 1, 3]
    assert objs[1] is objs[2] and objs[0] is not objs[1] and objs[3] is objs[4] and objs[2] is not objs[3]


def test_init_weights() -> None:
    torch.manual_seed(0)
    conv = Conv2d(64, 64, 3, padding=1, bias=False)
    bn = nn.BatchNorm2d(64)
    seq = nn.Sequential(conv, bn)
    with torch.no_grad():
        bn.weight.fill_(3.0)
    init_weights(seq)
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)
    expected_std = (2.0 / (64 * 9)) ** 0.5  # kaiming normal, fan_out, relu
    assert abs(conv.weight.std().item() - expected_std) / expected_std < 0.05


def test_layers_package_is_torch_free_until_used() -> None:
    import subprocess
    import sys

    code = "import sys, mgsearch.layers as L; L.mgic_levels(8, 8, 2); assert 'torch' not in sys.modules; L.MGICConv2d; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
