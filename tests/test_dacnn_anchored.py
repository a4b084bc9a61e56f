"""The ``anchored`` block form of ``dacnn`` (DACNN-mix as its authors built it).

Golden values from the authors' code (Gabriel-Huang/DACNN_release @ 3cc0829, ``resnet_mix_reg.py``,
``resnet_mix``), measured once on the CPU with their model (parameters of the modules that run in
its forward: the unused ``conv_fix``, regulators and the transition blocks' ``bn1`` excluded); with
their weights copied into mgsearch's network, the last stage's output was identical (max abs diff
0.0) and so were the logits up to their extra 2x2 max-pool before global average pooling (see
docs/concepts.md). These tests do not need the reference code.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import mgsearch
from mgsearch.cost import cost, count_params, fvcore_counts
from mgsearch.errors import SpecError
from mgsearch.families.residual.anchored_modules import AnchoredBlock, AnchoredStage
from mgsearch.presets import PRESETS
from mgsearch.spec import ArchSpec, Block, Stage, Stem, width_slots

torch.set_num_threads(1)

#: the authors' resnet_mix: used params (their [3,4,6,3], 64-512 network; CIFAR-100 default and 10 classes)
REF_PARAMS = {((3, 4, 6, 3), 100): 4_925_668, ((3, 4, 6, 3), 10): 4_879_498, ((2, 2, 2, 2), 10): 4_872_074}
#: fvcore conv + linear MACs of mgsearch's network on 3x32x32 (max-pools cost none)
MACS = {((3, 4, 6, 3), 100): 1_159_448_576, ((2, 2, 2, 2), 10): 555_422_720}


def mix(depths=(3, 4, 6, 3), widths=(64, 128, 256, 512), classes=100, size=32) -> ArchSpec:
    stages = tuple(Stage(width=w, blocks=tuple(Block(inner=w) for _ in range(n)), stride=1 if i == 0 else 2,
                         block="anchored") for i, (n, w) in enumerate(zip(depths, widths)))
    return ArchSpec(family="dacnn", stem=Stem(width=widths[0]), stages=stages, num_classes=classes, input_size=size)


@pytest.mark.parametrize("depths,classes", list(REF_PARAMS))
def test_params_equal_the_authors_used_params(depths, classes) -> None:
    spec = mix(depths, classes=classes)
    assert cost(spec).params == REF_PARAMS[(depths, classes)]


@pytest.mark.parametrize("depths,classes", list(MACS))
def test_built_model_matches_cost(depths, classes) -> None:
    spec = mix(depths, classes=classes)
    model = mgsearch.build(spec)
    c = cost(spec)
    assert count_params(model) == c.params == REF_PARAMS[(depths, classes)]
    assert fvcore_counts(model, spec)["macs"] == c.macs == MACS[(depths, classes)]


def test_one_kernel_per_stage_bn_per_application() -> None:
    model = mgsearch.build(mix((2, 3), (8, 16), classes=10))
    for stage in model.stages:
        assert isinstance(stage, AnchoredStage)
        convs = {id(b.conv) for b in stage.blocks}
        assert len(convs) == 1 and stage.blocks[0].conv.bias is not None  # bias, as nn.Conv2d's default
        bns = [bn for b in stage.blocks for bn in (getattr(b, "bn1", None), b.bn2) if bn is not None]
        assert len({id(bn) for bn in bns}) == len(bns)
    first, second = model.stages
    assert first.blocks[0].trans is None and isinstance(first.pool, torch.nn.Identity)
    assert second.blocks[0].trans is not None and isinstance(second.pool, torch.nn.MaxPool2d)
    assert second.blocks[0].trans.conv.bias is not None and second.blocks[0].shortcut.conv.bias is None
    assert second.blocks[1].trans is None
    # the stage's kernel is distinct from the other stage's
    assert first.blocks[0].conv is not second.blocks[0].conv


def test_block_forward_is_the_authors_formula() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(6, 6, 3, padding=1)
    for c_in in (6, 4):
        block = AnchoredBlock(conv, c_in, 6).eval()
        for m in block.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
        x = torch.randn(2, c_in, 5, 5)
        swap = lambda t: torch.cat((t[:, 1:], t[:, :1]), 1)  # noqa: E731  (their swap)
        with torch.no_grad():
            h = block.trans(x) if c_in != 6 else F.relu(block.bn1(conv(x)))
            out = swap(block.bn2(conv(swap(h))))
            out = F.relu(out + swap(swap(block.shortcut(x))))
            assert torch.equal(block(x), out)


def test_widths_gates_and_odd_sizes() -> None:
    spec = mix((1, 2, 1), (4, 12, 12), classes=3, size=7)  # 7 -> 4 -> 2 (max-pool, ceil mode)
    model = mgsearch.build(spec)
    c = cost(spec)
    assert count_params(model) == c.params
    assert fvcore_counts(model, spec)["macs"] == c.macs
    slots = width_slots(spec)
    assert [s.name for s in slots if s.name.startswith("stages")] == [f"stages[{i}].width" for i in range(3)]
    gates = model.channel_gates()
    assert len(gates["stages[1].width"]) == 3 + 2  # block 0: trans.bn, shortcut.bn, bn2; block 1: bn1, bn2
    assert model(torch.randn(2, 3, 7, 7)).shape == (2, 3)


@pytest.mark.parametrize("change,match", [
    ({"share": 2}, "share=2"),
    ({"blocks": (Block(inner=8), Block(inner=16))}, r"blocks\[0\].inner=8"),
    ({"coarse_width": 4}, "coarse_width"),
])
def test_validation(change, match) -> None:
    stage = dict(width=16, blocks=(Block(inner=16), Block(inner=16)), block="anchored")
    stage.update(change)
    with pytest.raises(SpecError, match=match):
        ArchSpec(family="dacnn", stem=Stem(width=8), stages=(Stage(**stage),))
    with pytest.raises(SpecError, match="block"):
        ArchSpec(family="resnet", stem=Stem(width=8),
                 stages=(Stage(width=16, blocks=(Block(inner=16),), block="anchored"),))


def test_default_dacnn_is_unchanged_two_kernel_variant() -> None:
    p = PRESETS["dacnn20"]
    assert "\"block\"" not in p.spec.to_json() and (p.params, cost(p.spec).params) == (122_266, 122_266)
    assert '"block":"anchored"' in PRESETS["dacnn-mix20"].spec.to_json().replace(" ", "")
