"""mgsearch confirm: the top distinct feasible trials and the baselines retrained with several seeds,
stored in <name>.confirm linked to their source, resumable after an interrupt."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import optuna
import pytest

from mgsearch.errors import ConfigError, MgsearchError
from mgsearch.search import run_baselines, run_search
from mgsearch.search.confirm import confirm_protocol, confirm_sources, run_confirm
from mgsearch.search.retrain import RunsInterrupted
from mgsearch.store.records import read_study
from mgsearch.store.runs import RUN_ATTRS
from mgsearch.study import load_study_config
from tests.fixtures.datasets import write_image_folder
from tests.search.conftest import MICRO_SPACE, CountingTrain

STUDY = 'n_trials = 5\nsampler = "random"\npruner = "none"\n'
CONFIRM = "[confirm]\nepochs = 1\ntrain_fraction = 1.0\ntop = 2\nseeds = 2\n"


def write_micro_study(folder: Path, *, extra: str = CONFIRM, study: str = STUDY) -> Path:
    """The micro ResNet space on a tiny image folder (a study file ``s.toml`` in ``folder``)."""
    root = folder / "images"
    if not root.exists():
        write_image_folder(root)
    (folder / "space.toml").write_text(MICRO_SPACE)
    path = folder / "s.toml"
    path.write_text(
        f'[study]\nspace = "space.toml"\n{study}\n[data]\ndataset = "imagefolder"\nroot = "images"\n'
        f'val_fraction = 0.25\n[fidelity]\nepochs = 1\nbatch_size = 32\n[budget]\nmax_params = 4000\n'
        f'[device]\nname = "cpu"\nthreads = 1\n{extra}\n')
    return path


@pytest.fixture(scope="module")
def searched_once(tmp_path_factory) -> Path:
    """A micro study with 5 random trials and its uniform baselines (0.5x, 1x, 1.5x the budget), made once."""
    folder = tmp_path_factory.mktemp("searched")
    config = load_study_config(write_micro_study(folder))
    run_search(config, progress=False)
    run_baselines(config, sizes=[0.5, 1.0, 1.5], progress=False)
    return folder


@pytest.fixture
def searched(searched_once, tmp_path):
    """A fresh copy of :func:`searched_once` (its study file's config)."""
    folder = tmp_path / "study"
    shutil.copytree(searched_once, folder)
    return load_study_config(folder / "s.toml")


def _confirm_trials(config):
    return optuna.load_study(study_name=f"{config.name}.confirm", storage=config.storage).get_trials(deepcopy=False)


def test_confirm_retrains_top_distinct_trials_and_baselines_with_each_seed(searched, monkeypatch):
    counter = CountingTrain()
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", counter)
    data = read_study(searched.storage, searched.name)
    sources = confirm_sources(data, 2)
    found = [rec for role, _, rec in sources if role == "found"]
    bases = [rec for role, _, rec in sources if role == "baseline"]
    assert len(found) == 2 and len({r.spec_hash for r in found}) == 2
    assert all(r.trained and r.feasible for r in found)
    best = max((r for r in data.records if r.trained and r.feasible), key=lambda r: r.val_acc)
    assert found[0].val_acc == best.val_acc
    assert {b.baseline_name for b in bases} == {"dense-resnet@0.5x", "dense-resnet@budget"}  # 1.5x is over the budget

    result = run_confirm(searched, progress=False)
    assert counter.calls == (2 + 2) * 2
    trials = _confirm_trials(searched)
    assert len(trials) == 8 and all(t.state.name == "COMPLETE" for t in trials)
    protocol = confirm_protocol(searched)
    assert protocol["epochs"] == 1 and protocol["train_fraction"] == 1.0
    for t in trials:
        a = t.user_attrs
        assert set(a) <= set(RUN_ATTRS) | {"params", "macs", "activations"}, set(a) - set(RUN_ATTRS)
        assert a["status"] == "trained" and a["protocol"] == protocol and a["seed"] in (0, 1)
        assert t.value == a["test_acc"] and 0.0 <= a["test_acc"] <= 1.0
        source = data.trial(a["source_trial"]) if a["role"] == "found" else \
            next(b for b in data.baselines if b.number == a["source_trial"])
        assert a["spec_hash"] == source.spec_hash
        assert a["source_study"] == ("s" if a["role"] == "found" else "s.baselines")
    groups = result.comparison.groups
    assert len(groups) == 4 and all(len(g.accs) == 2 for g in groups)
    assert "points" in result.comparison.sentence() and "the best baseline" in result.comparison.sentence()
    # the report's reader sees the runs
    assert len(read_study(searched.storage, searched.name).confirmed) == 8

    again = run_confirm(searched, progress=False)  # everything finished: nothing trains again
    assert counter.calls == 8 and len(_confirm_trials(searched)) == 8
    assert [g.mean for g in again.comparison.groups] == [g.mean for g in groups]
    run_confirm(searched, seeds=3, progress=False)  # one more seed: only the new seed's runs train
    assert counter.calls == 12


def test_an_interrupted_confirm_keeps_finished_runs_and_repeats_none(searched, monkeypatch):
    module = importlib.import_module("mgsearch.train")
    real = module.train
    calls = {"n": 0}

    def interrupted_on_third(spec, dataset, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(spec, dataset, **kw)

    monkeypatch.setattr(module, "train", interrupted_on_third)
    with pytest.raises(RunsInterrupted, match="2 of 8 runs finished and kept"):
        run_confirm(searched, progress=False)
    trials = _confirm_trials(searched)
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL"]
    assert trials[2].user_attrs["status"] == "interrupted"
    before = {t.number: (t.value, t.user_attrs["run_key"]) for t in trials[:2]}

    counter = CountingTrain(real)
    monkeypatch.setattr(module, "train", counter)
    run_confirm(searched, progress=False)
    assert counter.calls == 6  # the interrupted run and the five never started; the two finished kept
    trials = _confirm_trials(searched)
    assert {t.number: (t.value, t.user_attrs["run_key"]) for t in trials[:2]} == before
    finished = [t.user_attrs["run_key"] for t in trials if t.state.name == "COMPLETE"]
    assert len(finished) == 8 == len(set(finished))


def test_a_run_left_running_by_a_dead_process_runs_again(searched, monkeypatch):
    counter = CountingTrain()
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", counter)
    run_confirm(searched, top=1, seeds=1, progress=False)
    study = optuna.load_study(study_name="s.confirm", storage=searched.storage)
    stale = study.ask()  # what a SIGKILLed process leaves: RUNNING, its pid gone
    stale.set_user_attr("pid", 2 ** 22 + 12345)
    stale.set_user_attr("host", "elsewhere")
    run_confirm(searched, top=1, seeds=2, progress=False)
    trials = _confirm_trials(searched)
    assert trials[stale.number].state.name == "FAIL" and trials[stale.number].user_attrs["status"] == "interrupted"
    assert counter.calls == 3 + 3  # 1 found + 2 baselines, seed 0 kept, seed 1 new (the stale run among them)


def test_confirm_without_a_trained_trial_says_so(write_study):
    config = load_study_config(write_study(study=STUDY, budget="max_params = 4000"))
    optuna.create_study(study_name="s", storage=config.storage)
    with pytest.raises(MgsearchError, match="no trained feasible trial to confirm"):
        run_confirm(config, progress=False)


@pytest.mark.parametrize("table, message", [
    ("[confirm]\nepochs = 0\n", "confirm.epochs=0 is not allowed"),
    ("[confirm]\ntrain_fraction = 1.5\n", "confirm.train_fraction=1.5 is not allowed"),
    ("[confirm]\nseed = 2\n", "confirm.seed is not a known key"),
    ("[calibrate]\nn = 2\n", "calibrate.n=2 is not allowed"),
])
def test_bad_confirm_tables_name_the_key(write_study, table, message):
    with pytest.raises(ConfigError, match=message):
        load_study_config(write_study(extra=table))


def test_report_and_export_show_the_confirmed_comparison(searched, tmp_path):
    import json

    from mgsearch.cli import main
    from mgsearch.report.page import render_report

    run_confirm(searched, progress=False)
    data = read_study(searched.storage, searched.name)
    html = render_report(data)
    assert 'id="fig-confirmed"' in html and 'id="confirmed-answer"' in html
    assert "points above the best baseline" in html or "points below the best baseline" in html
    assert "ranges overlap" in html or "ranges do not overlap" in html

    from mgsearch.report.series import confirmed_comparison

    baselines = {"dense-resnet@0.5x", "dense-resnet@budget"}  # 1.5x is over the budget: never confirmed
    assert {g.label for g in confirmed_comparison(data).groups if g.role == "baseline"} == baselines
    replaced = next(b for b in data.baselines if b.baseline_name == "dense-resnet@budget")
    replaced.spec_hash = "0" * 64  # a baseline trained again with another spec: its old runs are not shown
    assert {g.label for g in confirmed_comparison(data).groups if g.role == "baseline"} == {"dense-resnet@0.5x"}

    out = tmp_path / "found"
    assert main(["export", str(searched.path), "--best", "--out", str(out)]) == 0
    meta = json.loads((out / "export.json").read_text())
    best_group = max((g for g in read_confirmed(searched) if g.role == "found"), key=lambda g: g.mean)
    assert meta["trial"] == best_group.source_trial
    assert meta["confirmed"]["test_acc_mean"] == pytest.approx(best_group.mean)
    assert meta["confirmed"]["seeds"] == [0, 1] and meta["confirmed"]["protocol"]["epochs"] == 1
    card = (out / "MODEL_CARD.md").read_text()
    assert "test accuracy (confirmed: mean ± sd over seeds)" in card and "seeds 0, 1" in card


def read_confirmed(config):
    from mgsearch.store.runs import run_groups

    return run_groups(read_study(config.storage, config.name).confirmed)


def test_an_interrupt_during_a_database_write_waits_for_the_write():
    import signal

    from mgsearch.search.retrain import Interrupts

    interrupts = Interrupts()
    interrupts.handler(signal.SIGINT, None)  # outside training: deferred
    assert interrupts.pending == f"signal {int(signal.SIGINT)}"
    with pytest.raises(KeyboardInterrupt, match="signal"):
        interrupts.check()
    fresh = Interrupts()
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        with fresh.interruptible():  # inside training: at once
            fresh.handler(15, None)
    assert not fresh.now and fresh.pending is None


def test_two_jobs_train_the_same_runs_to_the_same_numbers(searched, tmp_path):
    twin_folder = tmp_path / "twin"
    shutil.copytree(Path(searched.path).parent, twin_folder)
    twin = load_study_config(twin_folder / "s.toml")
    one = run_confirm(searched, progress=False)
    two = run_confirm(twin, progress=False, jobs=2)  # real training in two spawned worker processes
    assert [(g.label, g.accs) for g in two.comparison.groups] == [(g.label, g.accs) for g in one.comparison.groups]
    trials = _confirm_trials(twin)
    assert len(trials) == 8 and all(t.state.name == "COMPLETE" for t in trials)
    assert all(len(t.user_attrs["val_history"]) == 1 for t in trials)  # the workers' epochs reached the parent
    assert len({t.user_attrs["run_key"] for t in trials}) == 8


def fail_seed_one(spec, dataset, **kw):
    """A training that fails for seed 1 (picklable: the workers import it)."""
    if kw["seed"] == 1:
        raise RuntimeError("seed 1 broke")
    return importlib.import_module("mgsearch.train").train(spec, dataset, **kw)


def test_a_run_failing_in_a_worker_keeps_the_others_and_runs_again(searched):
    with pytest.raises(RuntimeError, match="seed 1 broke"):
        run_confirm(searched, progress=False, jobs=2, train_fn=fail_seed_one)
    trials = _confirm_trials(searched)
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert failed and all(t.user_attrs["status"] == "failed" and "seed 1 broke" in t.user_attrs["error"]
                          for t in failed)
    kept = {t.user_attrs["run_key"] for t in trials if t.state.name == "COMPLETE"}
    assert kept and all(t.user_attrs["seed"] == 0 for t in trials if t.state.name == "COMPLETE")
    assert not [t for t in trials if t.state.name == "RUNNING"]
    counter = CountingTrain()
    result = run_confirm(searched, progress=False, train_fn=counter)
    assert counter.calls == 8 - len(kept)  # only what had not finished trains again
    assert sum(len(g.accs) for g in result.comparison.groups) == 8


def die_on_seed_one(spec, dataset, **kw):
    """A training whose process dies for seed 1 (as one killed by the system would)."""
    if kw["seed"] == 1:
        import os

        os._exit(9)
    return importlib.import_module("mgsearch.train").train(spec, dataset, **kw)


def test_a_worker_that_dies_is_one_clear_error_and_nothing_is_left_running(searched):
    with pytest.raises(MgsearchError, match="a worker process died while training run .* Re-run to resume"):
        run_confirm(searched, progress=False, jobs=2, train_fn=die_on_seed_one)
    trials = _confirm_trials(searched)
    assert trials and not [t for t in trials if t.state.name == "RUNNING"]
    assert all(t.user_attrs["seed"] == 0 for t in trials if t.state.name == "COMPLETE")
    counter = CountingTrain()
    run_confirm(searched, progress=False, train_fn=counter)
    assert len([t for t in _confirm_trials(searched) if t.state.name == "COMPLETE"]) == 8
