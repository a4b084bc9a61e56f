"""Baselines: the dense CIFAR ResNet and the uniform network at the budget, labelled, stored in
<name>.baselines, not retrained on a re-run."""

from __future__ import annotations

import importlib
import tomllib

import optuna
import pytest

from mgsearch.cost import cost
from mgsearch.errors import BudgetError
from mgsearch.search.baselines import baseline_specs
from mgsearch.strategies.uniform import reference_spec, uniform_spec
from mgsearch.search.budget import Budget
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec
from mgsearch.study import load_study_config
from tests.search.conftest import CountingTrain, fake_result

#: a two-stage MGIC space (group sizes 8 / 16): its uniform network differs from the dense ResNet
MGIC_MICRO = """
family = "mgic"
in_channels = 3
num_classes = 3
input_size = 16

[stem]
width = { min = 8, max = 16, step = 8 }

[[stages]]
stride = 1
depth = { min = 1, max = 2 }
width = { min = 8, max = 32, step = 8 }
inner = { min = 8, max = 32, step = 8 }
group_size = [8]

[[stages]]
stride = 2
depth = 1
width = { min = 16, max = 64, step = 16 }
inner = { min = 16, max = 64, step = 16 }
group_size = [16]
"""


@pytest.mark.parametrize("family", ["resnet", "mgic", "dacnn", "mgnet", "mgiad"])
def test_baselines_are_labelled_and_fill_their_share_of_the_budget(family):
    space = SearchSpace.from_file(f"search_spaces/{family}.toml")
    budget = Budget(max_params=100_000)
    specs = baseline_specs(space, budget, [0.5, 1.0])
    names = [name for name, _ in specs]
    assert "dense-resnet@budget" in names and "dense-resnet@0.5x" in names
    assert ("uniform@budget" in names) == (family != "resnet")  # in a ResNet space they are one network
    ref = reference_spec(space)
    for name, spec in specs:
        kind, _, size = name.partition("@")
        share = 1.0 if size == "budget" else float(size.removesuffix("x"))
        assert 0.97 * share * 100_000 <= cost(spec).params <= share * 100_000, name
        if kind == "uniform":
            assert spec.family == ref.family and [len(s.blocks) for s in spec.stages] == [len(s.blocks) for s in ref.stages]


def test_dense_resnet_is_the_he_et_al_cifar_shape_with_the_space_depth():
    space = SearchSpace.from_file("search_spaces/mgic.toml")
    ref = reference_spec(space)
    dense = dict(baseline_specs(space, Budget(max_params=270_000)))["dense-resnet@budget"]
    assert dense.family == "resnet" and [len(s.blocks) for s in dense.stages] == [len(s.blocks) for s in ref.stages]
    assert all(s.group_size is None and s.share == 1 for s in dense.stages)
    assert [s.stride for s in dense.stages] == [s.stride for s in ref.stages]
    # before the last filled steps: stem w, stages w / 2w / 4w (ResNet-20 at w = 16 is 270k params)
    w = dense.stem.width
    assert [dense.stages[0].width, dense.stages[1].width] == [w, 2 * w] and dense.stages[2].width in (4 * w, 4 * w + 4)
    assert cost(dense).params >= 0.97 * 270_000


def test_uniform_baseline_uses_the_budget_where_mgic_steps_are_coarse():
    # the regression of issue 13: at 25k params the MGIC uniform network used 13,330 params
    space = SearchSpace.from_file("search_spaces/mgic.toml").with_overrides(in_channels=1, input_size=28)
    for limit in (25_000, 50_000):
        budget = Budget(max_params=limit)
        specs = dict(baseline_specs(space, budget))
        assert set(specs) == {"dense-resnet@budget", "uniform@budget"}
        for spec in specs.values():
            assert 0.97 * limit <= cost(spec).params <= limit


def test_uniform_profile_doubles_with_each_stride():
    space = SearchSpace.from_file("search_spaces/resnet.toml")
    spec = uniform_spec(reference_spec(space), 16)
    assert spec.widths() == [16] + [16] * 4 + [32] * 4 + [64] * 4  # resnet20's 16/32/64


def test_baselines_need_a_params_or_macs_budget():
    space = SearchSpace.from_file("search_spaces/resnet.toml")
    with pytest.raises(BudgetError, match="baselines need a budget"):
        baseline_specs(space, Budget(), [1.0])


def test_old_sizes_keep_working_and_old_labels_still_read(write_study, monkeypatch):
    """A study file with the old ``[baselines] sizes`` trains every kind at each size; a database whose
    baselines carry the old labels (uniform-1x) is read and reported as before (tests/test_legacy_study.py)."""
    config = load_study_config(write_study(space=MGIC_MICRO, budget="max_params = 20000",
                                           extra="[baselines]\nsizes = [0.5, 1.0]"))
    assert config.baseline_sizes == (0.5, 1.0)
    names = [n for n, _ in baseline_specs(SearchSpace.from_dict(tomllib.loads(MGIC_MICRO)), Budget(max_params=20000),
                                          config.baseline_sizes)]
    assert names == ["dense-resnet@0.5x", "uniform@0.5x", "dense-resnet@budget", "uniform@budget"]
    assert load_study_config(write_study()).baseline_sizes == (1.0,)  # the default: at the budget


def test_run_baselines_stores_and_skips_done_ones(write_study, monkeypatch):
    from mgsearch.search import run_baselines

    calls = CountingTrain(lambda spec, ds, *, fidelity, on_epoch, **kw: fake_result(0.4, fidelity.epochs))
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", calls)
    config = load_study_config(write_study(budget="max_params = 4000"))
    rows = run_baselines(config, sizes=[0.5, 1.0], progress=False)
    assert [r["baseline_name"] for r in rows] == ["dense-resnet@0.5x", "dense-resnet@budget"] and calls.calls == 2
    study = optuna.load_study(study_name="s.baselines", storage=config.storage)
    for t, share in zip(study.trials, (0.5, 1.0)):
        a = t.user_attrs
        assert a["status"] == "trained" and t.value == 0.4
        assert a["strategy"] == "baseline"  # an honest label, not "direct"
        assert 0.97 * share <= a["budget_use"] <= share and a["budget_use"] == a["params"] / 4000
        assert ArchSpec.from_json(a["spec"]).hash == a["spec_hash"]
        assert a["constraints"] == [a["params"] - 4000]
    assert study.user_attrs["budget"]["max_params"] == 4000
    again = run_baselines(config, sizes=[0.5, 1.0], progress=False)
    assert calls.calls == 2 and [r["trial"] for r in again] == [r["trial"] for r in rows]


def test_an_inverted_residual_space_adds_the_width_multiplier_mobilenet():
    space = SearchSpace.from_file("search_spaces/mobilenet.toml")
    budget = Budget(max_params=250_000)
    specs = dict(baseline_specs(space, budget))
    assert list(specs) == ["dense-resnet@budget", "mobilenet-wm@budget", "uniform@budget"]
    mobile, ref = specs["mobilenet-wm@budget"], reference_spec(space)
    assert mobile.family == "mobilenet" and [len(s.blocks) for s in mobile.stages] == [len(s.blocks) for s in ref.stages]
    assert all(s.block == "conv" and s.group_size is None and s.share == 1 for s in mobile.stages)
    # MobileNetV2: a block's expanded width is 6 x its input width after stage 0
    second = mobile.stages[1]
    assert second.blocks[-1].inner == pytest.approx(6 * second.width, rel=0.05)  # up to the filled last steps
    for spec in specs.values():
        assert 0.97 * 250_000 <= cost(spec).params <= 250_000
