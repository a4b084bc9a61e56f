"""Presets: golden params / MACs (analytic and built), papers' sizes, get_preset and resolve_spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import mgsearch
from mgsearch.cost import cost, count_params, fvcore_macs
from mgsearch.errors import MgsearchError, SpecError
from mgsearch.families import family_names
from mgsearch.presets import PRESETS, Preset, get_preset, preset_names, resolve_spec

torch.set_num_threads(1)


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_golden_values(name: str) -> None:
    p = PRESETS[name]
    assert isinstance(p, Preset) and p.name == name and p.description and p.source
    c = cost(p.spec)
    assert (c.params, c.macs) == (p.params, p.macs)
    model = mgsearch.build(p.spec)
    assert count_params(model) == p.params
    assert fvcore_macs(model, p.spec) == p.macs
    model.eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize(
    "name,params_m,macs_m,tol",
    [("resnet20", 0.27, 41, 0.02), ("resnet32", 0.46, 69, 0.02), ("resnet56", 0.85, 125, 0.02),
     ("mgnet-2222-256", 8.2, None, 0.02), ("poly-mgnet", 1.386706, None, 0.001)],
)
def test_presets_match_reported_sizes(name: str, params_m: float, macs_m: float | None, tol: float) -> None:
    p = PRESETS[name]
    assert abs(p.params / 1e6 - params_m) / params_m < tol
    if macs_m is not None:
        assert abs(p.macs / 1e6 - macs_m) / macs_m < tol


def test_preset_families_cover_all() -> None:
    assert {p.spec.family for p in PRESETS.values()} == set(family_names()) == {"resnet", "mgic", "dacnn", "mgnet", "mgiad", "mobilenet"}
    assert preset_names() == list(PRESETS)
    assert get_preset("resnet20") is PRESETS["resnet20"].spec


def test_unknown_preset_suggests() -> None:
    with pytest.raises(SpecError, match=r"preset 'resnet-20' is unknown \(did you mean 'resnet20'\?\); known presets: resnet20"):
        get_preset("resnet-20")
    with pytest.raises(SpecError, match=r"did you mean 'mgiad-small'"):
        get_preset("MGIAD-small")
    with pytest.raises(SpecError, match="known presets"):
        resolve_spec("nonsense")


def test_resolve_spec_sources(tmp_path: Path) -> None:
    spec = get_preset("mgiad-small")
    f = tmp_path / "arch.json"
    f.write_text(spec.to_json(indent=2))
    assert resolve_spec(str(f)) == spec
    assert resolve_spec(spec.to_json()) == spec
    assert resolve_spec("mgiad-small") == spec
    assert resolve_spec(spec) is spec
    assert resolve_spec(str(tmp_path)) == spec  # a folder holding arch.json (an export)


def test_resolve_spec_overrides_for_fashion_mnist() -> None:
    spec = resolve_spec("resnet20", in_channels=1, num_classes=10, input_size=28)
    assert (spec.in_channels, spec.num_classes, spec.input_size) == (1, 10, 28)
    model = mgsearch.build(spec).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert cost(spec).params == count_params(model)
    assert cost(spec).macs == fvcore_macs(model, spec)


def test_resolve_spec_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(SpecError, match=f"^{missing}: spec file not found"):
        resolve_spec(str(missing))
    bad = tmp_path / "bad.json"
    bad.write_text('{"family": "resnet", ')
    with pytest.raises(SpecError, match=f"^{bad}: spec JSON is malformed at line 1"):
        resolve_spec(str(bad))
    field = tmp_path / "field.json"
    d = get_preset("mgic20").to_dict()
    d["stages"][1]["blocks"][0]["inner"] = 20
    field.write_text(json.dumps(d))
    with pytest.raises(SpecError, match=rf"^{field}: stages\[1\]\.blocks\[0\]\.inner=20 is not a multiple"):
        resolve_spec(str(field))
    with pytest.raises(SpecError, match="^inline spec JSON: "):
        resolve_spec('{"family": "resnet"}')
    with pytest.raises(SpecError):
        resolve_spec("resnet20", input_size=0)
    with pytest.raises(MgsearchError, match="empty"):
        resolve_spec("  ")


def test_dacnn_mix34_is_the_authors_network() -> None:
    """DACNN_release resnet_mix_reg.py (resnet_mix, CIFAR-100): 4,925,668 used params (regulators unused)."""
    from dataclasses import replace

    p = PRESETS["dacnn-mix34"]
    assert all(st.block == "anchored" for st in p.spec.stages)
    assert cost(replace(p.spec, num_classes=100)).params == 4_925_668
    assert PRESETS["dacnn-mix20"].spec.stages[0].block == "anchored"
