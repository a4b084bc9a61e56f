"""Several workers on PostgreSQL reach exactly n_trials (needs the server of scripts/test.sh)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from mgsearch.errors import StorageError
from mgsearch.search import open_storage

pytestmark = pytest.mark.postgres
REPO = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MGSEARCH_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "mgsearch", *args, "--no-progress"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_workers_stop_at_exactly_n_trials(write_study, postgres_db_url):
    path = write_study(study='n_trials = 8\nsampler = "random"\npruner = "none"', budget="max_params = 100000")
    first = _run("search", str(path), "--storage", postgres_db_url)
    storage = open_storage(postgres_db_url)
    deadline = time.monotonic() + 120
    while "s" not in optuna.get_all_study_names(storage):
        assert first.poll() is None, first.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    second = _run("worker", str(path), "--storage", postgres_db_url)
    for proc in (first, second):
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert postgres_db_url.split("@")[0].split(":")[-1] not in err  # no password on stderr
    trials = optuna.load_study(study_name="s", storage=postgres_db_url).get_trials()
    finished = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 8
    assert all(t.user_attrs.get("error", "").startswith("surplus") for t in trials if t.state == TrialState.FAIL)


def test_wrong_password_is_one_line_without_it(postgres_db_url):
    from sqlalchemy.engine import make_url

    url = make_url(postgres_db_url).set(password="definitely-wrong-pw").render_as_string(hide_password=False)
    with pytest.raises(StorageError) as info:
        open_storage(url)
    assert "definitely-wrong-pw" not in str(info.value) and "\n" not in str(info.value)
