"""Uniform baselines: sizes around the budget, stored in <name>.baselines, not retrained on a re-run."""

from __future__ import annotations

import importlib

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


@pytest.mark.parametrize("family", ["resnet", "mgic", "dacnn", "mgnet", "mgiad"])
def test_baselines_are_uniform_and_sized_to_the_budget(family):
    space = SearchSpace.from_file(f"search_spaces/{family}.toml")
    specs = baseline_specs(space, Budget(max_params=100_000), [0.5, 1.0, 1.5])
    assert specs
    ref = reference_spec(space)
    for name, spec in specs:
        size = float(name.removeprefix("uniform-").removesuffix("x"))
        assert cost(spec).params <= size * 100_000
        assert [s.depth for s in spec.stages] == [s.depth for s in ref.stages]
        for stage in spec.stages:  # uniform: one width per stage
            assert {b.inner for b in stage.blocks} == {stage.width}
    params = [cost(s).params for _, s in specs]
    assert params == sorted(params)


def test_uniform_profile_doubles_with_each_stride():
    space = SearchSpace.from_file("search_spaces/resnet.toml")
    spec = uniform_spec(reference_spec(space), 16)
    assert spec.widths() == [16] + [16] * 4 + [32] * 4 + [64] * 4  # resnet20's 16/32/64


def test_baselines_need_a_params_or_macs_budget():
    space = SearchSpace.from_file("search_spaces/resnet.toml")
    with pytest.raises(BudgetError, match="baselines need a budget"):
        baseline_specs(space, Budget(), [1.0])


def test_run_baselines_stores_and_skips_done_ones(write_study, monkeypatch):
    from mgsearch.search import run_baselines

    calls = CountingTrain(lambda spec, ds, *, fidelity, on_epoch, **kw: fake_result(0.4, fidelity.epochs))
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", calls)
    config = load_study_config(write_study(budget="max_params = 4000"))
    rows = run_baselines(config, sizes=[0.5, 1.0], progress=False)
    assert [r["baseline_name"] for r in rows] == ["uniform-0.5x", "uniform-1x"] and calls.calls == 2
    study = optuna.load_study(study_name="s.baselines", storage=config.storage)
    for t in study.trials:
        a = t.user_attrs
        assert a["status"] == "trained" and t.value == 0.4
        assert ArchSpec.from_json(a["spec"]).hash == a["spec_hash"]
        assert a["constraints"] == [a["params"] - 4000]
    assert study.user_attrs["budget"]["max_params"] == 4000
    again = run_baselines(config, sizes=[0.5, 1.0], progress=False)
    assert calls.calls == 2 and [r["trial"] for r in again] == [r["trial"] for r in rows]
