"""Every candidate at the budget (``fill_budget``): the fitting rule and the objective's fill step."""

from __future__ import annotations

import importlib
from pathlib import Path

import optuna
import pytest

from mgsearch.cost import cost
from mgsearch.errors import ConfigError
from mgsearch.fitting import FILL_TARGET, fill_slots, narrowest, next_width, previous_width, scale_to_budget
from mgsearch.search import run_search
from mgsearch.search.budget import Budget, budget_check, budget_use, fit_to_budget
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec, width_slots
from mgsearch.study import load_study_config
from tests.search.conftest import fake_result

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"


def _use(budget: Budget, spec: ArchSpec) -> float:
    return budget.use(cost(spec), spec)


@pytest.mark.parametrize("budget", [Budget(max_params=50_000), Budget(max_params=25_000), Budget(max_macs=8e6),
                                    Budget(max_params=50_000, max_macs=5e6)], ids=repr)
def test_quickstart_space_candidates_land_within_the_budget_band(budget):
    # the quickstart's space (MGIC: widths move by the group size) on Fashion-MNIST's shape
    space = SearchSpace.from_file(SPACES / "mgic.toml").with_overrides(in_channels=1, num_classes=10, input_size=28)
    fitted = 0
    for seed in range(30):
        spec = space.sample(1, seed)[0]
        out = fit_to_budget(spec, budget)
        if out is None:  # the only infeasible case: the structure's narrowest form is over the budget
            assert not budget.fits(cost(narrowest(spec)), narrowest(spec))
            continue
        fitted += 1
        assert FILL_TARGET <= _use(budget, out) <= 1.0, (seed, _use(budget, out))
        # structure kept: depth, group sizes, sharing and block forms are the sampled ones
        assert [(len(s.blocks), s.group_size, s.share, s.block, s.stride) for s in out.stages] == \
               [(len(s.blocks), s.group_size, s.share, s.block, s.stride) for s in spec.stages]
        for slot in width_slots(out):
            assert slot.accepts(slot.value)
    assert fitted >= 20


def test_uniform_scaling_alone_stops_short_and_the_fill_reaches_the_target():
    # the regression: the widest uniform scaling of an MGIC network can leave a quarter of the budget unused
    space = SearchSpace.from_file(SPACES / "mgic.toml").with_overrides(in_channels=1, num_classes=10, input_size=28)
    budget = Budget(max_params=50_000)
    fits, use = budget_check(budget), budget_use(budget)
    short = 0
    for seed in range(30):
        spec = space.sample(1, seed)[0]
        uniform = scale_to_budget(spec, fits, grow=True)
        if uniform is None:
            continue
        if use(uniform) < FILL_TARGET:
            short += 1
            filled = fill_slots(uniform, fits, use)
            assert FILL_TARGET <= use(filled) <= 1.0
    assert short >= 3


def test_vcycle_fill_keeps_the_allowed_widths():
    space = SearchSpace.from_file(SPACES / "mgic_vcycle.toml")
    budget = Budget(max_params=200_000)
    done = 0
    for seed in range(20):
        out = fit_to_budget(space.sample(1, seed)[0], budget)
        if out is None:
            continue
        done += 1
        assert budget.fits(cost(out), out)
        for slot in width_slots(out):
            assert slot.accepts(slot.value), (slot.name, slot.value)
        ArchSpec.from_json(out.to_json())  # a valid spec
    assert done >= 5


def test_next_and_previous_width_follow_the_slot_rule():
    space = SearchSpace.from_file(SPACES / "mgic.toml")
    spec = space.sample(1, 3)[0]
    for slot in width_slots(spec):
        up = next_width(slot)
        assert up is not None and up > slot.value and slot.accepts(up) and up % slot.multiple_of == 0
        down = previous_width(slot)
        if down is not None:
            assert down < slot.value and slot.accepts(down) and down >= 4


def _trials(config):
    return optuna.load_study(study_name=config.name, storage=config.storage).get_trials()


@pytest.fixture
def fake_train(monkeypatch):
    trained: list[ArchSpec] = []

    def train(spec, dataset, *, fidelity, on_epoch, **kwargs):
        trained.append(spec)
        return fake_result(0.5, fidelity.epochs)

    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", train)
    return trained


def test_search_trains_every_candidate_at_the_budget(write_study, fake_train):
    config = load_study_config(write_study(study='n_trials = 8\nsampler = "random"\npruner = "none"',
                                           budget="max_params = 3000"))
    assert config.fill_budget  # the default for a single objective
    run_search(config, progress=False)
    trials = _trials(config)
    assert not [t for t in trials if t.user_attrs["status"] == "infeasible"]
    for t in trials:
        a = t.user_attrs
        spec, sampled = ArchSpec.from_json(a["spec"]), ArchSpec.from_json(a["sampled_spec"])
        assert [len(s.blocks) for s in spec.stages] == [len(s.blocks) for s in sampled.stages]
        assert a["spec_hash"] == spec.hash  # duplicates are judged on the fitted spec
        assert 0.97 <= a["budget_use"] <= 1.0 and a["budget_use"] == pytest.approx(a["params"] / 3000)
    assert {s.hash for s in fake_train} == {t.user_attrs["spec_hash"] for t in trials
                                            if t.user_attrs["status"] == "trained"}
    assert all(cost(s).params >= 0.97 * 3000 for s in fake_train)


def test_fill_budget_false_trains_the_sampled_candidates(write_study, fake_train):
    config = load_study_config(write_study(
        study='n_trials = 6\nsampler = "random"\npruner = "none"\nfill_budget = false', budget="max_params = 3000"))
    run_search(config, progress=False)
    trials = _trials(config)
    assert all("sampled_spec" not in t.user_attrs for t in trials)
    assert min(cost(s).params for s in fake_train) < 0.9 * 3000  # the micro space's small networks stay small


def test_multi_objective_keeps_unscaled_candidates(write_study, fake_train):
    config = load_study_config(write_study(study='n_trials = 3\nobjectives = ["val_acc", "params"]',
                                           budget="max_params = 3000"))
    assert not config.fill_budget
    run_search(config, progress=False)
    assert all("sampled_spec" not in t.user_attrs for t in _trials(config))
    with pytest.raises(ConfigError, match=r"study\.fill_budget=True is not allowed: false with several objectives"):
        load_study_config(write_study(study='objectives = ["val_acc", "params"]\nfill_budget = true'))


def test_a_study_created_before_fill_budget_resumes_unscaled(write_study, fake_train):
    path = write_study(study='n_trials = 2\nsampler = "random"\npruner = "none"', budget="max_params = 3000")
    config = load_study_config(path)
    run_search(config, progress=False)
    study = optuna.load_study(study_name=config.name, storage=config.storage)
    stored = study.user_attrs["config"]
    del stored["study"]["fill_budget"]  # as written by the versions before the key
    study.set_user_attr("config", stored)
    run_search(load_study_config(path, {"n_trials": 4}), progress=False)
    assert ["sampled_spec" in t.user_attrs for t in _trials(config)] == [True, True, False, False]
    with pytest.raises(ConfigError, match=r"study\.fill_budget=False, this run has True"):
        run_search(load_study_config(write_study(
            study='n_trials = 5\nsampler = "random"\npruner = "none"\nfill_budget = true', budget="max_params = 3000")),
            progress=False)
