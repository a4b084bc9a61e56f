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
from mgsearch.presets import MGIC_MOBILENETV3_SMALL, PRESETS, mgic_mobilenet
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


# ----------------------------------------------------------------------------- the MGIC block form (vcycle)
#: the MGIC authors' MobileNetV3 tables (BGUCompSci/MultigridInChannelsCNNs, mobilenetv3_MG.py,
#: mobileMGV3_small / mobileMGV3_full): per block (kernel, expansion, width, SE, h-swish, stride)
SMALL = MGIC_MOBILENETV3_SMALL
FULL = ((3, 1, 16, 0, 0, 1), (3, 4, 24, 0, 0, 2), (3, 3, 24, 0, 0, 1), (5, 3, 40, 1, 0, 2), (5, 3, 40, 1, 0, 1),
        (5, 3, 40, 1, 0, 1), (3, 6, 80, 0, 1, 2), (3, 2.5, 80, 0, 1, 1), (3, 2.3, 80, 0, 1, 1), (3, 2.3, 80, 0, 1, 1),
        (3, 6, 112, 1, 1, 1), (3, 6, 112, 1, 1, 1), (5, 6, 160, 1, 1, 2), (5, 6, 160, 1, 1, 1), (5, 6, 160, 1, 1, 1))
#: measured with the authors' code (torch 2.14, 2026-11-30; driver defaults pwGroup=True, mbnet=True, serial
#: cycle, 10 classes): (table, numberOfFixGroup, mgFcChannel) -> (params of their blocks, their total params).
#: Their total also holds a 1x1 stem 3 -> 16 + BN, a 1x1 conv + BN + ReLU at the last width, a 1x1 conv_head
#: (1024 small / 1280 full, bias) and the classifier; mgsearch's stem (3x3) and head (pool + linear) differ.
AUTHORS = {
    ("small", 32, 32): (1_036_744, 1_155_810),   # the driver's defaults (--model mobileMGV3small, -fg 32, -fcc 32)
    ("small", 16, 16): (929_292, 1_048_358),
    ("full", 32, 32): (3_034_186, 3_279_076),
    ("full", 16, 16): (2_683_967, 2_928_857),
}
#: outputs of the authors' MgBlockDwGroup stack (48 <- 16 stride 2 k5 SE h-swish, 48 identity, 40 <- 48 SE) with
#: the parameters of _fill and the input of _golden_input, in eval mode
GOLDEN_OUT = {"sum": 19040.237481445074, "abs_sum": 56721.311083212495,
              "first": (11.844848, -9.597601, 5.772744, 14.183421), "shape": (2, 40, 8, 8), "params": 58_274}


def _authors_spec(table, s: int, fcc: int) -> ArchSpec:
    """Their network's blocks as a mobilenet spec (:func:`mgsearch.presets.mgic_mobilenet` at width 1)."""
    return mgic_mobilenet(table, group_size=s, coarse_width=fcc)


@pytest.mark.parametrize("key", sorted(AUTHORS))
def test_vcycle_params_equal_the_authors_network(key):
    """Their blocks' parameter count, and their total = ours minus our stem / head plus theirs."""
    name, s, fcc = key
    spec = _authors_spec(SMALL if name == "small" else FULL, s, fcc)
    blocks, total = AUTHORS[key]
    rows = cost(spec).layers
    assert sum(r.params for r in rows if r.name.startswith("stages.")) == blocks
    last, head = spec.stages[-1].width, 1024 if name == "small" else 1280
    their_stem_and_head = (3 * 16 + 2 * 16) + (last * last + 2 * last) + (last * head + head) + (head * 10 + 10)
    assert blocks + their_stem_and_head == total
    if key == ("small", 32, 32):  # the preset of the authors' default is this network
        assert PRESETS["mgic-mobilenetv3-small"].spec == spec


def _fill(net: torch.nn.Module) -> None:
    """Deterministic parameters and BN statistics (no random generator): sorted state, sines."""
    with torch.no_grad():
        for k, (name, t) in enumerate(sorted(net.state_dict().items())):
            if name.endswith("num_batches_tracked"):
                continue
            v = torch.sin(torch.arange(t.numel(), dtype=torch.float64) * 0.7 + k)
            if name.endswith("running_var"):
                v = 0.5 + v.abs()
            elif name.endswith("weight") and t.dim() == 1:  # BN scale
                v = 0.75 + 0.25 * v
            else:
                v = 0.3 * v
            t.copy_(v.reshape(t.shape).to(t.dtype))


def test_vcycle_outputs_equal_the_authors_blocks():
    spec = ArchSpec(family="mobilenet", stem=Stem(16), stages=(
        Stage(48, (Block(144, kernel=5, se=True, act="hswish"), Block(48)), stride=2, group_size=8, block="vcycle",
              coarse_width=8),
        Stage(40, (Block(120, se=True),), stride=1, group_size=16, block="vcycle", coarse_width=16)))
    net = build(spec).eval()
    _fill(net)
    x = torch.sin(torch.arange(2 * 16 * 16 * 16, dtype=torch.float64) * 0.37).reshape(2, 16, 16, 16).float()
    with torch.no_grad():
        y = net.stages[1](net.stages[0](x)).double()
    assert tuple(y.shape) == GOLDEN_OUT["shape"]
    assert sum(r.params for r in cost(spec).layers if r.name.startswith("stages.")) == GOLDEN_OUT["params"]
    assert y.sum().item() == pytest.approx(GOLDEN_OUT["sum"], rel=1e-5)
    assert y.abs().sum().item() == pytest.approx(GOLDEN_OUT["abs_sum"], rel=1e-5)
    assert y[0, :4, 0, 0].tolist() == pytest.approx(GOLDEN_OUT["first"], abs=1e-4)


def test_vcycle_levels_groups_and_structure():
    from mgsearch.families.mobilenet.vcycle import channel_levels, level_groups, width_ok

    assert channel_levels(96, 32) == [96, 48, 24] and channel_levels(40, 32) == [40, 20]
    assert channel_levels(128, 16) == [128, 64, 32, 16, 8]
    assert level_groups(96, 288, 32) == 3 and level_groups(96, 200, 32) == 2 and level_groups(40, 120, 32) == 1
    assert [w for w in range(2, 100, 2) if width_ok(w, 8, 8)][:12] == [2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32]
    assert not width_ok(72, 8, 8) and width_ok(40, 32, 32) and width_ok(96, 32, 32)
    spec = ArchSpec(family="mobilenet", stem=Stem(16), stages=(
        Stage(64, (Block(192, se=True), Block(64)), stride=2, group_size=16, block="vcycle", coarse_width=16),))
    block0, block1 = build(spec).stages[0].blocks
    assert isinstance(block0.enter, torch.nn.Conv2d) and block0.enter.stride == (2, 2) and block1.enter is None
    assert [d.R.groups for d in block0.down] == [4, 2, 1] and [d.R.out_channels for d in block0.down] == [32, 16, 8]
    assert block0.coarse.expand.conv.groups == 1 and block0.up[0].project.conv.groups == 4
    assert block1.up[0].expand is None  # inner == width: their branch without the expand conv
    plain = (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.Linear, torch.nn.ReLU, torch.nn.Hardswish,
             torch.nn.Hardsigmoid, torch.nn.Dropout, torch.nn.Identity, torch.nn.AdaptiveAvgPool2d)
    assert all(isinstance(m, plain) for m in build(spec).modules() if not list(m.children()))


@pytest.mark.parametrize("change,pattern", [
    ({"width": 72, "group_size": 8, "coarse_width": 8},
     r"stages\[0\]\.width=72 gives channel levels \[72, 36, 18, 9\] \(coarse_width=8\); each must be even"),
    ({"blocks": (Block(8),), "width": 128, "coarse_width": 8},
     r"stages\[0\]\.blocks\[0\]\.inner=8 is below 2\^5=32: the coarsest of the 6 channel levels"),
    ({"group_size": None}, r"stages\[0\]\.group_size=null: block=\"vcycle\" needs a group size"),
    ({"coarse_width": None}, r"stages\[0\]\.coarse_width is missing: block=\"vcycle\" needs it"),
])
def test_vcycle_stage_rules_name_the_field(change, pattern):
    kw = dict(width=64, blocks=(Block(128),), stride=2, group_size=16, block="vcycle", coarse_width=16)
    kw.update(change)
    with pytest.raises(SpecError, match=pattern):
        ArchSpec(family="mobilenet", stem=Stem(16), stages=(Stage(**kw),))


def test_vcycle_width_need_not_be_a_multiple_of_the_group_size():
    spec = _authors_spec(SMALL, 32, 32)
    assert [st.width for st in spec.stages] == [16, 24, 40, 48, 96]
    slots = width_slots(spec)
    assert spec.with_slot_values([s.value for s in slots]) == spec
    stage_slot = next(s for s in slots if s.name == "stages[2].width")
    assert stage_slot.accepts(40) and not stage_slot.accepts(41) and stage_slot.round(45) in (44, 46)


# ----------------------------------------------------------------------------- search spaces
ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_mobilenet_spaces_draw_options_expansions_and_both_forms():
    from mgsearch.space import SearchSpace

    plain = SearchSpace.from_file(ROOT / "search_spaces" / "mobilenet.toml")
    mgic = SearchSpace.from_file(ROOT / "search_spaces" / "mobilenet_mgic.toml")
    assert {"s1.kernel", "s1.se", "s1.expansion", "s2.act"} <= set(plain.knob_names())
    assert not any("inner" in n for n in plain.knob_names())  # inner = expansion x input width
    seen: dict[str, set] = {"kernel": set(), "se": set(), "act": set(), "block": set(), "ratio": set()}
    for space in (plain, mgic):
        names = set(space.knob_names())
        for spec, values in space.sample_with_values(80, seed=5):
            assert set(values) <= names
            c_in = spec.stem.width
            for i, st in enumerate(spec.stages):
                seen["block"].add(st.block)
                assert (st.group_size is None) == (st.block == "conv")
                for j, b in enumerate(st.blocks):
                    seen["kernel"].add(b.kernel), seen["se"].add(b.se), seen["act"].add(b.act)
                    assert (b.kernel, b.se, b.act) == (st.blocks[0].kernel, st.blocks[0].se, st.blocks[0].act)
                    src = c_in if j == 0 else st.width
                    seen["ratio"].add(round(b.inner / src))
                c_in = st.width
    assert seen["kernel"] == {3, 5} and seen["se"] == {False, True} and seen["act"] == {"relu", "hswish"}
    assert seen["block"] == {"conv", "vcycle"} and {1, 3, 6} <= seen["ratio"]
    # the middle network (the uniform baseline's reference) is a MobileNetV2: expansion 6, kernel 3, no SE, ReLU
    from mgsearch.strategies.choosers import MiddleChooser

    middle = plain.to_spec(MiddleChooser())
    assert all((b.kernel, b.se, b.act) == (3, False, "relu") for st in middle.stages for b in st.blocks)
    assert middle.stages[2].blocks[1].inner == 6 * middle.stages[2].width


@pytest.mark.parametrize("key,value,pattern", [
    ("kernel", [3, 4], r"gen\.toml: stages\[0\]\.kernel\[1\]=4 must be one of 3, 5, 7"),
    ("se", "yes", r"gen\.toml: stages\[0\]\.se=\"yes\" must be true or false"),
    ("act", ["relu", "gelu"], r"gen\.toml: stages\[0\]\.act\[1\]=\"gelu\" must be one of relu, hswish"),
    ("expansion", [0, 6], r"gen\.toml: stages\[0\]\.expansion\[0\]=0 must be a number in \(0, 16\]"),
    ("expansion", [6, 6], r"gen\.toml: stages\[0\]\.expansion=\[6, 6\] repeats a choice"),
])
def test_space_option_errors_are_one_line(key, value, pattern):
    from mgsearch.errors import ConfigError
    from mgsearch.space import SearchSpace

    data = {"family": "mobilenet", "stem": {"width": 16},
            "stages": [{"depth": 1, "width": 16, "expansion": 3, key: value}]}
    with pytest.raises(ConfigError, match=pattern):
        SearchSpace.from_dict(data, source="gen.toml")


def test_space_options_only_in_families_that_have_them():
    from mgsearch.errors import ConfigError
    from mgsearch.space import SearchSpace

    data = {"family": "resnet", "stem": {"width": 16},
            "stages": [{"depth": 1, "width": 16, "inner": 16, "kernel": [3, 5]}]}
    with pytest.raises(ConfigError, match=r"stages\[0\]\.kernel=\[3, 5\] is not allowed in family 'resnet'; block "
                                          r"options exist in: mobilenet"):
        SearchSpace.from_dict(data, source="gen.toml")
    data = {"family": "mobilenet", "stem": {"width": 16},
            "stages": [{"depth": 1, "width": 16, "inner": 32, "group_size": [8]}]}
    with pytest.raises(ConfigError, match=r"stages\[0\]\.group_size=\[8\] cannot be 8 with block=\"conv\": in family "
                                          r"'mobilenet' only a block form gives a group size a meaning"):
        SearchSpace.from_dict(data, source="gen.toml")


def test_docs_preset_rows_match_the_presets():
    import re

    text = (ROOT / "docs" / "concepts.md").read_text()
    rows = dict(re.findall(r"^\| `([\w.-]+)` \| mobilenet \| ([\d,]+) \|", text, re.M))
    names = {n for n, p in PRESETS.items() if p.spec.family == "mobilenet"}
    assert set(rows) == names == {"mobilenetv2-50k", "mobilenetv2-250k", "mgic-mobilenetv3-small",
                                  "mgic-mobilenetv3-50k", "mgic-mobilenetv3-250k"}
    assert all(int(rows[n].replace(",", "")) == PRESETS[n].params for n in names)


@pytest.mark.slow
def test_export_round_trip_with_both_forms(tmp_path):
    """safetensors + ONNX (onnxruntime) round trip of a spec with a plain and an MGIC stage, SE and h-swish."""
    from tests.test_export import check_round_trip

    spec = ArchSpec(family="mobilenet", stem=Stem(8), stages=(
        Stage(16, (Block(48, kernel=5, se=True, act="hswish"),), stride=2),
        Stage(32, (Block(96, se=True, act="hswish"), Block(64)), stride=2, group_size=8, block="vcycle",
              coarse_width=8)), input_size=16)
    check_round_trip(spec, tmp_path / "mobilenet")
