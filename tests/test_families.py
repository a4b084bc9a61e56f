"""Every registered family: forward shape, analytic cost == built model (params) == fvcore (MACs,
activations), channel gates, JSON identity and hashing, on presets-independent random valid specs;
every preset of every family builds with its golden cost (timm-style metadata check)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings

import mgsearch
from mgsearch.cost import cost, count_params, fvcore_counts
from mgsearch.families import Family, build, complexity, families, family_names, get_family
from mgsearch.families.base import MgsearchNet
from mgsearch.presets import PRESETS
from mgsearch.spec import ArchSpec, width_slots
from tests.strategies import seeded_specs, specs

torch.set_num_threads(1)

FAST = settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


def check_model_matches_cost(spec: ArchSpec) -> None:
    """The whole contract of build + cost for one spec."""
    model = build(spec)
    assert isinstance(model, MgsearchNet) and model.spec == spec
    c = cost(spec)
    # forward shape (batch of 2: BatchNorm in training mode needs > 1 value per channel)
    model.train()
    out = model(torch.randn(2, spec.in_channels, spec.input_size, spec.input_size))
    assert out.shape == (2, spec.num_classes)
    assert torch.isfinite(out).all()
    # params: analytic == distinct parameter elements
    assert c.params == count_params(model)
    # every weight-owning row is exactly the module of that name; a shared row's application site
    # holds the very module object of its owner
    for row in c.layers:
        if row.shared_with is None:
            module = model.get_submodule(row.name)
            assert sum(p.numel() for p in module.parameters()) == row.params, row
        else:
            site = model.get_submodule(row.name.split("#")[0])
            assert site is model.get_submodule(row.shared_with), row
    # MACs and activations: analytic == fvcore's conv + linear operators
    fv = fvcore_counts(model, spec)
    assert c.macs == fv["macs"]
    assert c.activations == fv["activations"]
    # channel gates: every slot, BN widths equal the slot value
    gates = model.channel_gates()
    slots = width_slots(spec)
    assert set(gates) == {slot.name for slot in slots}
    for slot in slots:
        assert gates[slot.name], slot.name
        assert all(isinstance(bn, torch.nn.BatchNorm2d) and bn.num_features == slot.value for bn in gates[slot.name])


@pytest.mark.parametrize("family", family_names())
def test_random_specs_match_cost(family: str) -> None:
    @FAST
    @given(specs(family))
    def prop(spec: ArchSpec) -> None:
        check_model_matches_cost(spec)

    prop()


@pytest.mark.slow
@pytest.mark.parametrize("family", family_names())
def test_random_specs_match_cost_200(family: str) -> None:
    @SLOW
    @given(specs(family, max_width=96))
    def prop(spec: ArchSpec) -> None:
        check_model_matches_cost(spec)

    prop()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(specs())
def test_json_round_trip_and_hash(spec: ArchSpec) -> None:
    again = ArchSpec.from_json(spec.to_json())
    assert again == spec and again.to_json() == spec.to_json()
    assert again.hash == spec.hash and hash(again) == hash(spec)
    pretty = ArchSpec.from_json(spec.to_json(indent=2))
    assert pretty.hash == spec.hash


def test_registry_and_public_build() -> None:
    assert family_names() == ("resnet", "mgic", "dacnn", "mgnet", "mgiad", "mobilenet")
    for family in families():
        assert isinstance(family, Family) and get_family(family.name) is family
        assert family.description and family.topology in ("resnet-like", "levels")
    spec = next(seeded_specs(1, seed=3, family="mgiad"))
    assert isinstance(mgsearch.build(spec), MgsearchNet)
    assert complexity(spec) == list(cost(spec).layers)


@pytest.mark.parametrize("family", family_names())
def test_every_family_builds_its_presets(family: str) -> None:
    """Metadata check: each registered family has presets, and each builds with its golden cost."""
    presets = [p for p in PRESETS.values() if p.spec.family == family]
    assert presets, f"family {family!r} has no preset"
    for preset in presets:
        model = get_family(family).build(preset.spec)
        assert isinstance(model, MgsearchNet) and model.spec == preset.spec
        assert count_params(model) == cost(preset.spec).params == preset.params, preset.name


def test_sharing_shares_module_objects() -> None:
    spec = next(s for s in seeded_specs(200, seed=1, family="dacnn") if any(st.share > 1 for st in s.stages))
    model = build(spec)
    for i, stage in enumerate(spec.stages):
        blocks = model.stages[i].blocks
        for run in mgsearch.spec.sharing_runs(stage):
            for j in run[1:]:
                assert blocks[j].conv2 is blocks[run.start].conv2
                assert blocks[j].bn2 is not blocks[run.start].bn2  # BN per application


def test_mgnet_first_level_single_step_builds_no_A() -> None:
    spec = ArchSpec.from_dict({"family": "mgnet", "stem": {"width": 8},
                               "stages": [{"width": 8, "blocks": [{"inner": 8}]}]})
    model = build(spec)
    assert model.stages[0].A is None
    check_model_matches_cost(spec)


def test_resnet_narrowing_uses_projection() -> None:
    spec = ArchSpec.from_dict({"family": "resnet", "stem": {"width": 32},
                               "stages": [{"width": 16, "blocks": [{"inner": 8}, {"inner": 4}], "stride": 2}]})
    model = build(spec)
    assert type(model.stages[0].blocks[0].shortcut).__name__ == "ProjectionShortcut"
    assert any(row.name == "stages.0.blocks.0.shortcut.conv" for row in cost(spec).layers)
    check_model_matches_cost(spec)


def test_mgiad_uses_mgic_convs_only_in_grouped_stages() -> None:
    from mgsearch.layers.mgic import MGICConv2d

    spec = ArchSpec.from_dict({
        "family": "mgiad", "stem": {"width": 16},
        "stages": [{"width": 16, "blocks": [{"inner": 16}] * 2, "share": 2},
                   {"width": 32, "blocks": [{"inner": 32}] * 2, "stride": 2, "group_size": 8}],
    })
    model = build(spec)
    assert not isinstance(model.stages[0].A, MGICConv2d)
    for m in (model.stages[1].A, model.stages[1].B[0], model.stages[1].Pi, model.stages[1].R):
        assert isinstance(m, MGICConv2d)
    check_model_matches_cost(spec)
