"""Running studies on real SQLite storage: resume, exact n_trials, config checks, workers, budget errors."""

from __future__ import annotations

import importlib

import optuna
import pytest
from optuna.trial import TrialState

from mgsearch.errors import BudgetError, ConfigError, StorageError
from mgsearch.search import open_storage, run_search
from mgsearch.study import load_study_config
from tests.search.conftest import CountingTrain, fake_result


class Interrupt(KeyboardInterrupt):
    pass


def test_resume_after_interruption_keeps_trials_and_reaches_n_trials(write_study, monkeypatch):
    module = importlib.import_module("mgsearch.train")
    real = module.train
    calls = {"n": 0}

    def interrupted_on_third(spec, dataset, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Interrupt()
        return real(spec, dataset, **kwargs)

    monkeypatch.setattr(module, "train", interrupted_on_third)
    path = write_study(study='n_trials = 5\nsampler = "random"\npruner = "none"', budget="max_params = 100000")
    config = load_study_config(path)
    with pytest.raises(KeyboardInterrupt):
        run_search(config, progress=False)
    before = optuna.load_study(study_name="s", storage=config.storage).get_trials()
    finished = {t.number: (t.value, t.user_attrs["spec_hash"]) for t in before if t.state == TrialState.COMPLETE}
    # the interrupted trial failed cleanly and was queued again (WAITING) as a retry of itself
    assert len(finished) >= 2 and before[-2].state == TrialState.FAIL and before[-1].state == TrialState.WAITING
    assert before[-1].system_attrs["failed_trial"] == before[-2].number

    counter = CountingTrain(real)
    monkeypatch.setattr(module, "train", counter)
    result = run_search(load_study_config(path), progress=False)  # the same command again
    after = optuna.load_study(study_name="s", storage=config.storage).get_trials()
    done = [t for t in after if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(done) == 5 and result.n_trials == 5
    for number, (value, spec_hash) in finished.items():
        assert (after[number].value, after[number].user_attrs["spec_hash"]) == (value, spec_hash)
    # a third run has nothing left to do
    run_search(load_study_config(path), progress=False)
    assert len(optuna.load_study(study_name="s", storage=config.storage).get_trials()) == len(after)
    # raising n_trials on the command line continues the same study
    run_search(load_study_config(path, {"n_trials": 6}), progress=False)
    again = optuna.load_study(study_name="s", storage=config.storage).get_trials()
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in again) == 6


def test_a_changed_study_file_is_refused_on_resume(write_study, monkeypatch):
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train",
                        lambda spec, ds, *, fidelity, on_epoch, **kw: fake_result(0.5, fidelity.epochs))
    path = write_study(study="n_trials = 1")
    run_search(load_study_config(path), progress=False)
    with pytest.raises(ConfigError, match=r"created with fidelity.epochs=1, this run has 2"):
        run_search(load_study_config(path, {"epochs": 2}), progress=False)


def test_budget_below_the_space_minimum_is_reported_before_any_trial(write_study):
    config = load_study_config(write_study(budget="max_params = 100"))
    with pytest.raises(BudgetError, match=r"smallest architecture .*params=\d"):
        run_search(config, progress=False)
    storage = open_storage(config.storage)
    assert "s" not in optuna.get_all_study_names(storage)


def test_worker_needs_an_existing_study(write_study):
    config = load_study_config(write_study())
    with pytest.raises(StorageError, match=r"no study database here; run `mgsearch search`"):
        run_search(config, worker=True, progress=False)
    assert not config.path.with_suffix(".db").exists()  # a worker creates nothing


def test_worker_joins_and_stops_at_n_trials(write_study, monkeypatch):
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train",
                        lambda spec, ds, *, fidelity, on_epoch, **kw: fake_result(0.5, fidelity.epochs))
    path = write_study(study='n_trials = 2\nsampler = "random"')
    run_search(load_study_config(path), progress=False)
    run_search(load_study_config(path, {"n_trials": 4}), worker=True, progress=False)
    trials = optuna.load_study(study_name="s", storage=load_study_config(path).storage).get_trials()
    assert len(trials) == 4


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_dead_workers_trial_is_failed_and_retried(write_study, monkeypatch):
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train",
                        lambda spec, ds, *, fidelity, on_epoch, **kw: fake_result(0.5, fidelity.epochs))
    path = write_study(study='n_trials = 2\nsampler = "random"')
    config = load_study_config(path)
    run_search(config.replace(n_trials=1), progress=False)
    # a worker that started trial 1, sent one heartbeat and died
    storage = open_storage(config.storage, heartbeat_interval=1, grace_period=3)
    study = optuna.load_study(study_name="s", storage=storage)
    dead = study.ask({"stem.width": optuna.distributions.IntDistribution(4, 8, step=4)})
    dead.set_user_attr("first_number", dead.number)
    storage.record_heartbeat(dead._trial_id)
    result = run_search(config, progress=False)
    trials = optuna.load_study(study_name="s", storage=config.storage).get_trials()
    assert trials[1].state == TrialState.FAIL
    retry = trials[2]
    assert retry.state == TrialState.COMPLETE and retry.user_attrs["retry_of"] == 1
    assert retry.params["stem.width"] == dead.params["stem.width"]
    assert result.n_trials == 2


def test_storage_errors_never_show_the_password():
    with pytest.raises(StorageError) as info:
        open_storage("postgresql+psycopg://mg:hunter2secret@127.0.0.1:9/nodb")
    message = str(info.value)
    assert "hunter2secret" not in message and "\n" not in message
    assert "127.0.0.1" in message


@pytest.mark.gpu
def test_a_search_on_cuda_trains_there_and_records_it(write_study):
    path = write_study(study='n_trials = 3\nsampler = "random"\npruner = "none"', budget="max_params = 100000")
    config = load_study_config(path, {"device": "cuda"})
    run_search(config, progress=False)
    trials = optuna.load_study(study_name="s", storage=config.storage).get_trials()
    trained = [t for t in trials if t.user_attrs.get("status") == "trained"]
    assert len(trials) == 3 and trained
    assert all(t.user_attrs["device"].startswith("cuda") for t in trained)
