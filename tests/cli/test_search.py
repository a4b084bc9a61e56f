"""`mgsearch search / worker / baseline` as a user runs them (subprocesses, real SQLite, tiny real trials)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.search.conftest import MICRO_SPACE

REPO = Path(__file__).resolve().parents[2]


def mgsearch(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MGSEARCH_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "mgsearch", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture
def study_file(tmp_path: Path, tiny_image_folder) -> Path:
    (tmp_path / "space.toml").write_text(MICRO_SPACE)
    root = tiny_image_folder()
    path = tmp_path / "cli.toml"
    path.write_text(
        '[study]\nspace = "space.toml"\nn_trials = 3\nsampler = "random"\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{root}"\nval_fraction = 0.25\n'
        "[fidelity]\nepochs = 1\nbatch_size = 32\n[budget]\nmax_params = 3000\n[device]\nname = \"cpu\"\n"
    )
    return path


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mgsearch: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda t: t.replace("n_trials = 3", "n_trials = 3\nn_trails = 4"), "study.n_trails is not a known key"),
        (lambda t: t.replace("n_trials = 3", 'n_trials = "many"'), "study.n_trials='many' is not allowed"),
        (lambda t: t.replace('space = "space.toml"', 'space = "missing.toml"'), "missing.toml does not exist"),
        (lambda t: t.replace("max_params = 3000", "max_params = -1"), "budget.max_params=-1 is not allowed"),
    ],
)
def test_bad_study_files_exit_nonzero_with_one_line(study_file, edit, expected):
    study_file.write_text(edit(study_file.read_text()))
    line = _one_line_error(mgsearch("search", str(study_file)))
    assert str(study_file) in line and expected in line


def test_budget_below_the_space_minimum_is_one_line_before_any_trial(study_file):
    study_file.write_text(study_file.read_text().replace("max_params = 3000", "max_params = 500"))
    line = _one_line_error(mgsearch("search", str(study_file)))
    assert "below the smallest architecture" in line and "params=903" in line
    db = study_file.with_suffix(".db")
    assert not db.exists() or "cli" not in optuna.get_all_study_names(f"sqlite:///{db}")


def test_search_json_and_a_worker_without_its_study(study_file):
    proc = mgsearch("search", str(study_file), "--json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n_trials"] == 3 and out["study"] == "cli"
    assert all(r["params"] <= 3000 for r in out["pareto"])
    assert set(out["counts"]) <= {"trained", "infeasible", "duplicate", "pruned"}
    proc = mgsearch("worker", str(study_file), "--name", "other", "--no-progress")
    assert "no study named 'other'" in _one_line_error(proc)


@pytest.mark.slow
def test_search_then_resume_then_worker_and_baseline(study_file):
    proc = mgsearch("search", str(study_file), "--json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n_trials"] == 3 and out["study"] == "cli"
    assert all(r["params"] <= 3000 for r in out["pareto"])
    storage = f"sqlite:///{study_file.with_suffix('.db')}"
    study = optuna.load_study(study_name="cli", storage=storage)
    assert len(study.trials) == 3 and study.user_attrs["config"]["study"]["n_trials"] == 3

    # a worker with a larger n_trials joins and adds exactly one trial; the table goes to stdout
    proc = mgsearch("worker", str(study_file), "--n-trials", "4", "--storage", storage, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "Pareto-optimal feasible trials" in proc.stdout or "no feasible trained trial" in proc.stdout
    assert len(optuna.load_study(study_name="cli", storage=storage).trials) == 4

    proc = mgsearch("worker", str(study_file), "--name", "other", "--no-progress")
    assert "no study named 'other'" in _one_line_error(proc)

    proc = mgsearch("baseline", str(study_file), "--sizes", "0.5,1", "--json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    # a dense ResNet space: its uniform network is the dense CIFAR ResNet, trained once under that label
    assert [r["baseline_name"] for r in rows] == ["dense-resnet@0.5x", "dense-resnet@budget"]
    assert all(0.97 <= r["budget_use"] / size <= 1.0 for r, size in zip(rows, (0.5, 1.0)))
    assert rows[0]["params"] <= 1500 and rows[1]["params"] <= 3000
    base = optuna.load_study(study_name="cli.baselines", storage=storage)
    assert {t.user_attrs["baseline_name"] for t in base.trials} == {"dense-resnet@0.5x", "dense-resnet@budget"}
    assert {t.user_attrs["strategy"] for t in base.trials} == {"baseline"}
    # baselines already trained are not trained again
    proc = mgsearch("baseline", str(study_file), "--sizes", "0.5,1", "--json", "--no-progress")
    assert proc.returncode == 0 and len(optuna.load_study(study_name="cli.baselines", storage=storage).trials) == 2
