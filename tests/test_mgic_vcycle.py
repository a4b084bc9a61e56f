"""The MGIC V-cycle block (``Stage.block = "vcycle"``, family ``mgic``) against the authors' code.

Golden numbers from BGUCompSci/MultigridInChannelsCNNs ``resnetMG.py`` (``ResNetMGGroup`` /
``MgBlockDwGroup`` with the driver's defaults ``pwGroup=True, bottleneck=False``, one-sided serial
cycle), measured once on the CPU with the reference code (see docs/concepts.md); these tests need
neither that code nor the network. ``REF_OUT``: the reference model's logits, in eval mode, for the
weights of :func:`det_init` copied into it and the seeded input of :func:`_input` fed to its blocks
(the stems differ: the reference's is 7x7 stride 2 + max-pool, so the check starts after the stem).
"""

from __future__ import annotations

import json

import pytest
import torch

from mgsearch import build, cost
from mgsearch.errors import SpecError
from mgsearch.spec import ArchSpec, Block, Stage, Stem, width_slots

#: name -> ((channels, repetitions, strides, group size = numberOfFixGroup, mgFcChannel),
#:          reference params (whole model), reference params of the MG blocks, reference logits)
GOLDEN = {
    'driver_defaults': (
        ((32, 64, 128, 256), (1, 2, 2, 2), (1, 2, 2, 2), 32, 32),
        1047018, 1039680,
        [0.00789, 0.25066, 0.31709, 0.43074, -0.08299, -0.03063, -0.09174, -0.0588, -0.21148, 0.2146, 0.00395, 0.24982, 0.31157, 0.43336, -0.08303, -0.02806, -0.0919, -0.05902, -0.21551, 0.21072],
    ),
    'small_s8_F8': (
        ((16, 32, 64), (2, 2, 2), (1, 2, 2), 8, 8),
        69114, 66080,
        [0.14678, -0.30148, 0.24808, 0.82154, -0.00511, 0.2334, 0.12475, 0.31704, 0.3129, -0.10028, 0.14257, -0.31048, 0.24788, 0.81892, -0.00397, 0.23681, 0.11639, 0.32299, 0.31323, -0.10307],
    ),
    'c64_s8_F16_one_block': (
        ((64,), (1,), (1,), 8, 16),
        29066, 18880,
        [0.46803, -1.07915, -0.78922, -0.61827, -0.83761, 0.57173, -0.61293, -0.37489, -0.20274, -0.56936, 0.4941, -1.01485, -0.6868, -0.54959, -0.67404, 0.63509, -0.60211, -0.31701, 0.00777, -0.72323],
    ),
}


def spec_of(channels, reps, strides, s, coarse, num_classes=10) -> ArchSpec:
    return ArchSpec(family="mgic", stem=Stem(channels[0]), num_classes=num_classes, stages=tuple(
        Stage(width=c, blocks=tuple(Block(c) for _ in range(n)), stride=t, group_size=s, block="vcycle",
              coarse_width=coarse)
        for c, n, t in zip(channels, reps, strides)))


def det_init(net: torch.nn.Module) -> None:
    """The deterministic weights that were copied into the reference model for ``REF_OUT``."""
    g = torch.Generator().manual_seed(2024)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bias"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif t.dim() == 1:
                t.copy_(torch.rand(t.shape, generator=g) * 0.2 + 0.1)
            else:
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / t[0].numel()) ** 0.5)


def _input(width: int) -> torch.Tensor:
    return torch.randn(2, width, 16, 16, generator=torch.Generator().manual_seed(7))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_params_equal_the_reference(name):
    cfg, ref_params, ref_block_params, _ = GOLDEN[name]
    spec = spec_of(*cfg)
    net = build(spec)
    block_params = sum(p.numel() for n, p in net.named_parameters() if n.startswith("stages."))
    assert block_params == ref_block_params
    # the whole models differ only in the stem: the reference's 7x7 conv + BN vs mgsearch's 3x3 conv + BN
    c0 = cfg[0][0]
    assert cost(spec).params == ref_params - (3 * c0 * 49) + (3 * c0 * 9)
    assert sum(p.numel() for p in net.parameters()) == cost(spec).params


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_outputs_equal_the_reference_with_its_weights(name):
    cfg, _, _, ref_out = GOLDEN[name]
    net = build(spec_of(*cfg)).eval()
    det_init(net)
    with torch.no_grad():
        h = _input(cfg[0][0])
        for stage in net.stages:
            h = stage(h)
        out = net.head(h)
    assert out.shape == (2, 10)
    assert torch.allclose(out.flatten(), torch.tensor(ref_out), atol=1e-4, rtol=1e-4)


def test_one_block_matches_the_issue_count():
    # issue 12: one c=64, s=8 block of the reference has 18,880 params (mgFcChannel=16)
    spec = spec_of((64,), (1,), (1,), 8, 16)
    assert sum(r.params for r in cost(spec).layers if r.name.startswith("stages.")) == 18_880


def test_levels_follow_the_coarse_width():
    from mgsearch.families.residual.vcycle import vcycle_levels

    assert vcycle_levels(256, 32) == [256, 128, 64, 32, 16]
    assert vcycle_levels(32, 32) == [32, 16]
    assert vcycle_levels(16, 32) == [16, 8]  # the authors' block always restricts once
    assert vcycle_levels(64, 16) == [64, 32, 16, 8]


def test_default_form_is_left_out_of_the_json_and_vcycle_round_trips():
    plain = ArchSpec(family="mgic", stem=Stem(16), stages=(Stage(16, (Block(16),), group_size=8),))
    assert all("block" not in st and "coarse_width" not in st for st in json.loads(plain.to_json())["stages"])
    assert plain == ArchSpec.from_json(plain.to_json())
    spec = spec_of((32, 64), (2, 1), (1, 2), 8, 8)
    d = json.loads(spec.to_json())
    assert d["stages"][0]["block"] == "vcycle" and d["stages"][0]["coarse_width"] == 8
    assert ArchSpec.from_json(spec.to_json()) == spec and spec.hash != plain.hash


@pytest.mark.parametrize("change, message", [
    (dict(block="vcycle", coarse_width=8, family="resnet"), "stages[0].block='vcycle' is not a block form of family 'resnet'"),
    (dict(block="vcyc", coarse_width=8), "stages[0].block='vcyc' is not a block form of family 'mgic'; allowed: conv, vcycle"),
    (dict(block="vcycle"), "stages[0].coarse_width is missing"),
    (dict(block="vcycle", coarse_width=8, group_size=None), "stages[0].group_size=null"),
    (dict(coarse_width=8), "stages[0].coarse_width=8 is only allowed with a block form"),
    (dict(block="vcycle", coarse_width=1), "stages[0].coarse_width=1 must be >= 2"),
    (dict(block="vcycle", coarse_width=8, inner=16), "stages[0].blocks[0].inner=16 differs from stages[0].width=32"),
    (dict(block="vcycle", coarse_width=8, share=2), "stages[0].share=2 is not allowed with block=\"vcycle\""),
    (dict(block="vcycle", coarse_width=2, width=48, group_size=16), "stages[0].width=48 gives channel level 24"),
])
def test_errors_name_the_field(change, message):
    change = dict(change)
    family = change.pop("family", "mgic")
    inner = change.pop("inner", change.get("width", 32))
    stage = {"width": 32, "group_size": 8, **change}
    data = {"family": family, "stem": {"width": 16},
            "stages": [{**stage, "blocks": [{"inner": inner}, {"inner": inner}]}]}
    if family == "resnet":
        data["stages"][0].pop("group_size")
    with pytest.raises(SpecError) as exc:
        ArchSpec.from_dict(data)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_one_width_slot_per_vcycle_stage_and_gates_cover_it():
    spec = spec_of((16, 32), (2, 2), (1, 2), 8, 4)
    slots = width_slots(spec)
    assert [s.name for s in slots] == ["stem", "stages[0].width", "stages[1].width"]
    assert slots[2].paths == ("stages[1].width", "stages[1].blocks[0].inner", "stages[1].blocks[1].inner")
    gates = build(spec).channel_gates()
    for slot in slots:
        assert gates[slot.name] and all(bn.num_features == slot.value for bn in gates[slot.name])
    assert spec.with_slot_values([8, 16, 64]).stages[1].blocks[1].inner == 64


def test_transfers_start_as_averaging():
    net = build(spec_of((32,), (1,), (1,), 8, 8))
    block = net.stages[0].blocks[0]
    assert torch.all(block.down[0].weight == 1 / 8) and torch.all(block.up[0].P.weight == 1 / 8)


def test_stages_mix_block_forms():
    spec = ArchSpec(family="mgic", stem=Stem(16), stages=(
        Stage(16, (Block(24), Block(24)), group_size=8, share=2),
        Stage(32, (Block(32),), stride=2, group_size=8, block="vcycle", coarse_width=8),
    ))
    net = build(spec)
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert sum(p.numel() for p in net.parameters()) == cost(spec).params
