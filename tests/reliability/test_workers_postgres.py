"""Four worker processes on one PostgreSQL study: exactly n_trials, no spec trained twice, no trial lost."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from optuna.trial import TrialState

from tests.reliability.conftest import start_cli, trials_of, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

N_TRIALS = 12


def test_four_workers_reach_exactly_n_trials(reliability_study, postgres_db_url, tmp_path):
    from sqlalchemy.engine import make_url

    password = make_url(postgres_db_url).password
    path = reliability_study(n_trials=N_TRIALS)
    # `mgsearch search` creates the study; three `mgsearch worker`s join it as soon as it exists
    first = start_cli(tmp_path, "search", str(path), "--storage", postgres_db_url)
    wait_for(lambda: trials_of(postgres_db_url) or None, timeout=300, what="the study's first trial", procs=(first,))
    workers = [start_cli(tmp_path, "worker", str(path), "--storage", postgres_db_url) for _ in range(3)]
    ran_here = []
    for proc in [first, *workers]:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        assert password not in out and password not in err  # the URL is shown redacted, if at all
        assert "Traceback" not in err
        m = re.search(r"this worker ran (\d+) trial", out)
        if proc is not first:
            assert m, out  # each worker reports its own progress
            ran_here.append(int(m.group(1)))
        assert f"{N_TRIALS} finished trials" in out, out

    trials = trials_of(postgres_db_url)
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == N_TRIALS
    # no trial lost: everything else is a surplus trial failed unrun (two workers racing at the end)
    others = [t for t in trials if t not in finished]
    assert all(t.state == TrialState.FAIL and t.user_attrs.get("error", "").startswith("surplus") for t in others), [
        (t.number, t.state, t.user_attrs) for t in others]
    # the workers shared the work (the first process cannot have run every trial when 3 others joined early)
    assert sum(ran_here) >= 1
    # no spec trained twice: duplicates took the earlier result instead
    statuses = Counter(t.user_attrs["status"] for t in finished)
    assert set(statuses) <= {"trained", "duplicate"}, statuses
    trained = [t.user_attrs["spec_hash"] for t in finished if t.user_attrs["status"] == "trained"]
    assert len(trained) == len(set(trained))
    by_hash = {t.user_attrs["spec_hash"]: t for t in finished if t.user_attrs["status"] == "trained"}
    for t in finished:
        if t.user_attrs["status"] == "duplicate":
            source = by_hash[t.user_attrs["spec_hash"]]
            assert t.user_attrs["duplicate_of"] == source.number and t.value == source.value
    # every trained trial carries its result
    assert all(0.0 <= t.value <= 1.0 and len(t.user_attrs["val_history"]) == 1 for t in finished)

    # the password is nowhere: not in the stored configuration, the report or the export's model card
    import optuna

    study_attrs = optuna.load_study(study_name="rel", storage=postgres_db_url).user_attrs
    assert password not in json.dumps(study_attrs) and "***" in study_attrs["config"]["study"]["storage"]
    report, found = tmp_path / "report.html", tmp_path / "found"
    for args in (["report", str(path), "--storage", postgres_db_url, "--out", str(report)],
                 ["export", str(path), "--storage", postgres_db_url, "--best", "--out", str(found)]):
        proc = start_cli(tmp_path, *args)
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        assert password not in out + err
    assert password not in report.read_text()
    for f in found.iterdir():
        assert password.encode() not in f.read_bytes(), f
