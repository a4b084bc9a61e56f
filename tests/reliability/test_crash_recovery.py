"""Crash recovery with real processes: a worker SIGKILLed mid-trial, and one stopped with SIGTERM.

The trial of a killed worker stops sending heartbeats; once the grace period (3 s in these study
files) has passed, the next worker fails it and Optuna's RetryHeartbeatStaleTrialCallback queues a
retry, which the objective records as ``retry_of`` = the killed trial's number. Trials that had
finished stay exactly as they were and are never trained again.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.reliability.conftest import peek_trials, start_cli, training_trial, trials_of, wait_for

pytestmark = pytest.mark.slow

#: epochs per trial: on the tiny image folder with batch 8 a trial takes a few seconds, long enough to
#: kill its worker in the middle of training
SLOW_EPOCHS = 25


def _snapshot(url: str) -> dict[int, tuple]:
    return {t.number: (t.value, t.params, t.datetime_complete, t.user_attrs["spec_hash"], t.user_attrs["status"])
            for t in trials_of(url) if t.state == TrialState.COMPLETE}


def _check_recovered(url: str, killed: int, before: dict[int, tuple], n_trials: int) -> None:
    trials = trials_of(url)
    by_number = {t.number: t for t in trials}
    assert by_number[killed].state == TrialState.FAIL
    retries = [t for t in trials if t.user_attrs.get("retry_of") == killed]
    assert len(retries) == 1, [(t.number, t.state, t.user_attrs.get("retry_of")) for t in trials]
    retry = retries[0]
    assert retry.state == TrialState.COMPLETE and retry.user_attrs["status"] == "trained"
    assert retry.system_attrs["failed_trial"] == killed  # Optuna's own record of the retry
    assert retry.params == by_number[killed].params
    assert retry.user_attrs["spec_hash"] == by_number[killed].user_attrs["spec_hash"]
    # nothing that had finished is lost or changed
    after = _snapshot(url)
    assert {n: after[n] for n in before} == before
    # nothing trained twice (the killed trial never finished: its retry is its only training)
    trained = [t.user_attrs["spec_hash"] for t in trials
               if t.state == TrialState.COMPLETE and t.user_attrs["status"] == "trained"]
    assert len(trained) == len(set(trained))
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == n_trials


@pytest.mark.postgres
def test_sigkill_mid_trial_is_failed_and_retried_by_another_worker(reliability_study, postgres_db_url, tmp_path):
    path = reliability_study(n_trials=3, epochs=SLOW_EPOCHS, batch_size=8)
    first = start_cli(tmp_path, "search", str(path), "--storage", postgres_db_url)
    killed = wait_for(lambda: training_trial(postgres_db_url, after_complete=1), timeout=600,
                      what="a finished trial and one in training", procs=(first,))
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL
    before = _snapshot(postgres_db_url)
    assert before and killed not in before
    assert {t["number"]: t["state"] for t in peek_trials(postgres_db_url)}[killed] == "RUNNING"  # left hanging

    second = start_cli(tmp_path, "worker", str(path), "--storage", postgres_db_url)
    out, err = second.communicate(timeout=900)
    assert second.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    _check_recovered(postgres_db_url, killed, before, n_trials=3)


def test_sigterm_fails_the_trial_cleanly_and_queues_it_again(reliability_study, tmp_path):
    path = reliability_study(n_trials=2, epochs=SLOW_EPOCHS, batch_size=8)
    db = path.with_suffix(".db")
    url = f"sqlite:///{db}"
    first = start_cli(tmp_path, "search", str(path))
    killed = wait_for(lambda: db.exists() and training_trial(url), timeout=600, what="a trial in training",
                      procs=(first,))
    before = _snapshot(url)
    first.send_signal(signal.SIGTERM)
    out, err = first.communicate(timeout=60)  # stops at once: it does not finish the epochs
    assert first.returncode == 130, err
    assert "Traceback" not in err
    assert f"trial {killed} failed and queued again" in err and "interrupted" in err
    states = {t["number"]: t["state"] for t in peek_trials(url)}
    assert states[killed] == "FAIL" and list(states.values()).count("WAITING") == 1  # no grace period needed
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    again = start_cli(tmp_path, "search", str(path))  # resuming runs the queued retry first
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-3000:]
    _check_recovered(url, killed, before, n_trials=2)
