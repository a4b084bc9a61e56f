"""Helpers for the reliability tests: study files on the tiny image folder, CLI processes, polling."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.search.conftest import MICRO_SPACE

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def reliability_study(tmp_path: Path, tiny_image_folder: Callable[..., Path]) -> Callable[..., Path]:
    """``reliability_study(n_trials=4, epochs=1, storage=None, name="rel", ...) -> study file``.

    The micro ResNet space on the tiny image folder, random sampler, no pruner, heartbeat every
    second with a 3 s grace period (so a dead worker's trial goes stale quickly), one CPU thread.
    """
    root = tiny_image_folder()

    def write(*, n_trials: int = 4, epochs: int = 1, batch_size: int = 16, storage: str | None = None,
              name: str = "rel", extra_study: str = "") -> Path:
        (tmp_path / "space.toml").write_text(MICRO_SPACE)
        storage_line = f'storage = "{storage}"\n' if storage else ""
        path = tmp_path / f"{name}.toml"
        path.write_text(
            f'[study]\nspace = "space.toml"\nn_trials = {n_trials}\nsampler = "random"\npruner = "none"\n'
            f"heartbeat_interval = 1\ngrace_period = 3\n{storage_line}{extra_study}\n"
            f'[data]\ndataset = "imagefolder"\nroot = "{root}"\nval_fraction = 0.25\n'
            f"[fidelity]\nepochs = {epochs}\nbatch_size = {batch_size}\n"
            f"[budget]\nmax_params = 100000\n"
            f'[device]\nname = "cpu"\nthreads = 1\n'
        )
        return path

    return write


def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment of a CLI subprocess: this checkout importable, one thread, a private cache."""
    return {**os.environ, "PYTHONPATH": str(REPO), "MGSEARCH_THREADS": "1", "OMP_NUM_THREADS": "1",
            "MGSEARCH_CACHE_DIR": str(tmp_path / "cache")}


def start_cli(tmp_path: Path, *args: str) -> subprocess.Popen:
    """Start ``python -m mgsearch ARGS`` (``--no-progress`` for the study runners; output captured as text)."""
    quiet = ["--no-progress"] if args[0] in ("search", "worker", "baseline") else []
    return subprocess.Popen([sys.executable, "-m", "mgsearch", *args, *quiet], env=cli_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate: Callable[[], Any], *, timeout: float, what: str,
             procs: tuple[subprocess.Popen, ...] = ()) -> Any:
    """Poll ``predicate`` every 0.1 s until it returns something truthy; fail after ``timeout`` seconds
    (or as soon as one of ``procs`` has exited, showing its stderr)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for p in procs:
            if p.poll() is not None:
                out, err = p.communicate()
                pytest.fail(f"process exited ({p.returncode}) while waiting for {what}: {err[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def peek_trials(storage_url: str, name: str = "rel") -> list[dict[str, Any]]:
    """``[{"number", "state", "attrs"}]`` read with plain SQL (never creates tables, unlike Optuna's
    storage, so it is safe to poll while another process creates the study); [] before that."""
    import json

    import sqlalchemy as sa

    engine = sa.create_engine(storage_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT t.trial_id, t.number, t.state FROM trials t JOIN studies s ON s.study_id = t.study_id "
                "WHERE s.study_name = :name ORDER BY t.number"), {"name": name}).all()
            attrs = conn.execute(sa.text("SELECT trial_id, key, value_json FROM trial_user_attributes")).all()
    except sa.exc.DBAPIError:
        return []  # no tables yet
    finally:
        engine.dispose()
    by_id: dict[int, dict[str, Any]] = {}
    for trial_id, key, value in attrs:
        by_id.setdefault(trial_id, {})[key] = json.loads(value)
    return [{"number": n, "state": str(state).split(".")[-1], "attrs": by_id.get(tid, {})} for tid, n, state in rows]


def training_trial(storage_url: str, name: str = "rel", *, after_complete: int = 0) -> int | None:
    """Number of a RUNNING trial that is training (spec published, no status yet), once at least
    ``after_complete`` trials are COMPLETE; else None."""
    trials = peek_trials(storage_url, name)
    if sum(t["state"] == "COMPLETE" for t in trials) < after_complete:
        return None
    for t in trials:
        if t["state"] == "RUNNING" and "spec_hash" in t["attrs"] and "status" not in t["attrs"]:
            return t["number"]
    return None


def trials_of(storage_url: str, name: str = "rel") -> list[Any]:
    """The study's trials, or [] while the study does not exist yet."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.load_study(study_name=name, storage=storage_url).get_trials(deepcopy=False)
    except KeyError:
        return []
