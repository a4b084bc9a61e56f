"""`mgsearch confirm` from the command line on the offline Fashion-MNIST at a tiny fidelity: the shipped
quickstart study with 1 epoch on 1 % of the data, on SQLite and on PostgreSQL.

Slow: every confirm run measures test accuracy on the whole test split (10,000 images) at the end,
about 10 s per run on 2 idle cores; the default suite confirms on the tiny image folder
(tests/search/test_confirm.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import optuna
import pytest

from mgsearch.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = [(r"(?m)^n_trials = \d+", "n_trials = 3"), (r"(?m)^val_fraction = [\d.]+", "val_fraction = 0.01"),
        (r"(?m)^train_fraction = [\d.]+", "train_fraction = 0.01"), (r"(?m)^epochs = \d+", "epochs = 1")]


@pytest.fixture
def quickstart(tmp_path: Path, fashion_mnist_available) -> Path:
    """The shipped quickstart study and its space at a tiny fidelity, in a temporary folder."""
    shutil.copytree(REPO / "search_spaces", tmp_path / "search_spaces")
    (tmp_path / "studies").mkdir()
    text = (REPO / "studies" / "quickstart.toml").read_text()
    for pattern, repl in TINY:
        text, n = re.subn(pattern, repl, text)
        assert n >= 1, pattern
    path = tmp_path / "studies" / "quickstart.toml"
    path.write_text(text)
    return path


def _cli(capsys, *args: str) -> str:
    code = main([*args, "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _confirm_on(storage: list[str], quickstart: Path, capsys) -> None:
    study = str(quickstart)
    _cli(capsys, "search", study, *storage)
    _cli(capsys, "baseline", study, *storage)
    out = _cli(capsys, "confirm", study, "--top", "1", "--seeds", "2", *storage)
    assert "seeds 0, 1" in out and re.search(r"found is \d+\.\d\d ± \d+\.\d\d points (above|below) the best "
                                             r"baseline \(seeds' ranges (do not )?overlap\)", out), out
    assert re.search(r"found\s+#\d+", out) and "uniform@budget" in out
    data = json.loads(_cli(capsys, "confirm", study, "--top", "1", "--seeds", "2", "--json", *storage))
    assert data["seeds"] == [0, 1] and data["runs"] == (1 + 2) * 2
    assert data["found"]["role"] == "found" and len(data["found"]["test_accs"]) == 2
    assert data["sentence"] in out


@pytest.mark.slow
def test_confirm_on_fashion_mnist_sqlite(quickstart, capsys):
    _confirm_on([], quickstart, capsys)
    storage = f"sqlite:///{quickstart.with_suffix('.db')}"
    assert len(optuna.load_study(study_name="quickstart.confirm", storage=storage).trials) == 6


@pytest.mark.slow
@pytest.mark.postgres
def test_confirm_on_fashion_mnist_postgres(quickstart, capsys, postgres_db_url):
    _confirm_on(["--storage", postgres_db_url], quickstart, capsys)
    trials = optuna.load_study(study_name="quickstart.confirm", storage=postgres_db_url).trials
    assert len(trials) == 6 and all(t.user_attrs["status"] == "trained" for t in trials)
