"""Searching the MGIC V-cycle block form: the space knob (``block``, ``coarse_width``) and the width
rounding of vcycle stages (``WidthSlot.allowed``) in scaling to a budget, widening and LW-DNA's fit."""

from __future__ import annotations

import random

import pytest

from mgsearch.cost import cost
from mgsearch.errors import ConfigError
from mgsearch.families.residual.vcycle import vcycle_width_ok
from mgsearch.fitting import narrowest, scale_to_budget, scale_widths
from mgsearch.shrink.fit import fit_widths, minimum_spec, slot_minimums
from mgsearch.shrink.widen import widen
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec, Block, Stage, Stem, round_width, width_slots


def _valid_vcycle(spec: ArchSpec) -> bool:
    return all(vcycle_width_ok(st.width, st.group_size, st.coarse_width) and all(b.inner == st.width for b in st.blocks)
               and st.share == 1 for st in spec.stages if st.block == "vcycle")


def mixed_spec(cw: int = 16) -> ArchSpec:
    """A conv stage, then two vcycle stages (s=16, coarse width ``cw``)."""
    return ArchSpec(family="mgic", stem=Stem(32), stages=(
        Stage(width=32, blocks=(Block(32), Block(48)), group_size=8, share=1),
        Stage(width=128, blocks=(Block(128),) * 2, stride=2, group_size=16, block="vcycle", coarse_width=cw),
        Stage(width=256, blocks=(Block(256),) * 2, stride=2, group_size=16, block="vcycle", coarse_width=cw),
    ))


def test_round_width_keeps_the_plain_rule_and_respects_allowed():
    for v in (0.3, 7.9, 24, 40.1, 47.9, 100):
        assert round_width(v, 8, minimum=4) == round_width(v, 8, minimum=4, allowed=None)
    ok = lambda w: vcycle_width_ok(w, 16, 16)  # noqa: E731  16, 32, 64, 128, 256, ...
    assert [round_width(v, 16, minimum=16, allowed=ok) for v in (40, 48, 49, 80, 100, 190)] == [32, 32, 64, 64, 128, 128]


def test_vcycle_slot_carries_the_level_rule():
    (stem, s0, b0, b1, s1, s2) = width_slots(mixed_spec())
    assert s0.allowed is None and s1.allowed is not None
    assert s1.accepts(64) and not s1.accepts(48) and not s1.accepts(80)
    assert s1.choices(16, 256) == [16, 32, 64, 128, 256]
    assert s1.round_up(65) == 128


@pytest.mark.parametrize("cw", [16, 32])
@pytest.mark.parametrize("fraction", [0.05, 0.2, 0.45, 0.8, 1.3, 3.0])
def test_scale_to_budget_gives_valid_vcycle_specs(cw, fraction):
    spec = mixed_spec(cw)
    limit = fraction * cost(spec).params
    fits = lambda s: cost(s).params <= limit  # noqa: E731
    out = scale_to_budget(spec, fits, grow=fraction > 1)
    if out is None:
        assert not fits(narrowest(spec))
        return
    assert fits(out) and _valid_vcycle(out)
    for factor in (0.1, 0.37, 0.6, 1.7):
        assert _valid_vcycle(scale_widths(spec, factor))


@pytest.mark.parametrize("cw", [16, 32])
@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.8])
def test_widen_and_lwdna_fit_give_valid_vcycle_specs_within_budget(cw, ratio):
    spec = mixed_spec(cw)
    wide = widen(spec, 1.5)
    assert _valid_vcycle(wide)
    rng = random.Random(int(ratio * 10) + cw)
    scores = {sl.name: [rng.random() for _ in range(sl.value)] for sl in width_slots(wide)}
    budget = int(ratio * cost(spec).params)
    for keep in (0.4, "auto"):
        try:
            res = fit_widths(wide, scores, max_params=budget, keep_ratio=keep)
        except Exception as exc:  # a BudgetError is allowed: the smallest network does not fit
            assert type(exc).__name__ == "BudgetError"
            continue
        assert res.params <= budget and _valid_vcycle(res.spec)
    assert _valid_vcycle(minimum_spec(wide))
    assert all(sl.accepts(m) for sl, m in zip(width_slots(wide), slot_minimums(wide)))


def test_baselines_round_vcycle_widths():
    from mgsearch.strategies.uniform import uniform_profile, uniform_steps

    spec = mixed_spec(16)
    for factor in (3.0, 7.5, 12.0, 20.0):
        assert _valid_vcycle(scale_widths(spec, factor, profile=uniform_profile(spec), steps=uniform_steps(spec)))


# ----------------------------------------------------------------------------- the space knob
VCYCLE_SPACE = "search_spaces/mgic_vcycle.toml"


def test_vcycle_space_samples_valid_specs_with_readable_knobs():
    space = SearchSpace.from_file(VCYCLE_SPACE)
    names = set(space.knob_names())
    assert {"s1.block", "s1.coarse_width@s16", "s1.width@s16.vcycle-cw16", "s2.width@s32.vcycle"} <= names
    blocks = set()
    for spec, values in space.sample_with_values(300, seed=4):
        assert set(values) <= names and _valid_vcycle(spec)
        for i, st in enumerate(spec.stages):
            blocks.add(st.block)
            if st.block == "vcycle":
                assert values[f"s{i}.block"] == "vcycle" and st.share == 1
                assert not any(k.startswith(f"s{i}.") and "inner" in k for k in values)
    assert blocks == {"conv", "vcycle"}


def test_width_multiplier_keeps_vcycle_widths_valid():
    data = SearchSpace.from_file(VCYCLE_SPACE).to_dict()
    data["width_multiplier"] = {"min": 0.3, "max": 2.2}
    space = SearchSpace.from_dict(data)
    assert all(_valid_vcycle(s) for s in space.sample(200, seed=2))


def _space(**stage):
    base = {"depth": {"min": 1, "max": 2}, "width": {"min": 16, "max": 128, "step": 16}, "inner": 16,
            "group_size": [8, 16]}
    return {"family": "mgic", "stem": {"width": 16}, "stages": [{**base, **stage}]}


def test_vcycle_only_stage_needs_no_inner_and_forces_share_one():
    data = _space(block="vcycle", share=[1, 2], coarse_width=[8, "group_size"])
    del data["stages"][0]["inner"]
    space = SearchSpace.from_dict(data)
    for spec in space.sample(50, seed=0):
        st = spec.stages[0]
        assert st.block == "vcycle" and st.share == 1 and _valid_vcycle(spec)
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert cost(space.min_spec()).params <= cost(space.max_spec()).params


@pytest.mark.parametrize("family,stage,pattern", [
    ("resnet", {"block": "vcycle", "group_size": "none"}, r"stages\[0\]\.block=\"vcycle\" is not allowed in family 'resnet': it has no block forms"),
    ("mgic", {"block": ["conv", "vcyc"]}, r"stages\[0\]\.block\[1\]=\"vcyc\" is not a block form of family 'mgic'; allowed: conv, vcycle"),
    ("mgic", {"block": "vcycle", "group_size": [8, "none"]}, r"stages\[0\]\.group_size=\[8, \"none\"\] cannot be \"none\""),
    ("mgic", {"block": ["conv", "vcycle"], "group_size": "none"}, r"stages\[0\]\.block=.* needs a group size"),
    ("mgic", {"coarse_width": 16}, r"stages\[0\]\.coarse_width=16 is only allowed with a block form"),
    ("mgic", {"block": ["conv", "vcycle"], "coarse_width": [1]}, r"stages\[0\]\.coarse_width\[0\]=1 must be an integer"),
    ("mgic", {"block": "vcycle", "width": 48, "group_size": 16},
     r"stages\[0\]\.width=48 holds no width valid for block='vcycle' with group_size=16, coarse_width=16"),
])
def test_block_knob_errors_are_one_line(family, stage, pattern):
    data = _space(**stage)
    data["family"] = family
    with pytest.raises(ConfigError, match="^my.toml: " + pattern) as info:
        SearchSpace.from_dict(data, source="my.toml")
    assert "\n" not in str(info.value)
