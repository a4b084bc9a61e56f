"""`mgsearch confirm` and `mgsearch calibrate` stopped by SIGINT or SIGKILL in the middle of a run, then run
again: every run that had finished is kept unchanged and never trained again, the interrupted run trains
again, nothing is lost."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from mgsearch.search import run_baselines, run_search
from mgsearch.study import load_study_config
from tests.reliability.conftest import peek_trials, start_cli, trials_of, wait_for

pytestmark = pytest.mark.slow

#: confirm protocol epochs: a run takes a few seconds on the tiny image folder, long enough to stop it midway
SLOW_EPOCHS = "30"


@pytest.fixture
def searched_study(reliability_study):
    path = reliability_study(n_trials=3, batch_size=8)
    config = load_study_config(path)
    run_search(config, progress=False)
    run_baselines(config, sizes=[0.5, 1.0], progress=False)
    return path


#: command -> (its arguments, the derived study, how many runs it plans)
COMMANDS = {
    "confirm": (["--top", "1", "--seeds", "2"], "rel.confirm", (1 + 2) * 2),  # 1 found + 2 baselines, 2 seeds
    "calibrate": (["--n", "3"], "rel.calibrate", 3 * 2),  # 3 candidates at 2 fidelities
}


def _start(tmp_path, command, path, jobs=1):
    args, _, _ = COMMANDS[command]
    return start_cli(tmp_path, command, str(path), *args, "--epochs", SLOW_EPOCHS, "--no-progress",
                     "--jobs", str(jobs))


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _running_after_one_finished(url, study, jobs):
    """A run in training (its attributes written: ``pid`` is the last before training) that started after
    one finished. The first ``jobs`` runs start together, so the one beside the first to finish may be a
    moment from its own end; a run numbered ``jobs`` or later was dispatched after a finish, with its
    whole training ahead of it, so the signal surely lands in the middle of it."""
    trials = peek_trials(url, study)
    if sum(t["state"] == "COMPLETE" for t in trials) >= 1:
        return next((t["number"] for t in reversed(trials)
                     if t["state"] == "RUNNING" and "pid" in t["attrs"] and t["number"] >= jobs), None)
    return None


def _finished(url, study):
    return {t.number: (t.value, t.user_attrs["run_key"], t.datetime_complete)
            for t in trials_of(url, study) if t.state.name == "COMPLETE"}


def _check_complete(url, study, before, planned):
    trials = trials_of(url, study)
    after = _finished(url, study)
    assert {n: after[n] for n in before} == before  # nothing that had finished changed
    keys = [v[1] for v in after.values()]
    assert len(keys) == len(set(keys)) == planned  # every run finished exactly once
    return trials


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_stopped_midway_resumes_without_repeating(searched_study, tmp_path, command, how, jobs):
    url = f"sqlite:///{searched_study.with_suffix('.db')}"
    _, study, planned = COMMANDS[command]
    first = _start(tmp_path, command, searched_study, jobs)
    killed = wait_for(lambda: _running_after_one_finished(url, study, jobs), timeout=600,
                      what=f"a finished {command} run and one in training", procs=(first,))
    workers = _children(first.pid)
    if jobs > 1:
        assert len(workers) >= jobs  # the spawned workers (and multiprocessing's resource tracker)
    os.kill(first.pid, getattr(signal, how))
    out, err = first.communicate(timeout=120)
    # no worker outlives its parent: stopped by it (SIGINT) or gone within a second of it (SIGKILL)
    wait_for(lambda: not any(_alive(w) for w in workers), timeout=120, what="the workers to exit")
    before = _finished(url, study)
    assert before and killed not in before
    state = {t["number"]: t["state"] for t in peek_trials(url, study)}[killed]
    if how == "SIGINT":
        assert first.returncode == 130, err
        assert "Traceback" not in err and "finished and kept" in err and "to resume" in err
        assert state == "FAIL"
    else:
        assert first.returncode == -signal.SIGKILL
        assert state == "RUNNING"  # left hanging: the next run fails it as stale

    again = _start(tmp_path, command, searched_study)
    out, err = again.communicate(timeout=900)
    assert again.returncode == 0, err[-3000:]
    assert ("the best baseline" if command == "confirm" else "Spearman") in out
    trials = _check_complete(url, study, before, planned=planned)
    stopped = next(t for t in trials if t.number == killed)
    assert stopped.state.name == "FAIL" and stopped.user_attrs["status"] == "interrupted"
    # the stopped run's key trained again, once
    assert [t.user_attrs["run_key"] for t in trials if t.state.name == "COMPLETE"].count(
        stopped.user_attrs["run_key"]) == 1
