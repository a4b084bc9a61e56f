"""Search spaces ask a block form what it needs (``BlockForm.needs_group_size``, ``allows_group_size``,
``ties_inner_to_width``, ``forces_share_one``, ``uses_coarse_width``, optional ``width_allowed``)
instead of assuming every form behaves like ``vcycle``: ``block = ["conv", "anchored"]`` in ``dacnn``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mgsearch.cost import cost
from mgsearch.errors import ConfigError, SpecError
from mgsearch.families.family import BlockForm
from mgsearch.families.registry import get_family
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec, WidthSlot

ROOT = Path(__file__).resolve().parents[1]
MIX_SPACE = ROOT / "search_spaces" / "dacnn_mix.toml"


def _valid_anchored(spec: ArchSpec) -> bool:
    return all(st.group_size is None and st.share == 1 and st.coarse_width is None
               and all(b.inner == st.width for b in st.blocks) for st in spec.stages if st.block == "anchored")


def test_forms_declare_what_spaces_need():
    vcycle = get_family("mgic").block_forms["vcycle"]
    anchored = get_family("dacnn").block_forms["anchored"]
    assert (vcycle.needs_group_size, vcycle.allows_group_size, vcycle.ties_inner_to_width,
            vcycle.forces_share_one, vcycle.uses_coarse_width) == (True, True, True, True, True)
    assert (anchored.needs_group_size, anchored.allows_group_size, anchored.ties_inner_to_width,
            anchored.forces_share_one, anchored.uses_coarse_width) == (False, False, True, True, False)
    assert hasattr(vcycle, "width_allowed") and not hasattr(anchored, "width_allowed")


#: digests of 60 seeded samples (knob values + spec JSON), knob names and min/max spec of the spaces
#: shipped before block forms became declarative; computed at the commit before the change
GOLDEN = {
    "dacnn": "d1cad0923a41f635",
    "mgiad": "f2e5ae0e35c948e4",
    "mgic": "87ecb3d67785a6c2",
    "mgic_vcycle": "2d37ab5f9c8e94e4",
    "mgic_vcycle_cycles": "f44b7db5fc7ddc1d",  # added with the space (issue 12)
    "mgnet_poly": "527efa3c047d721a",  # added with the space (issue 12)
    "dacnn_plain": "604f86fb89874eaa",  # added with the space (issue 12)
    "dacnn_mix": "df6922a25283b6ce",  # added after the space shipped (unchanged since)
    "mobilenet": "6fec9933ea19c558",  # added with the space (issue 12)
    "mobilenet_mgic": "d56711356b025562",  # added with the space (issue 12)
    "mgnet": "acd955578260648d",
    "resnet": "ecc23ceba6a80ce5",
    "tiny": "98c9025542a811a6",
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_existing_spaces_sample_identically(name):
    space = SearchSpace.from_file(ROOT / "search_spaces" / f"{name}.toml")
    h = hashlib.sha256(json.dumps(space.knob_names()).encode())
    for spec, values in space.sample_with_values(60, seed=11):
        h.update(json.dumps(values, sort_keys=True).encode() + spec.to_json().encode())
    h.update(space.min_spec().to_json().encode() + space.max_spec().to_json().encode())
    assert h.hexdigest()[:16] == GOLDEN[name]


def test_dacnn_mix_space_draws_both_forms_and_valid_anchored_stages():
    space = SearchSpace.from_file(MIX_SPACE)
    names = space.knob_names()
    assert {"s0.block", "s0.width@anchored", "s0.share", "s0.inner"} <= set(names)
    assert not any("coarse_width" in n or "group_size" in n for n in names)
    blocks = set()
    for spec, values in space.sample_with_values(200, seed=3):
        assert set(values) <= set(names) and _valid_anchored(spec)
        for i, st in enumerate(spec.stages):
            blocks.add(st.block)
            assert values[f"s{i}.block"] == st.block
            if st.block == "anchored":  # one width knob; no share, inner or coarse-width knobs
                assert values[f"s{i}.width@anchored"] == st.width
                assert not any(k.startswith(f"s{i}.") and ("inner" in k or "share" in k) for k in values)
    assert blocks == {"conv", "anchored"}
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert "coarse_width" not in space.to_dict()["stages"][0]
    lo, hi = space.min_spec(), space.max_spec()
    assert cost(lo).params <= cost(hi).params
    assert any(st.block == "anchored" for st in lo.stages)  # anchored stages are the cheapest


def test_width_multiplier_keeps_anchored_stages_valid():
    data = SearchSpace.from_file(MIX_SPACE).to_dict()
    data["width_multiplier"] = {"min": 0.3, "max": 2.2}
    specs = SearchSpace.from_dict(data).sample(100, seed=1)
    assert all(_valid_anchored(s) for s in specs) and any(st.block == "anchored" for s in specs for st in s.stages)


def _dacnn(**stage):
    base = {"depth": {"min": 1, "max": 3}, "width": {"min": 16, "max": 64, "step": 16}, "inner": 16}
    return {"family": "dacnn", "stem": {"width": 16}, "stages": [{**base, **stage}]}


def test_anchored_only_stage_needs_no_inner_and_forces_share_one():
    data = _dacnn(block="anchored", share=[1, 2, "all"])
    del data["stages"][0]["inner"]
    space = SearchSpace.from_dict(data)
    assert space.knob_names() == ["s0.depth", "s0.width@anchored"]
    for spec in space.sample(30, seed=0):
        assert spec.stages[0].block == "anchored" and _valid_anchored(spec)
    assert SearchSpace.from_dict(space.to_dict()) == space


@pytest.mark.parametrize("stage,pattern", [
    ({"block": ["conv", "anchored"], "coarse_width": 16},
     r"stages\[0\]\.coarse_width=16 is only allowed with a block form that uses it \(family 'dacnn' has none\)"),
    ({"block": ["conv", "vcycle"]}, r"stages\[0\]\.block\[1\]=\"vcycle\" is not a block form of family 'dacnn'; "
                                    r"allowed: conv, anchored"),
    ({"block": "anchored", "width": {"min": 4, "max": 4}, "depth": 1}, None),  # fine: any width
])
def test_anchored_space_errors_are_one_line(stage, pattern):
    data = _dacnn(**stage)
    if pattern is None:
        SearchSpace.from_dict(data, source="my.toml")
        return
    with pytest.raises(ConfigError, match="^my.toml: " + pattern) as info:
        SearchSpace.from_dict(data, source="my.toml")
    assert "\n" not in str(info.value)


class _LooseForm(BlockForm):
    """A test-only form that keeps inner widths and sharing and accepts only widths divisible by 32."""

    name = "loose"
    description = "test form"

    def validate_stage(self, path, stage, c_in):  # noqa: ANN001
        if stage.width % 32:
            raise SpecError(f"{path}.width={stage.width} is not a multiple of 32")

    def width_allowed(self, width, group_size, coarse_width):  # noqa: ANN001
        return width % 32 == 0

    def stage_slots(self, i, stage):  # noqa: ANN001
        return [WidthSlot(f"stages[{i}].width", "stage", (f"stages[{i}].width",), stage.width, 1)]

    def stage_complexity(self, i, stage, c_in, size):  # noqa: ANN001
        return []

    def build_stage(self, i, stage, c_in, gate):  # noqa: ANN001
        raise NotImplementedError


def test_a_form_with_inner_widths_and_sharing_gets_its_own_knobs(monkeypatch):
    monkeypatch.setitem(get_family("dacnn").block_forms, "loose", _LooseForm())
    data = _dacnn(block=["conv", "loose"], share=[1, 2], inner={"min": 16, "max": 64, "step": 16, "per_layer": False})
    space = SearchSpace.from_dict(data)
    names = space.knob_names()
    assert names == ["s0.block", "s0.share", "s0.depth", "s0.width", "s0.width@loose", "s0.inner", "s0.inner@loose"]
    seen = set()
    for spec, values in space.sample_with_values(100, seed=0):
        assert set(values) <= set(names)
        st = spec.stages[0]
        seen.add(st.block)
        if st.block == "loose":
            assert st.width % 32 == 0 and values["s0.inner@loose"] == st.blocks[0].inner
    assert seen == {"conv", "loose"}
