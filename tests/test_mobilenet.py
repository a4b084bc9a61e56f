"""The inverted-residual family ``mobilenet``: block options in the spec (kernel / se / act), their
validation and JSON, the analytic cost of a block by hand, and the reference (width-multiplier) profile.
The generic contract (random specs: cost == built model == fvcore, gates, round trip) runs for every
family in tests/test_families.py; presets in tests/test_presets.py."""

from __future__ import annotations

import json

import pytest
import torch

from mgsearch.cost import cost, count_params, fvcore_counts
from mgsearch.errors import SpecError
from mgsearch.families import build, get_family
from mgsearch.fitting import scale_to_budget
from mgsearch.presets import PRESETS
from mgsearch.spec import ArchSpec, Block, Stage, Stem, width_slots

torch.set_num_threads(1)

#: hashes of the presets written before block options existed (their canonical JSON must not change)
GOLDEN_HASHES = {
    "resnet20": "12611f050cfcae8c03c2e2fef9f3348457c2970f857af1217cbc34044a1c5336",
    "mgic20": "f7d1eb40febd2fde1f6e4981781f43d3093209a1d6862e0ae7cbcf102daf3607",
    "dacnn-mix20": "ec6245cd8b9864e549d6394000b5e1d56a5d20aca619f74f92575381d00400b1",
    "mgnet-222-64": "5043c5770ebe77136dc89c192065bdda3dced68f05f756b649483abc496b49f6",
    "mgiad-small": "3bcab33ee118c1413bdf26e993db2ce4856ebc729605d502e09f6ff089699fd4",
}


def _spec(*blocks: Block, width: int = 24, stride: int = 2, stem: int = 16) -> ArchSpec:
    return ArchSpec(family="mobilenet", stem=Stem(stem), stages=(Stage(width, tuple(blocks), stride=stride),))


@pytest.mark.parametrize("name", sorted(GOLDEN_HASHES))
def test_specs_without_block_options_keep_their_json_and_hash(name):
    spec = PRESETS[name].spec
    assert spec.hash == GOLDEN_HASHES[name]
    assert all(set(b) == {"inner"} for st in spec.to_dict()["stages"] for b in st["blocks"])


def test_block_options_round_trip_and_are_left_out_at_default():
    spec = _spec(Block(64, kernel=5, se=True, act="hswish"), Block(72))
    blocks = json.loads(spec.to_json())["stages"][0]["blocks"]
    assert blocks == [{"inner": 64, "kernel": 5, "se": True, "act": "hswish"}, {"inner": 72}]
    again = ArchSpec.from_json(spec.to_json())
    assert again == spec and again.hash == spec.hash
    assert again.stages[0].blocks[0].kernel == 5 and again.stages[0].blocks[1].act == "relu"
    # width scaling keeps the options
    doubled = spec.with_slot_values([2 * s.value for s in width_slots(spec)])
    assert doubled.stages[0].blocks[0] == Block(128, kernel=5, se=True, act="hswish")


@pytest.mark.parametrize("key,value,pattern", [
    ("kernel", 4, r"stages\[0\]\.blocks\[0\]\.kernel=4 must be one of 3, 5, 7"),
    ("kernel", True, r"kernel=True must be one of 3, 5, 7"),
    ("se", 1, r"stages\[0\]\.blocks\[0\]\.se=1 must be true or false, not int"),
    ("act", "gelu", r"stages\[0\]\.blocks\[0\]\.act='gelu' must be one of relu, hswish"),
])
def test_bad_block_options_name_the_field(key, value, pattern):
    d = _spec(Block(32)).to_dict()
    d["stages"][0]["blocks"][0][key] = value
    with pytest.raises(SpecError, match=pattern):
        ArchSpec.from_dict(d)


def test_other_families_refuse_block_options():
    d = PRESETS["resnet20"].spec.to_dict()
    d["stages"][1]["blocks"][2]["kernel"] = 5
    with pytest.raises(SpecError, match=r"stages\[1\]\.blocks\[2\] sets kernel/se/act .* family 'resnet' does not "
                                        r"use .*block options exist in: mobilenet"):
        ArchSpec.from_dict(d)


def test_plain_stage_has_no_group_size_or_sharing():
    with pytest.raises(SpecError, match=r"stages\[0\]\.group_size=8 is not allowed with block=\"conv\" in family "
                                        r"'mobilenet'"):
        ArchSpec(family="mobilenet", stem=Stem(16), stages=(Stage(32, (Block(32),), group_size=8),))
    with pytest.raises(SpecError, match=r"share=2 is not allowed in family 'mobilenet'"):
        ArchSpec(family="mobilenet", stem=Stem(16), stages=(Stage(32, (Block(32), Block(32)), share=2),))


def test_block_cost_by_hand():
    """stem 3->16 (3x3), one block 16 -> 64 -> 24, k5, SE, stride 2 on 32x32, head 24 -> 10."""
    spec = _spec(Block(64, kernel=5, se=True, act="hswish"))
    r = 16  # make_divisible(64 // 4, 8)
    params = (3 * 16 * 9 + 32) + (16 * 64 + 128) + (64 * 25 + 128) + (64 * r + r + r * 64 + 64) + (64 * 24 + 48) \
        + (24 * 10 + 10)
    macs = 3 * 16 * 9 * 32 * 32 + 16 * 64 * 32 * 32 + 64 * 25 * 16 * 16 + 2 * 64 * r + 64 * 24 * 16 * 16 + 240
    c = cost(spec)
    assert (c.params, c.macs) == (params, macs)
    model = build(spec)
    assert count_params(model) == params and fvcore_counts(model, spec)["macs"] == macs
    block = model.stages[0].blocks[0]
    assert isinstance(block.act, torch.nn.Hardswish) and block.dw.conv.kernel_size == (5, 5)
    assert not block.residual


def test_expansion_one_has_no_expand_conv_and_residual_when_shapes_match():
    spec = _spec(Block(24), Block(24), width=24, stride=1, stem=24)
    model = build(spec)
    assert model.stages[0].blocks[0].expand is None and model.stages[0].blocks[0].residual
    assert [r.name for r in cost(spec).layers if ".blocks.0." in r.name] == [
        "stages.0.blocks.0.dw.conv", "stages.0.blocks.0.dw.bn", "stages.0.blocks.0.project.conv",
        "stages.0.blocks.0.project.bn"]


def test_reference_profile_is_the_width_multiplier_network():
    spec = PRESETS["mobilenetv2-250k"].spec
    family = get_family("mobilenet")
    profile = family.reference_profile(spec)
    slots = width_slots(spec)
    assert len(profile) == len(slots)
    by_name = dict(zip((s.name for s in slots), profile))
    assert by_name["stem"] == 1.0 and by_name["stages[0].width"] == 1.0 and by_name["stages[0].blocks[0].inner"] == 1.0
    assert by_name["stages[2].width"] == 2.0 and by_name["stages[2].blocks[0].inner"] == 6.0
    assert by_name["stages[2].blocks[1].inner"] == 12.0 and by_name["stages[6].width"] == 8.0
    for budget in (50_000, 250_000):
        scaled = scale_to_budget(spec, lambda s, b=budget: cost(s).params <= b, profile=profile, grow=True)
        assert scaled is not None and 0.8 * budget < cost(scaled).params <= budget
        assert [st.depth for st in scaled.stages] == [st.depth for st in spec.stages]
