"""Never lose a study at the storage level (issue 16, defects 3, 4, 5, 9, 10, 11 and parts of 12).

Each test is a regression test of one observed defect: a database deleted under a running search,
credentials in a URL's query string, reading commands that created or migrated databases, damaged
study attributes, in-memory storage, a read-only mount, a killed trial without ``status``, two
processes drawing the same seeds, ``--sizes ""`` and a comment-only edit of the space file.
Most run the CLI in-process (``mgsearch.cli.main``) with a fake trainer, so they take a second.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import optuna
import pytest
from optuna.trial import TrialState

from mgsearch.cli import main
from tests.reliability.conftest import cli_env
from tests.search.conftest import fake_result

SECRET = "s3cret-Tail-not-real"
#: an unreachable server (port 9: discard) with the password in the query string
QUERY_URL = f"postgresql+psycopg://mgsearch@127.0.0.1:9/mgsearch?password={SECRET}"


def _fake_train(spec: Any, ds: Any, *, fidelity: Any, on_epoch: Any = None, **kwargs: Any) -> Any:
    return fake_result(0.5, fidelity.epochs)


@pytest.fixture
def fake_train(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[Callable[..., Any]], None]:
    """Training replaced by a constant result; call it with another function to replace that instead."""
    module = importlib.import_module("mgsearch.train")
    monkeypatch.setattr(module, "train", _fake_train)
    monkeypatch.setenv("MGSEARCH_CACHE_DIR", str(tmp_path / "cache"))
    return lambda fn: monkeypatch.setattr(module, "train", fn)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``mgsearch ARGV`` in-process: ``(exit code, stdout, stderr)``."""
    capsys.readouterr()
    quiet = ["--no-progress"] if argv[0] in ("search", "worker", "baseline") else []
    try:
        code = main([*argv, *quiet])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> str:
    lines = err.strip().splitlines()
    assert code not in (0, None), err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("mgsearch: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


def dump(db: Path) -> str:
    """The database as SQL text, read without writing (a WAL checkpoint is not a change)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return "\n".join(conn.iterdump())


def sql(db: Path, statement: str, *params: Any) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(statement, params)


@pytest.fixture
def searched(reliability_study: Callable[..., Path], fake_train: Any, capsys: pytest.CaptureFixture[str]) -> Path:
    """A finished 2-trial study (``rel.toml``, ``rel.db``)."""
    path = reliability_study(n_trials=2)
    code, _, err = cli(capsys, "search", str(path))
    assert code == 0, err
    return path


# --------------------------------------------------------------------------- 3: the database vanishes
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_database_deleted_or_replaced_during_search_stops_with_one_line(
    how: str, reliability_study: Callable[..., Path], fake_train: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = reliability_study(n_trials=6)
    db = path.with_suffix(".db")

    def train_then_remove_db(spec: Any, ds: Any, *, fidelity: Any, **kwargs: Any) -> Any:
        if db.exists() and not (db.parent / "gone").exists():
            (db.parent / "gone").touch()
            for f in db.parent.glob(db.name + "*"):
                f.unlink()
            if how == "replaced":
                sql(db, "CREATE TABLE other (x)")
        return fake_result(0.5, fidelity.epochs)

    fake_train(train_then_remove_db)
    code, out, err = cli(capsys, "search", str(path))
    assert_one_line_error(code, err, str(db), "deleted or replaced", "was copied to")
    assert "finished trials" not in out
    if how == "replaced":  # the file now at the path is not written to
        assert dump(db) == "BEGIN TRANSACTION;\nCREATE TABLE other (x);\nCOMMIT;"
    # the study was copied out of the unlinked file: every trial that had finished, and it resumes
    (saved,) = db.parent.glob(db.name + ".recovered-*.db")
    assert str(saved) in err
    recovered = optuna.load_study(study_name="rel", storage=f"sqlite:///{saved}")
    assert recovered.user_attrs.get("config") and recovered.trials
    for f in db.parent.glob(db.name + "*"):
        if f != saved:
            f.unlink()
    saved.rename(db)
    fake_train(lambda spec, ds, *, fidelity, **kw: fake_result(0.5, fidelity.epochs))
    code, out, err = cli(capsys, "search", str(path))
    assert code == 0, err


# --------------------------------------------------------------------------- 4: credentials in URLs
REDACT_CASES = [
    f"postgresql+psycopg://mgsearch:{SECRET}@db.example:5432/mgsearch",
    f"postgresql+psycopg://mgsearch@db.example:5432/mgsearch?password={SECRET}",
    f"postgresql+psycopg://mgsearch@db.example/mgsearch?application_name=x&sslpassword={SECRET}",
    f"postgresql+psycopg://mgsearch@db.example/mgsearch?PWD={SECRET}&token={SECRET}2&api_key={SECRET}3",
    f"postgresql+psycopg://mgsearch:p@ss-{SECRET}@db.example/mgsearch",  # a raw '@' in the password
    f"postgresql+psycopg://mgsearch:{SECRET}@db.example:notaport/mgsearch",  # cannot be parsed
    f"mysql://u:{SECRET}@[::1",
]


@pytest.mark.parametrize("module", ["mgsearch.store", "mgsearch.study", "mgsearch.report.analysis"])
@pytest.mark.parametrize("url", REDACT_CASES)
def test_redact_url_hides_every_credential(module: str, url: str) -> None:
    redact_url = importlib.import_module(module).redact_url
    shown = redact_url(url)
    assert SECRET not in shown and "Tail" not in shown, shown
    assert "\n" not in shown


def test_redact_url_keeps_what_is_not_secret() -> None:
    from mgsearch.store import redact_url

    assert redact_url("sqlite:////tmp/my study.db") == "sqlite:////tmp/my study.db"
    shown = redact_url(f"postgresql+psycopg://me@db.example:5432/s?application_name=mg&password={SECRET}")
    assert shown == "postgresql+psycopg://me@db.example:5432/s?application_name=mg&password=***"
    assert redact_url(f"postgresql+psycopg://me:{SECRET}@h/s") == "postgresql+psycopg://me:***@h/s"
    assert "cannot be parsed" in redact_url("postgresql+psycopg://u:x@h:notaport/d")


@pytest.mark.parametrize("command", ["search", "worker", "baseline"])
@pytest.mark.parametrize("url", [QUERY_URL, f"postgresql+psycopg://mgsearch:p@ss-{SECRET}@127.0.0.1:9/mgsearch"])
def test_storage_errors_never_show_a_password(command: str, url: str, reliability_study: Callable[..., Path],
                                              fake_train: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = reliability_study()
    code, out, err = cli(capsys, command, str(path), "--storage", url)
    line = assert_one_line_error(code, err)
    assert SECRET not in out + err and "Tail" not in out + err, line


def test_the_stored_config_never_holds_a_query_string_password(reliability_study: Callable[..., Path]) -> None:
    from mgsearch.study import load_study_config

    config = load_study_config(reliability_study(), {"storage": QUERY_URL})
    assert SECRET not in json.dumps(config.to_dict()) and SECRET not in config.storage_display
    assert config.storage == QUERY_URL  # the real URL is kept for connecting


@pytest.mark.postgres
def test_query_string_password_appears_nowhere_postgres(
    reliability_study: Callable[..., Path], postgres_url: str, fake_train: Any, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from sqlalchemy.engine import URL, make_url

    from tests.fixtures.postgres import create_database, drop_database

    db_url = create_database(postgres_url, "mgs_safety")
    try:
        u = make_url(db_url)
        password = u.password
        url = URL.create(u.drivername, u.username, None, u.host, u.port, u.database,
                         {"password": password}).render_as_string(hide_password=False)
        assert password in url and f":{password}@" not in url
        path = reliability_study(n_trials=2)
        outputs = []
        for argv in (["search", str(path), "--storage", url],
                     ["worker", str(path), "--storage", url],
                     ["baseline", str(path), "--storage", url, "--sizes", "1"],
                     ["report", str(path), "--storage", url, "--out", str(tmp_path / "r.html")]):
            code, out, err = cli(capsys, *argv)
            assert code == 0, err
            outputs.append(out + err)
        assert all(password not in text for text in outputs), outputs
        assert password not in (tmp_path / "r.html").read_text()
        for name in ("rel", "rel.baselines"):
            attrs = optuna.load_study(study_name=name, storage=db_url).user_attrs
            assert password not in json.dumps(attrs) and "***" in attrs["config"]["study"]["storage"]
    finally:
        drop_database(postgres_url, db_url)


# --------------------------------------------------------------------------- 5: reading never creates
def test_report_and_export_do_not_touch_an_unrelated_sqlite_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.db"
    sql(other, "CREATE TABLE notes (x)")
    before = dump(other)
    for argv in (["report", str(other), "--out", str(tmp_path / "r.html")],
                 ["export", str(other), "--best", "--out", str(tmp_path / "x")]):
        code, _, err = cli(capsys, *argv)
        assert_one_line_error(code, err, str(other), "no Optuna study tables")
        assert dump(other) == before
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "x").exists()


def test_report_on_a_file_that_is_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.db"
    text.write_text("just some notes\n" * 10)
    code, _, err = cli(capsys, "report", str(text), "--out", str(tmp_path / "r.html"))
    assert_one_line_error(code, err, str(text), "not an SQLite database")
    assert text.read_text() == "just some notes\n" * 10


def test_worker_with_a_mistyped_sqlite_path_creates_nothing(
    reliability_study: Callable[..., Path], fake_train: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = reliability_study()
    typo = tmp_path / "typo.db"
    code, _, err = cli(capsys, "worker", str(path), "--storage", f"sqlite:///{typo}")
    assert_one_line_error(code, err, str(typo), "mgsearch search")
    assert not typo.exists() and not list(tmp_path.glob("typo.db*"))


def test_worker_does_not_create_a_study_in_an_existing_database(
    searched: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = searched.with_suffix(".db")
    before = dump(db)
    code, _, err = cli(capsys, "worker", str(searched), "--name", "other")
    assert_one_line_error(code, err, "no study named 'other'")
    assert dump(db) == before


@pytest.mark.postgres
def test_reading_commands_never_create_tables_in_postgres(
    reliability_study: Callable[..., Path], postgres_url: str, fake_train: Any, capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    import sqlalchemy as sa

    from tests.fixtures.postgres import create_database, drop_database

    db_url = create_database(postgres_url, "mgs_empty")
    try:
        path = reliability_study()
        for argv in (["worker", str(path), "--storage", db_url],
                     ["report", str(path), "--storage", db_url, "--out", str(tmp_path / "r.html")],
                     ["export", str(path), "--storage", db_url, "--best", "--out", str(tmp_path / "x")]):
            code, out, err = cli(capsys, *argv)
            assert_one_line_error(code, err, "no Optuna study tables")
        engine = sa.create_engine(db_url)
        try:
            assert sa.inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
    finally:
        drop_database(postgres_url, db_url)


# --------------------------------------------------------------------------- 9: damaged studies
def test_search_on_a_config_attribute_that_is_not_json(searched: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = searched.with_suffix(".db")
    sql(db, "UPDATE study_user_attributes SET value_json = '{not json' WHERE key = 'config'")
    code, _, err = cli(capsys, "search", str(searched), "--n-trials", "3")
    assert_one_line_error(code, err, "config", "not valid JSON")


def test_search_on_a_null_trial_value(searched: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = searched.with_suffix(".db")
    sql(db, "UPDATE trial_values SET value = NULL WHERE trial_id = (SELECT MIN(trial_id) FROM trials)")
    code, _, err = cli(capsys, "search", str(searched), "--n-trials", "3")
    assert_one_line_error(code, err, "trial 0", "no value")


ATTRS = ("objectives", "fidelity", "space", "budget", "dataset", "strategy")


def test_resume_repairs_attributes_a_full_disk_left_out(searched: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = searched.with_suffix(".db")
    sql(db, "DELETE FROM study_user_attributes WHERE key IN ('objectives', 'fidelity', 'space')")
    code, _, err = cli(capsys, "search", str(searched), "--n-trials", "3")
    assert code == 0, err
    attrs = optuna.load_study(study_name="rel", storage=f"sqlite:///{db}").user_attrs
    assert all(k in attrs for k in ATTRS), sorted(attrs)
    assert attrs["objectives"] == ["val_acc"] and attrs["fidelity"]["epochs"] == 1


def test_a_study_created_without_any_attribute_is_completed(
    reliability_study: Callable[..., Path], fake_train: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = reliability_study(n_trials=1)
    url = f"sqlite:///{path.with_suffix('.db')}"
    optuna.create_study(study_name="rel", storage=url)  # the disk filled right after create_study
    code, _, err = cli(capsys, "search", str(path))
    assert code == 0, err
    attrs = optuna.load_study(study_name="rel", storage=url).user_attrs
    assert all(k in attrs for k in ("config", *ATTRS)), sorted(attrs)


# --------------------------------------------------------------------------- 10: in-memory storage
@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
@pytest.mark.parametrize("command", ["search", "worker", "baseline", "report"])
def test_in_memory_storage_is_refused(command: str, url: str, reliability_study: Callable[..., Path],
                                      fake_train: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = reliability_study()
    extra = ["--out", str(tmp_path / "r.html")] if command == "report" else []
    code, out, err = cli(capsys, command, str(path), "--storage", url, *extra)
    assert_one_line_error(code, err, "in-memory")
    assert not list(tmp_path.glob("*.db"))


# --------------------------------------------------------------------------- 11: read-only mounts
def _unshare_available() -> bool:
    if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _unshare_available(), reason="needs root and unshare -m for a read-only bind mount")
def test_report_and_export_from_a_read_only_mount(searched: Path, tmp_path: Path) -> None:
    db = searched.with_suffix(".db")
    src = db.parent
    ro = tmp_path.parent / f"{tmp_path.name}-ro"
    ro.mkdir()
    out = tmp_path.parent / f"{tmp_path.name}-out"
    out.mkdir()
    with sqlite3.connect(db) as conn:  # a study copied to a read-only medium: no -wal / -shm beside it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for f in src.glob("rel.db-*"):
        f.unlink()
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    script = (
        f"mount --bind -o ro {src} {ro} && "
        f"{sys.executable} -m mgsearch report {ro / 'rel.db'} --out {out / 'r.html'} && "
        f"{sys.executable} -m mgsearch export {ro / 'rel.db'} --best --out {out / 'x'}"
    )
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], env=cli_env(tmp_path), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "r.html").exists() and (out / "x").is_dir()
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


# --------------------------------------------------------------------------- 12: smaller ones
@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_trial_failed_by_heartbeat_carries_status_and_error(searched: Path) -> None:
    from mgsearch.search import open_storage

    url = f"sqlite:///{searched.with_suffix('.db')}"
    storage = open_storage(url, heartbeat_interval=1, grace_period=1)
    study = optuna.load_study(study_name="rel", storage=storage)
    dead = study.ask()  # a worker that started a trial, sent one heartbeat and was SIGKILLed
    storage.record_heartbeat(dead._trial_id)
    time.sleep(2.5)  # SQLite's CURRENT_TIMESTAMP has whole seconds: 1.5 s can read as 1 s, not > grace 1 s
    optuna.storages.fail_stale_trials(study)
    trials = optuna.load_study(study_name="rel", storage=url).get_trials()
    killed = trials[dead.number]
    assert killed.state == TrialState.FAIL
    assert killed.user_attrs.get("status") == "failed" and "heartbeat" in killed.user_attrs.get("error", "")
    retry = trials[-1]
    assert retry.state == TrialState.WAITING and "status" not in retry.user_attrs  # the retry is still to run


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")
def test_a_retry_inherits_no_rung_values_of_the_failed_run(searched: Path) -> None:
    """Successive halving stores a trial's rung values as system attrs (``completed_rung_N``); a retry
    that inherited them would start at a later rung and escape pruning at its first epochs."""
    from mgsearch.search import open_storage

    url = f"sqlite:///{searched.with_suffix('.db')}"
    storage = open_storage(url, heartbeat_interval=1, grace_period=1)
    study = optuna.load_study(study_name="rel", storage=storage)
    dead = study.ask()
    storage.set_trial_system_attr(dead._trial_id, "completed_rung_0", 0.5)
    storage.set_trial_system_attr(dead._trial_id, "constraints:params", -1.0)
    storage.set_trial_system_attr(dead._trial_id, "fixed_params", {})
    storage.record_heartbeat(dead._trial_id)
    time.sleep(2.5)
    optuna.storages.fail_stale_trials(study)
    retry = optuna.load_study(study_name="rel", storage=url).get_trials()[-1]
    assert retry.state == TrialState.WAITING
    assert not any(k.startswith(("completed_rung_", "constraints")) for k in retry.system_attrs), retry.system_attrs
    assert retry.system_attrs.get("failed_trial") == dead.number  # Optuna's own link is kept


def test_resume_gives_old_failed_trials_a_status(searched: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{searched.with_suffix('.db')}"
    study = optuna.load_study(study_name="rel", storage=url)
    trial = study.ask()  # failed by an older version's heartbeat check: no status
    study.tell(trial, state=TrialState.FAIL)
    code, _, err = cli(capsys, "search", str(searched), "--n-trials", "3")
    assert code == 0, err
    failed = optuna.load_study(study_name="rel", storage=url).get_trials()[trial.number]
    assert failed.user_attrs.get("status") == "failed" and failed.user_attrs.get("error")


def test_two_processes_started_together_draw_different_trials(reliability_study: Callable[..., Path]) -> None:
    from mgsearch.search.runner import open_study
    from mgsearch.study import load_study_config

    def draws(url: str, handles: int) -> list[dict[str, Any]]:
        config = load_study_config(reliability_study(), {"storage": url})
        # two `search` processes started together on a new study both seed their sampler with the study's seed
        studies = [open_study(optuna.storages.RDBStorage(url), config, None, create=True, seed=config.seed)
                   for _ in range(handles)]
        out = []
        for i in range(4):
            trial = studies[i % handles].ask()
            out.append({"w": trial.suggest_int("w", 4, 64, step=4), "d": trial.suggest_int("d", 1, 8)})
        return out

    tmp = Path(reliability_study()).parent
    together = draws(f"sqlite:///{tmp / 'two.db'}", handles=2)
    assert together[0] != together[1], together  # the second process does not repeat the first one's draw
    assert draws(f"sqlite:///{tmp / 'a.db'}", 1) == draws(f"sqlite:///{tmp / 'b.db'}", 1)  # reproducible


def test_empty_baseline_sizes_is_an_error(reliability_study: Callable[..., Path], fake_train: Any,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = reliability_study()
    code, _, err = cli(capsys, "baseline", str(path), "--sizes", "")
    assert_one_line_error(code, err, "--sizes")
    assert not path.with_suffix(".db").exists()


def test_a_comment_only_edit_of_the_space_file_does_not_block_resume(
    searched: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = searched.parent / "space.toml"
    space.write_text("# tuned later\n" + space.read_text().replace("\n\n", "\n\n   \n") + "\n# end\n")
    code, _, err = cli(capsys, "search", str(searched), "--n-trials", "3")
    assert code == 0, err


def test_a_real_space_edit_is_named_in_words(searched: Path, capsys: pytest.CaptureFixture[str]) -> None:
    space = searched.parent / "space.toml"
    space.write_text(space.read_text().replace("width = { min = 8, max = 16, step = 8 }",
                                               "width = { min = 8, max = 24, step = 8 }"))
    code, _, err = cli(capsys, "search", str(searched), "--n-trials", "3")
    line = assert_one_line_error(code, err, "stages[1].width.max", "16", "24")
    assert not re.search(r"[0-9a-f]{64}", line), line


def test_a_database_with_the_old_raw_space_hash_still_resumes(searched: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    db = searched.with_suffix(".db")
    raw = hashlib.sha256((searched.parent / "space.toml").read_bytes()).hexdigest()
    with sqlite3.connect(db) as conn:
        (value,) = conn.execute("SELECT value_json FROM study_user_attributes WHERE key = 'config'").fetchone()
        config = json.loads(value)
        config["study"]["space_sha256"] = raw  # what versions before the parsed hash stored
        conn.execute("UPDATE study_user_attributes SET value_json = ? WHERE key = 'config'", (json.dumps(config),))
        conn.execute("DELETE FROM study_user_attributes WHERE key = 'space_toml'")
    code, _, err = cli(capsys, "search", str(searched), "--n-trials", "3")
    assert code == 0, err
    space = searched.parent / "space.toml"
    space.write_text(space.read_text().replace("max = 16", "max = 24"))
    code, _, err = cli(capsys, "search", str(searched), "--n-trials", "4")
    assert_one_line_error(code, err, "space", "changed")
