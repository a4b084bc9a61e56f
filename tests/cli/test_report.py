"""`mgsearch report` from the command line."""

from __future__ import annotations

import subprocess
import sys

from mgsearch.cli import main
from tests.report.conftest import small_study_trials
from tests.report.studyfactory import write_study


def test_report_cli_writes_page(tmp_path, capsys):
    trials, baselines = small_study_trials()
    db = tmp_path / "s.db"
    write_study(db, "s", trials[:4], baselines=baselines)
    out = tmp_path / "out.html"
    assert main(["report", str(db), "--out", str(out)]) == 0
    text = out.read_text()
    assert "mgsearch report: s" in text and text.rstrip().endswith("</html>")
    assert "4 trials, 4 trained, 2 baselines" in capsys.readouterr().err
    # --storage and --study-name select the study explicitly
    out2 = tmp_path / "out2.html"
    assert main(["report", f"sqlite:///{db}", "--study-name", "s", "--out", str(out2)]) == 0
    assert out2.exists()


def test_report_cli_bad_inputs_one_line(tmp_path, capsys):
    for argv, needle in (
        (["report", str(tmp_path / "nope.db")], "no study database here"),
        (["report", str(tmp_path / "nope.toml")], "study file not found"),
    ):
        capsys.readouterr()
        assert main(argv) != 0
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], lines
    assert not (tmp_path / "nope.db").exists()
    trials, _ = small_study_trials()
    write_study(tmp_path / "s.db", "s", trials[:2])
    proc = subprocess.run([sys.executable, "-m", "mgsearch", "report", str(tmp_path / "s.db"), "--study-name", "x",
                           "--out", str(tmp_path / "r.html")], capture_output=True, text=True)
    assert proc.returncode != 0 and proc.stderr.strip().endswith("has no study 'x'; it holds: s")
    assert not (tmp_path / "r.html").exists()


def test_report_cli_from_study_file(tmp_path, capsys):
    """A study file names the database (default: <stem>.db beside it) and the study (its stem)."""
    from pathlib import Path

    space = Path(__file__).resolve().parents[2] / "search_spaces" / "tiny.toml"
    study = tmp_path / "mystudy.toml"
    study.write_text(f'[study]\nspace = "{space}"\n[data]\ndataset = "cifar10"\n[budget]\nmax_params = 50000\n')
    assert main(["report", str(study)]) != 0
    assert "mystudy.db: no study database here" in capsys.readouterr().err
    trials, baselines = small_study_trials()
    write_study(tmp_path / "mystudy.db", "mystudy", trials[:3], baselines=baselines)
    assert main(["report", str(study)]) == 0
    text = (tmp_path / "mystudy.report.html").read_text()
    assert "mgsearch report: mystudy" in text


def test_report_cli_study_without_a_trained_feasible_trial(tmp_path, capsys):
    from tests.report.studyfactory import T, resnet_spec

    write_study(tmp_path / "s.db", "s", [T(status="infeasible", spec=resnet_spec())])
    assert main(["report", str(tmp_path / "s.db"), "--out", str(tmp_path / "r.html")]) == 0
    assert "no trained feasible trial yet" in (tmp_path / "r.html").read_text()
