"""The objective on real SQLite storage: constraints, duplicates, pruning, divergence, stored contract."""

from __future__ import annotations

import importlib
import json
import time

import optuna
import pytest
from optuna.trial import TrialState

from mgsearch.cost import cost
from mgsearch.errors import TrainingDiverged
from mgsearch.families import build
from mgsearch.search import run_search
from mgsearch.search.objective import Objective, SurplusTrial
from mgsearch.search.runner import open_study, prepare
from mgsearch.spec import ArchSpec
from mgsearch.study import load_study_config
from tests.search.conftest import SINGLE_SPACE, CountingTrain, fake_result

TRIAL_KEYS = {"status", "spec", "spec_hash", "params", "macs", "activations", "constraints", "strategy"}
TRAINED_KEYS = TRIAL_KEYS | {"val_acc", "val_history", "fidelity", "wall_seconds", "train_seconds",
                             "images_per_second", "seed", "device", "versions"}


def _load(config):
    return optuna.load_study(study_name=config.name, storage=config.storage)


def test_infeasible_candidates_are_never_trained(write_study, counting_train):
    # a budget that cuts through the space: many candidates are over it
    config = load_study_config(write_study(study='n_trials = 12\nsampler = "random"\npruner = "none"\n'
                                                 'fill_budget = false', budget="max_params = 1200"))
    run_search(config, progress=False)
    trials = _load(config).get_trials()
    infeasible = [t for t in trials if t.user_attrs["status"] == "infeasible"]
    trained = [t for t in trials if t.user_attrs["status"] == "trained"]
    assert infeasible and trained, [t.user_attrs["status"] for t in trials]
    assert counting_train.calls == len(trained)
    assert all(cost(s).params <= 1200 for s in counting_train.specs)
    for t in infeasible:
        assert t.state == TrialState.COMPLETE and t.value == 0.0
        assert t.user_attrs["params"] > 1200
        assert t.user_attrs["constraints"] == [t.user_attrs["params"] - 1200]
        assert t.constraints == {"params": float(t.user_attrs["params"] - 1200)}  # the sampler sees it
        assert t.user_attrs["wall_seconds"] < 5.0  # no training (calls are counted above); a loose bound for a loaded CPU
        assert "val_acc" not in t.user_attrs
    for t in trained:
        assert t.constraints["params"] <= 0


def test_duplicate_specs_are_trained_once(write_study, counting_train):
    config = load_study_config(write_study(study="n_trials = 3", space=SINGLE_SPACE))
    result = run_search(config, progress=False)
    assert counting_train.calls == 1
    trials = _load(config).get_trials()
    assert [t.user_attrs["status"] for t in trials] == ["trained", "duplicate", "duplicate"]
    assert {t.user_attrs["duplicate_of"] for t in trials[1:]} == {0}
    assert {t.value for t in trials} == {trials[0].value}
    assert result.counts == {"duplicate": 2, "trained": 1}
    assert [r["trial"] for r in result.pareto] == [0]


def test_pruned_trials_stop_early(write_study, monkeypatch):
    started: list[int] = []  # one entry per training call

    def fake_train(spec, dataset, *, fidelity, on_epoch, **kwargs):
        good = len(started) < 3  # the first three trained trials set a high median
        started.append(1)
        for epoch in range(1, fidelity.epochs + 1):
            on_epoch(epoch, 0.9 if good else 0.1)  # raises optuna.TrialPruned when the pruner says so
        return fake_result(0.9 if good else 0.1, fidelity.epochs)

    calls = CountingTrain(fake_train)
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", calls)
    config = load_study_config(write_study(study='n_trials = 6\npruner = "median"\nsampler = "random"',
                                           budget="max_params = 100000", fidelity="epochs = 4\nbatch_size = 32"))
    run_search(config, progress=False)
    trials = _load(config).get_trials()
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, [t.user_attrs["status"] for t in trials]
    for t in pruned:
        assert t.user_attrs["status"] in ("pruned", "duplicate")
        if t.user_attrs["status"] == "pruned":
            assert t.user_attrs["val_history"] == [0.1]  # stopped after its first epoch of 4
            assert sorted(t.intermediate_values) == [1]
    for t in trials:
        if t.user_attrs["status"] == "trained":
            assert len(t.user_attrs["val_history"]) == 4


def test_a_trial_is_never_pruned_after_its_last_epoch(write_study, monkeypatch):
    started: list[int] = []

    def fake_train(spec, dataset, *, fidelity, on_epoch, **kwargs):
        late_drop = len(started) >= 5  # five good trials set the median; later ones fall at the last epoch
        started.append(1)
        curve = [0.95, 0.1] if late_drop else [0.9, 0.9]
        for epoch, acc in enumerate(curve, start=1):
            on_epoch(epoch, acc)
        return fake_result(curve[-1], fidelity.epochs)

    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", CountingTrain(fake_train))
    config = load_study_config(write_study(study='n_trials = 8\npruner = "median"\nsampler = "random"',
                                           budget="max_params = 100000", fidelity="epochs = 2\nbatch_size = 32"))
    run_search(config, progress=False)
    trials = _load(config).get_trials()
    assert not [t for t in trials if t.state == TrialState.PRUNED], [t.user_attrs["status"] for t in trials]
    assert any(t.user_attrs.get("val_acc") == 0.1 for t in trials)  # the late drops completed as trained


def test_diverged_training_is_recorded_and_the_search_goes_on(write_study, monkeypatch):
    def diverging(spec, dataset, *, fidelity, on_epoch, **kwargs):
        raise TrainingDiverged("loss became nan at epoch 1", epoch=1)

    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", diverging)
    config = load_study_config(write_study(study='n_trials = 3\nsampler = "random"', budget="max_params = 100000"))
    result = run_search(config, progress=False)
    trials = _load(config).get_trials()
    assert len(trials) == 3 and all(t.state == TrialState.COMPLETE for t in trials)
    assert {t.user_attrs["status"] for t in trials} <= {"diverged", "duplicate"}
    assert all(t.value == 0.0 for t in trials)
    assert trials[0].user_attrs["diverged_epoch"] == 1
    assert result.pareto == []


def test_stored_attrs_rebuild_the_exact_architecture(write_study):
    config = load_study_config(write_study(study='n_trials = 3\nsampler = "random"\npruner = "none"',
                                           budget="max_params = 100000\nmax_macs = \"10M\""))
    run_search(config, progress=False)
    study = optuna.load_study(study_name="s", storage=config.storage)  # plain Optuna, no mgsearch objects
    for key in ("mgsearch_version", "config", "dataset", "budget", "objectives", "fidelity", "space"):
        assert key in study.user_attrs
    assert study.user_attrs["budget"] == {"max_params": 100000, "max_macs": 10_000_000, "max_latency_ms": None}
    assert study.user_attrs["objectives"] == ["val_acc"]
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    trained = [t for t in study.trials if t.user_attrs["status"] == "trained"]
    assert trained
    for t in trained:
        a = t.user_attrs
        assert TRAINED_KEYS <= set(a)
        spec = ArchSpec.from_json(a["spec"])
        assert spec.hash == a["spec_hash"]
        c = cost(spec)
        assert (c.params, c.macs, c.activations) == (a["params"], a["macs"], a["activations"])
        assert sum(p.numel() for p in build(spec).parameters()) == a["params"]
        assert a["fidelity"] == {"epochs": 1, "train_fraction": 1.0, "batch_size": 32}
        assert a["val_acc"] == t.value and a["val_history"] == [t.value]
        assert set(a["versions"]) == {"mgsearch", "torch", "optuna", "python"}
        assert a["constraints"] == [a["params"] - 100000, a["macs"] - 10_000_000]
        assert (spec.in_channels, spec.num_classes, spec.input_size) == (3, 3, 16)
    json.dumps(study.user_attrs["config"])


def test_multi_objective_stores_values_in_objective_order(write_study, monkeypatch):
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train",
                        lambda spec, ds, *, fidelity, on_epoch, **kw: fake_result(0.5, fidelity.epochs))
    config = load_study_config(write_study(
        study='n_trials = 4\nsampler = "nsga2"\nobjectives = ["val_acc", "params", "macs"]',
        budget="max_params = 100000"))
    assert config.pruner == "none"
    run_search(config, progress=False)
    study = _load(config)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE", "MINIMIZE"]
    for t in study.trials:
        assert t.values == [0.5, t.user_attrs["params"], t.user_attrs["macs"]]


def test_repair_scales_candidates_onto_the_budget(write_study, counting_train):
    config = load_study_config(write_study(study='n_trials = 5\nsampler = "random"\nrepair = true\npruner = "none"\n'
                                                 'fill_budget = false',
                                           budget="max_params = 1500"))
    run_search(config, progress=False)
    trials = _load(config).get_trials()
    assert all(t.user_attrs["status"] in ("trained", "duplicate") for t in trials)
    assert all(t.user_attrs["params"] <= 1500 for t in trials)
    repaired = [t for t in trials if "repaired_from" in t.user_attrs]
    assert repaired
    for t in repaired:
        assert cost(ArchSpec.from_json(t.user_attrs["repaired_from"])).params > 1500


def test_infeasible_rejection_is_fast(write_study, monkeypatch):
    config = load_study_config(write_study(study="n_trials = 1", budget="max_params = 1000"))
    dataset, space, device = prepare(config)
    study = open_study(optuna.storages.InMemoryStorage(), config, dataset, create=True, seed=0)
    objective = Objective(config=config, space=space, dataset=dataset, device=device)
    big = space.max_spec()
    timings = []
    for _ in range(20):
        trial = study.ask()
        t0 = time.perf_counter()
        objective._evaluate(trial, big, {"strategy": "direct"}, t0)
        timings.append(time.perf_counter() - t0)
    assert sorted(timings)[10] < 0.005  # median under 5 ms (in-memory storage: the engine's own cost)


def test_a_trial_beyond_n_trials_fails_without_running(write_study):
    config = load_study_config(write_study(study="n_trials = 1"))
    dataset, space, device = prepare(config)
    storage = optuna.storages.RDBStorage(config.storage)
    study = open_study(storage, config, dataset, create=True, seed=0)
    study.ask()  # another worker's running trial already fills n_trials = 1
    calls = CountingTrain(lambda *a, **k: pytest.fail("a surplus trial must not train"))
    objective = Objective(config=config, space=space, dataset=dataset, device=device, train_fn=calls)
    with pytest.raises(SurplusTrial):
        objective(study.ask())
    assert study.trials[1].user_attrs["status"] == "failed"


def test_two_trials_that_decide_to_train_one_spec_at_once_train_it_once(write_study, monkeypatch):
    # The race: trial B looks for an earlier trial of its spec and finds none; before B announces
    # that it trains, trial A (lower number) publishes the same spec. B must notice after announcing,
    # yield to A and take A's result.
    config = load_study_config(write_study(study="n_trials = 4", budget="max_params = 100000"))
    dataset, space, device = prepare(config)
    study = open_study(optuna.storages.InMemoryStorage(), config, dataset, create=True, seed=0)
    spec = space.min_spec()
    trained: list[int] = []
    objective = Objective(config=config, space=space, dataset=dataset, device=device,
                          train_fn=lambda *a, **k: trained.append(1) or fake_result(0.5, config.epochs))
    a, b = study.ask(), study.ask()
    a.set_user_attr("spec_hash", spec.hash)  # A is still deciding: running, no status
    calls = {"n": 0}
    real_find = Objective._find_earlier

    def racing_find(self, trial, spec_hash):
        calls["n"] += 1
        if calls["n"] == 1:
            return None  # B looked before A published (simulated)
        assert trial.user_attrs.get("training") is False  # B withdrew its announcement
        a.set_user_attr("status", "trained")  # A trains and finishes
        a.set_user_attr("val_acc", 0.75)
        study.tell(a, 0.75)
        return real_find(self, trial, spec_hash)

    monkeypatch.setattr(Objective, "_find_earlier", racing_find)
    assert objective._evaluate(b, spec, {"strategy": "direct"}, time.perf_counter()) == 0.75
    frozen_b = study.trials[b.number]
    assert trained == [] and frozen_b.user_attrs["status"] == "duplicate"
    assert frozen_b.user_attrs["duplicate_of"] == a.number
