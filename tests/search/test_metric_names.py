"""optuna-dashboard names the objectives after mgsearch's metrics (``study.set_metric_names``): on a new
study, and on resume for a study written before (without them)."""

from __future__ import annotations

import importlib
import sqlite3

import optuna
import pytest

from mgsearch.search import run_search
from mgsearch.study import load_study_config
from tests.search.conftest import fake_result


@pytest.fixture
def fake_train(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("mgsearch.train")
    monkeypatch.setattr(module, "train", lambda spec, ds, *, fidelity, **kw: fake_result(0.5, fidelity.epochs))


def _study(path) -> optuna.Study:
    return optuna.load_study(study_name=path.stem, storage=f"sqlite:///{path.with_suffix('.db')}")


@pytest.mark.parametrize("objectives, names", [
    ('', ["val_acc"]),
    ('objectives = ["val_acc", "params"]\nsampler = "nsga2"\npruner = "none"\n', ["val_acc", "params"]),
])
def test_a_new_study_names_its_objectives(write_study, fake_train, objectives, names):
    path = write_study(study=f"n_trials = 2\n{objectives}", budget="max_params = 100000")
    run_search(load_study_config(path), progress=False)
    assert _study(path).metric_names == names


def test_a_resumed_study_without_names_gets_them(write_study, fake_train):
    path = write_study(study="n_trials = 2", budget="max_params = 100000")
    run_search(load_study_config(path), progress=False)
    with sqlite3.connect(path.with_suffix(".db")) as conn:  # as a study written before this version
        conn.execute("DELETE FROM study_system_attributes WHERE key = 'study:metric_names'")
    assert _study(path).metric_names is None
    run_search(load_study_config(path, {"n_trials": 3}), progress=False)
    assert _study(path).metric_names == ["val_acc"]
    assert len(_study(path).trials) == 3
