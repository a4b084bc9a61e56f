"""benchmarks/bench_outcome.py: the study files it writes, its step ledger, and the identity its
LW-DNA leg relies on (the network LW-DNA widens is the confirmed uniform / dense-resnet baseline)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from mgsearch.space import SearchSpace
from mgsearch.space.choosers import RandomChooser
from mgsearch.strategies.choosers import MacroChooser
from mgsearch.strategies.uniform import reference_networks, reference_spec, scale_reference
from mgsearch.study import load_study_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_outcome", REPO / "benchmarks" / "bench_outcome.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_outcome"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_outcome", None)


def test_both_study_files_are_valid_studies_with_the_fixed_protocol(bench, tmp_path, monkeypatch):
    archive = tmp_path / "cifar10-jpeg.tar.xz"
    archive.write_bytes(b"")
    monkeypatch.setattr(bench, "cifar10_archive", lambda: str(archive))
    main, lwdna = tmp_path / "outcome-50k.toml", tmp_path / "outcome-lwdna-50k.toml"
    main.write_text(bench.study_text("50k", bench.PROTOCOL))
    lwdna.write_text(bench.lwdna_study_text("50k", bench.PROTOCOL))
    a, b = load_study_config(main), load_study_config(lwdna)
    assert (a.strategy, b.strategy) == ("oneshot", "lwdna")
    assert b.n_trials == 1 and b.strategy_settings.base == "uniform" and b.strategy_settings.importance == ("slimmable",)
    # the same data, fidelity, budget and final protocol in both
    for key in ("dataset", "val_fraction", "train_fraction", "epochs", "batch_size", "seed",
                "confirm_epochs", "confirm_train_fraction", "confirm_top", "confirm_seeds", "space_path"):
        assert getattr(a, key) == getattr(b, key), key
    assert a.confirm_epochs == 15 and a.confirm_train_fraction == 1.0 and a.confirm_seeds == 3


@pytest.mark.parametrize("budget", [50_000, 100_000])
def test_lwdna_base_is_the_confirmed_baseline(budget):
    """In the outcome space (one structure, dense), LW-DNA's base = uniform@budget = dense-resnet@budget,
    so the baseline the main leg confirms is the LW-DNA network's own parent."""
    space = SearchSpace.from_file(REPO / "benchmarks" / "outcome_space.toml")
    limits = {"params": float(budget)}
    macro = space.to_spec(MacroChooser(RandomChooser(0)))
    lwdna_base = scale_reference(macro, limits)
    refs = reference_networks(space)
    assert set(refs) == {"dense-resnet", "uniform"}
    assert lwdna_base == scale_reference(reference_spec(space), limits)
    assert lwdna_base == scale_reference(refs["dense-resnet"], limits, uniform=False)


def test_ledger_adds_up_attempts_and_marks_success(bench, tmp_path):
    ledger = bench.Ledger(tmp_path / "steps.json")
    log = tmp_path / "log"
    rc, first, out = ledger.run("a", [sys.executable, "-c", "import time; time.sleep(0.2); print('x')"], log)
    assert (rc, out.strip()) == (0, "x") and first >= 0.2 and ledger.done("a")
    rc, second, _ = ledger.run("b", [sys.executable, "-c", "import sys; sys.exit(3)"], log)
    assert rc == 3 and not ledger.done("b")
    again = bench.Ledger(tmp_path / "steps.json")  # read back from the file
    assert again.spent("a") == pytest.approx(first) and not again.done("b")
    rc, total, _ = again.run("a", [sys.executable, "-c", "pass"], log)
    assert total > first and again.done("a")


def test_steps_run_this_checkout_from_any_working_directory(bench, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "elsewhere"))
    ledger = bench.Ledger(tmp_path / "steps.json")
    rc, _, out = ledger.run("where", [sys.executable, "-c", "import mgsearch; print(mgsearch.__file__)"],
                            tmp_path / "log")
    assert rc == 0 and Path(out.strip()).resolve() == REPO / "mgsearch" / "__init__.py"
    assert bench.child_env()["PYTHONPATH"].split(os.pathsep) == [str(REPO), str(tmp_path / "elsewhere")]


@pytest.mark.parametrize("legs", ["lwdna", "calibrate,lwdna", "main,oneshot", ""])
def test_legs_that_cannot_run_are_refused_before_anything_starts(bench, tmp_path, legs):
    with pytest.raises(SystemExit, match="allowed main, lwdna, calibrate"):
        bench.main(["--budgets", "50k", "--work", str(tmp_path / "w"), "--legs", legs])
    assert not (tmp_path / "w").exists()


def test_the_calibrate_leg_calls_mgsearch_calibrate_on_the_outcome_study(bench, tmp_path, monkeypatch):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        out = '{"kendall": 0.61, "text": "Kendall 0.61"}' if "calibrate" in cmd else ""
        return type("R", (), {"returncode": 0, "stdout": out})()

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    monkeypatch.setattr(bench, "cifar10_archive", lambda: "/data/cifar10-jpeg.tar.xz")
    assert bench.main(["--budgets", "50k", "--work", str(tmp_path), "--legs", "calibrate"]) == 0
    assert len(calls) == 1 and calls[0][:3] == [sys.executable, "-m", "mgsearch"]
    assert calls[0][3:7] == ["calibrate", str(tmp_path / "outcome-50k.toml"), "--n", "12"]
    assert "--jobs" not in calls[0]
    result = (tmp_path / "outcome-50k-calibrate.json").read_text()
    assert '"goal_met": true' in result and '"kendall": 0.61' in result
    calls.clear()
    assert bench.main(["--budgets", "50k", "--work", str(tmp_path / "j"), "--legs", "calibrate", "--jobs", "2"]) == 0
    assert calls[0][-2:] == ["--jobs", "2"]  # passed to the command that trains the runs


def test_a_work_folder_keeps_one_protocol(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "cifar10_archive", lambda: "/data/cifar10-jpeg.tar.xz")
    standard = bench.study_text("50k", bench.PROTOCOL)
    paper = bench.study_text("50k", bench.PAPER)
    assert "epochs = 200" in paper and "epochs = 200" not in standard
    path = tmp_path / "outcome-50k.toml"
    bench.write_study(path, standard)
    bench.write_study(path, standard)  # the same text again: kept
    with pytest.raises(SystemExit, match="another protocol"):
        bench.write_study(path, paper)
    assert path.read_text() == standard
