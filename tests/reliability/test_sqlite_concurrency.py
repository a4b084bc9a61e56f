"""Several processes on one SQLite study file: serialised safely, or a clear stop pointing to PostgreSQL.

SQLite allows one writer at a time; mgsearch opens it in WAL mode with a 60 s lock timeout, so a few
processes on one machine take turns. When a lock is held longer than the timeout the command stops
with one line that names the file and points to PostgreSQL. The file is never corrupted.
"""

from __future__ import annotations

import importlib
import sqlite3

import optuna
import pytest
from optuna.trial import TrialState

from mgsearch.cli import main
from tests.reliability.conftest import start_cli, trials_of
from tests.search.conftest import fake_result


def _integrity(db) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


@pytest.mark.slow
def test_three_processes_on_one_fresh_sqlite_file_take_turns(reliability_study, tmp_path):
    path = reliability_study(n_trials=9)
    db = path.with_suffix(".db")
    # all three at once on a file that does not exist yet: they race to create the study, too
    procs = [start_cli(tmp_path, "search", str(path)) for _ in range(3)]
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    assert _integrity(db) == "ok"
    trials = trials_of(f"sqlite:///{db}")
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 9
    assert all(t.state == TrialState.FAIL and t.user_attrs.get("error", "").startswith("surplus")
               for t in trials if t not in finished)
    trained = [t.user_attrs["spec_hash"] for t in finished if t.user_attrs["status"] == "trained"]
    assert len(trained) == len(set(trained)), [
        (t.number, t.user_attrs["spec_hash"][:8], t.user_attrs["status"], t.datetime_start, t.datetime_complete)
        for t in finished]


def test_a_lock_held_beyond_the_timeout_stops_with_one_line_pointing_to_postgres(
    reliability_study, monkeypatch, capsys
):
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train",
                        lambda spec, ds, *, fidelity, on_epoch, **kw: fake_result(0.5, fidelity.epochs))
    monkeypatch.setattr(importlib.import_module("mgsearch.search.storage"), "SQLITE_TIMEOUT_S", 1)
    path = reliability_study(n_trials=2)
    db = path.with_suffix(".db")
    assert main(["search", str(path), "--no-progress"]) == 0
    capsys.readouterr()
    before = db.read_bytes(), len(trials_of(f"sqlite:///{db}"))

    holder = sqlite3.connect(db, isolation_level=None)  # another process's long write transaction
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code = main(["search", str(path), "--no-progress", "--n-trials", "4"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert str(db) in lines[0] and "locked" in lines[0] and "PostgreSQL" in lines[0]
    assert _integrity(db) == "ok"
    assert len(optuna.load_study(study_name="rel", storage=f"sqlite:///{db}").trials) == before[1]
