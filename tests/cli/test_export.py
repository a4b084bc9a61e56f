"""`mgsearch export` from the command line, on a real study database."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mgsearch.cli import main
from mgsearch.spec import ArchSpec
from tests.report.studyfactory import T, resnet_spec, write_study


@pytest.fixture(scope="module")
def study_db(tmp_path_factory):
    """Study ``s``: trials 0-2 trained at growing cost, 3 infeasible, 4 pruned."""
    specs = [resnet_spec(8, ((8, (w,)), (16, (w,)))) for w in (4, 8, 16)]
    trials = [T(spec=s, val_acc=a) for s, a in zip(specs, (0.6, 0.7, 0.8))]
    trials += [T(status="infeasible", spec=resnet_spec(64, ((64, (64,)), (128, (128,))))),
               T(status="pruned", spec=resnet_spec(8, ((8, (12,)), (16, (12,)))), val_acc=0.3)]
    db = tmp_path_factory.mktemp("study") / "s.db"
    write_study(db, "s", trials, budget={"max_params": 100_000})
    return db, specs


def _cli(capsys, *argv):
    """Run the CLI in-process; (exit code, stderr lines)."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    return code, capsys.readouterr().err.strip().splitlines()


def test_export_best_under_budget(study_db, tmp_path, capsys):
    from mgsearch.cost import cost

    db, specs = study_db
    budget = cost(specs[1]).params  # exactly trial 1's cost
    out = tmp_path / "found"
    out.mkdir()
    (out / "old.txt").write_text("old")
    # an existing folder is refused (before any work) and left alone
    code, err = _cli(capsys, "export", db, "--best", "--max-params", budget, "--out", out)
    assert code != 0 and err == [f"mgsearch: error: {out}: already exists; pass --force to replace it"]
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    # --force replaces only an earlier export folder: not one holding old.txt
    code, err = _cli(capsys, "export", db, "--best", "--max-params", budget, "--out", out, "--force")
    assert code != 0 and err == [f"mgsearch: error: {out}: holds 'old.txt', which no export writes; --force "
                                 "replaces only an earlier export folder (remove it yourself if you mean it)"]
    (out / "old.txt").unlink()
    (out / "arch.json").write_text("old")
    assert main(["export", str(db), "--best", "--max-params", str(budget), "--out", str(out), "--force"]) == 0
    assert "exported trial 1 (resnet" in capsys.readouterr().err
    assert ArchSpec.from_json((out / "arch.json").read_text()) == specs[1]
    info = json.loads((out / "export.json").read_text())
    assert info["trial"] == 1 and info["study"] == "s" and info["val_acc"] == 0.7 and info["trained"] is False
    assert info["latency_ms"] > 0 and info["onnx_max_abs_diff"] <= 1e-4
    assert not (out / "weights.safetensors").exists() and (out / "model.onnx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found"]


def test_export_trial_passes_that_trial(study_db, tmp_path, monkeypatch):
    """--trial N hands trial N's stored spec and facts to the exporter (the export itself is
    checked above and in tests/test_export.py)."""
    import importlib

    ex = importlib.import_module("mgsearch.export")
    seen = {}

    def fake_export_model(spec, out, *, model=None, info=None, force=False, protect=()):
        seen.update(spec=spec, out=out, model=model, info=info, force=force)
        return ex.ExportResult(path=out, spec=spec, files=["arch.json"], info={**info, "params": 1, "macs": 1})

    monkeypatch.setattr(ex, "export_model", fake_export_model)
    db, specs = study_db
    assert main(["export", str(db), "--trial", "2", "--out", str(tmp_path / "t2")]) == 0
    assert seen["spec"] == specs[2] and seen["model"] is None and seen["force"] is False
    assert seen["info"]["trial"] == 2 and seen["info"]["val_acc"] == 0.8 and seen["info"]["dataset"] == "fashion-mnist"


def test_export_bad_inputs_one_line(study_db, tmp_path, capsys):
    from mgsearch.cost import cost

    db, specs = study_db
    cheapest = cost(specs[0])
    out = tmp_path / "x"
    cases = [
        (("--trial", "42"), "study 's' has no trial 42; trial numbers run 0..4"),
        (("--best", "--max-params", "100"),
         f"no trained feasible trial of study 's' has params <= 100; the cheapest (by params) is trial 0 with "
         f"{cheapest.params:,} params, {cheapest.macs:,} MACs (val_acc 0.6000)"),
        (("--best", "--max-params", "lots"), "'lots' is not a count"),
        (("--trial", "1", "--max-params", "5k"), "go with --best, not with --trial"),
        (("--trial", "1", "--epochs", "3"), "--epochs and --device go with --retrain"),
        (("--trial", "1", "--retrain"), "--retrain needs the study file (.toml)"),
    ]
    for args, needle in cases:
        code, err = _cli(capsys, "export", db, *args, "--out", out)
        assert code != 0 and len(err) == 1 and needle in err[0], (args, err)
    assert list(tmp_path.iterdir()) == []
    # the real command line: one line on stderr, non-zero exit
    proc = subprocess.run([sys.executable, "-m", "mgsearch", "export", str(db), "--trial", "42", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "mgsearch: error: study 's' has no trial 42; trial numbers run 0..4"]
    code, err = _cli(capsys, "export", db, "--out", out)  # neither --trial nor --best: argparse usage error
    assert code == 2 and "one of the arguments --trial --best is required" in err[-1]
