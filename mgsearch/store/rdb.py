"""Opening study storage (Optuna's RDB storage over SQLAlchemy) in one of three modes.

* ``create`` (``search``, ``baseline``): the database and Optuna's tables are made when missing.
* ``existing`` (``worker``): the database must already hold Optuna's tables; nothing is created.
* ``read`` (``report``, ``export``): as ``existing``, and SQLite files are opened read-only
  (``mode=ro``; on a read-only mount ``immutable=1`` when no write-ahead log is pending).

SQLite connections are opened through ``sqlite3`` URIs that never create a file (``mode=rw`` once
the database exists), so a database deleted while a search runs is not silently re-created; the
file's identity is watched (:class:`DatabaseWatch`). Every failure is a one-line
:class:`~mgsearch.errors.StorageError` without credentials.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal
from urllib.parse import quote

from mgsearch.errors import MgsearchError, StorageError
from mgsearch.store.urls import check_url, is_sqlite, redact_url, scrub, sqlite_path

if TYPE_CHECKING:
    import optuna

__all__ = [
    "open_storage", "load_existing_study", "database_error", "DatabaseWatch", "stale_trial_callback",
    "explain_failed_trials", "set_finished_trial_attrs", "find_damage", "damaged_study_error", "SQLITE_TIMEOUT_S",
    "OPTUNA_TABLES", "Mode",
]

Mode = Literal["create", "existing", "read"]
#: seconds a SQLite connection waits for a lock held by another connection
SQLITE_TIMEOUT_S = 60
#: tables every Optuna RDB database has (checked before a reading command hands a database to Optuna)
OPTUNA_TABLES = ("studies", "trials", "version_info")
#: the ``error`` of a trial failed because its worker stopped sending heartbeats
STALE_ERROR = "its worker stopped sending heartbeats (killed, or its machine was lost); failed and queued again"
#: the ``error`` given, on resume, to a failed trial that carries no status
UNEXPLAINED_ERROR = "failed without a recorded reason (its worker was killed or lost)"


def open_storage(
    url: str, *, mode: Mode = "create", heartbeat_interval: int | None = 30, grace_period: int | None = 120,
    max_retry: int = 2,
) -> "optuna.storages.RDBStorage":
    """An :class:`optuna.storages.RDBStorage` for ``url`` opened in ``mode`` (see the module docstring).

    With ``heartbeat_interval`` a trial whose worker stops sending heartbeats for ``grace_period``
    seconds is failed by the next worker (``status = "failed"``, ``error``) and re-queued up to
    ``max_retry`` times. Unparseable or in-memory URLs, unreachable databases, databases without
    Optuna's tables (modes ``existing``/``read``) and missing drivers raise :class:`StorageError`.
    """
    import optuna

    check_url(url)
    shown = redact_url(url)
    path = sqlite_path(url)
    engine_kwargs: dict[str, Any] = {}
    try:
        if path is not None:
            engine_kwargs["creator"] = _sqlite_creator(path, mode, shown)
        else:
            engine_kwargs["pool_pre_ping"] = True
            if url.startswith("postgresql"):
                engine_kwargs["connect_args"] = {"connect_timeout": 10}
            if mode != "create":
                _check_tables(url, engine_kwargs, shown)
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # heartbeat_interval is "experimental" since Optuna 2.8
                    return optuna.storages.RDBStorage(
                        url,
                        engine_kwargs=engine_kwargs,
                        heartbeat_interval=heartbeat_interval,
                        grace_period=grace_period,
                        heartbeat_stale_trial_callback=stale_trial_callback(max_retry) if heartbeat_interval else None,
                        skip_table_creation=mode != "create",
                    )
            except Exception as exc:
                # processes started together on a new database race to create Optuna's tables:
                # the loser finds them made by the winner on the next attempt
                if attempt == 4 or mode != "create" or not _creation_race(exc):
                    raise
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover
    except MgsearchError:
        raise
    except Exception as exc:
        raise database_error(exc, url, "cannot open the database") from None


def database_error(exc: BaseException, url: str, doing: str = "database error") -> StorageError:
    """The one-line :class:`StorageError` for a driver / SQLAlchemy / Optuna failure (no credentials)."""
    import sqlalchemy.exc

    shown = redact_url(url)
    if isinstance(exc, ImportError):
        return StorageError(
            f"storage {shown}: the database driver is not installed ({scrub(exc, url)}); "
            "for PostgreSQL: pip install 'mgsearch[postgres]'"
        )
    if isinstance(exc, sqlalchemy.exc.ArgumentError):
        return StorageError(f"storage {shown}: not a valid database URL ({scrub(exc, url)})")
    orig = getattr(exc, "orig", None) or exc
    detail = scrub(orig, url)
    if "database is locked" in detail:
        return StorageError(
            f"storage {shown}: the SQLite file stayed locked by another process for more than {SQLITE_TIMEOUT_S} s; "
            "SQLite serialises writers: for several workers use PostgreSQL "
            "(--storage postgresql+psycopg://USER:PASSWORD@HOST/DB, see docs/deploy.md)"
        )
    if "readonly database" in detail or "read-only" in detail:
        detail += " (the file or its folder is read-only: only report and export can read it there)"
    return StorageError(f"storage {shown}: {doing}: {detail}")


# --------------------------------------------------------------------------- SQLite
def _uri(path: Path, **params: str) -> str:
    return f"file:{quote(str(path))}?" + "&".join(f"{k}={v}" for k, v in params.items())


def _sqlite_creator(path: Path, mode: Mode, shown: str) -> Callable[[], sqlite3.Connection]:
    """The connection factory for ``path``: checks the file for ``existing``/``read``; creates it for ``create``."""
    if mode == "create":
        if not path.exists():
            try:
                sqlite3.connect(_uri(path, mode="rwc"), uri=True).close()
            except sqlite3.Error as exc:
                raise StorageError(f"storage {shown}: cannot create the database {path}: {exc}") from None
        uri, fast = _uri(path, mode="rw"), True
    else:
        uri = _check_sqlite_file(path, read_only=mode == "read")
        fast = mode == "existing"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S, check_same_thread=False)
        if fast:
            _fast_pragmas(conn)
        return conn

    return connect


def _fast_pragmas(conn: sqlite3.Connection) -> None:
    """WAL journal (readers such as `mgsearch report` do not block the search) and ``synchronous=NORMAL``.

    Optuna commits every attribute separately; with the default rollback journal and full fsync an
    infeasible trial costs ~25 fsyncs. WAL + NORMAL stays durable against process crashes (a power
    loss may lose the last commits, never corrupt the file).
    """
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")


def _check_sqlite_file(path: Path, *, read_only: bool) -> str:
    """The URI to open an existing study database at ``path`` with; StorageError when it is not one."""
    if not path.exists():
        raise StorageError(f"{path}: no study database here; run `mgsearch search` on the study file first")
    if not path.is_file():
        raise StorageError(f"{path}: not a study database (not a regular file)")
    uri = _uri(path, mode="ro")
    try:
        tables = _sqlite_tables(uri)
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "malformed" in str(exc):
            raise StorageError(f"{path}: not an SQLite database ({exc})") from None
        if not read_only:
            raise StorageError(f"{path}: cannot open the database: {exc}") from None
        # a read-only folder or mount: WAL readers need a -shm file nobody can create there
        wal = Path(f"{path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StorageError(
                f"{path}: cannot read it here ({exc}): its write-ahead log {wal.name} holds commits that "
                "only a writable folder lets SQLite read; copy the .db and its -wal file to a writable folder"
            ) from None
        uri = _uri(path, mode="ro", immutable="1")
        try:
            tables = _sqlite_tables(uri)
        except sqlite3.DatabaseError as exc2:
            raise StorageError(f"{path}: cannot open the database read-only: {exc2}") from None
    missing = [t for t in OPTUNA_TABLES if t not in tables]
    if missing:
        have = ", ".join(sorted(tables)[:10]) or "no tables"
        raise StorageError(
            f"{path}: no Optuna study tables here (it holds {have}); not a study database: "
            "name the study's database, or run `mgsearch search` to create one"
        )
    return uri if read_only else _uri(path, mode="rw")


def _sqlite_tables(uri: str) -> set[str]:
    conn = sqlite3.connect(uri, uri=True, timeout=SQLITE_TIMEOUT_S)
    try:
        return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


def _check_tables(url: str, engine_kwargs: dict[str, Any], shown: str) -> None:
    """StorageError when the (non-SQLite) database at ``url`` lacks Optuna's tables; creates nothing."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, **engine_kwargs)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    if any(t not in tables for t in OPTUNA_TABLES):
        have = ", ".join(sorted(tables)[:10]) or "no tables"
        raise StorageError(
            f"storage {shown}: no Optuna study tables here (it holds {have}); run `mgsearch search` first "
            "to create the study there"
        )


def _creation_race(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) says another process created Optuna's schema at the same time."""
    import sqlalchemy.exc

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlalchemy.exc.IntegrityError) or "already exists" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class DatabaseWatch:
    """Notices that the SQLite file behind a URL was deleted or replaced while this process uses it.

    A process keeps writing into a deleted file's inode and would report success while nothing
    exists on disk; :meth:`check` compares ``(st_dev, st_ino)`` with those recorded when opened.
    The watch keeps a read-only connection to the file it opened, so that when the file goes away
    the study can still be copied out of the old inode (``VACUUM INTO``) to a ``.recovered-*.db``
    file beside it. For other databases it does nothing.
    """

    def __init__(self, url: str, storage: Any = None) -> None:
        self.url = url
        self.storage = storage  # the storage opened on ``url``, for callers that need both
        self.path = sqlite_path(url) if is_sqlite(url) else None
        self.identity = self._identity()
        self._keeper = self._keep_open()
        self._recovered: Path | None = None

    def _identity(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return (-1, -1)
        return (st.st_dev, st.st_ino)

    def _keep_open(self) -> sqlite3.Connection | None:
        """A read-only connection that holds the opened file (and its write-ahead log) open."""
        if self.path is None or self.identity == (-1, -1):
            return None
        try:
            conn = sqlite3.connect(f"file:{quote(str(self.path.resolve()))}?mode=ro", uri=True,
                                   timeout=SQLITE_TIMEOUT_S, check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the WAL too
            return conn
        except sqlite3.Error:
            return None

    def changed(self) -> bool:
        """True when the path no longer is the file that was opened."""
        return self.path is not None and self._identity() != self.identity

    def recover(self) -> Path | None:
        """Copy the study out of the file that was opened (now unlinked or replaced) to a new
        ``<name>.recovered-<time>.db`` beside the path, once; the copy's path, or None when it failed."""
        if self._recovered is not None or self._keeper is None or self.path is None:
            return self._recovered
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.recovered-{stamp}.db")
        n = 1
        while target.exists() or target.is_symlink():  # never write over anything
            n += 1
            target = self.path.with_name(f"{self.path.name}.recovered-{stamp}-{n}.db")
        try:
            self._keeper.execute("VACUUM INTO ?", (str(target),))
        except sqlite3.Error:
            if target.exists():
                target.unlink()  # a partial copy of ours (the name was free before)
            return None
        self._recovered = target
        return target

    def check(self) -> None:
        """:class:`StorageError` when :meth:`changed` (after copying the study out, where it can)."""
        if not self.changed():
            return
        saved = self.recover()
        if saved is not None:
            fate = (f"the study, with every trial finished so far, was copied to {saved}: move it back to "
                    f"{self.path.name} and run again to resume")
        else:
            fate = ("the trials written since then are in the old, unlinked file and are lost (restore the "
                    "file from a backup, or run again to start a new study)")
        raise StorageError(
            f"storage {redact_url(self.url)}: the database file {self.path} was deleted or replaced while "
            f"this run used it; stopping: {fate}"
        )

    def close(self) -> None:
        """Release the read-only connection."""
        if self._keeper is not None:
            self._keeper.close()
            self._keeper = None


# --------------------------------------------------------------------------- failed trials
def stale_trial_callback(max_retry: int) -> Callable[["optuna.Study", Any], None]:
    """Optuna's heartbeat-stale callback: queue a retry (up to ``max_retry``), then record on the failed
    trial ``status = "failed"`` and ``error`` (the retry copies the attributes before they are set)."""
    import optuna

    retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)

    def callback(study: "optuna.Study", trial: Any) -> None:
        retry(study, without_run_state(trial))
        set_finished_trial_attrs(study._storage, trial._trial_id, {"status": "failed", "error": STALE_ERROR})

    return callback


#: system attrs that describe one run, not the trial's parameters: Optuna's constraint values and
#: successive halving's rung values (``completed_rung_<n>``)
RUN_STATE_PREFIXES = ("constraints:", "completed_rung_")


def without_run_state(trial: Any) -> Any:
    """A copy of the frozen ``trial`` without the system attrs of its run: the constraint values
    (``constraints:<name>``, and the older ``constraints`` list) and successive halving's rung values
    (``completed_rung_<n>``). Optuna's retry callback copies every system attr into the queued retry:
    ``trial.set_constraint`` keeps the first value of a key (warning "already set"), so a retry would
    carry the failed run's constraints instead of its own, and inherited rung values would make the
    retry start at a later rung and escape pruning at its first epochs."""
    import copy

    clean = copy.copy(trial)
    clean.system_attrs = {k: v for k, v in trial.system_attrs.items()
                          if k != "constraints" and not k.startswith(RUN_STATE_PREFIXES)}
    return clean


def explain_failed_trials(study: "optuna.Study") -> int:
    """Give every FAIL trial without a ``status`` (failed by an older version, or by Optuna itself)
    ``status = "failed"`` and an ``error``; returns how many were changed."""
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if "status" not in t.user_attrs:
            set_finished_trial_attrs(study._storage, t._trial_id, {"status": "failed", "error": UNEXPLAINED_ERROR})
            n += 1
    return n


def set_finished_trial_attrs(storage: Any, trial_id: int, attrs: dict[str, Any]) -> None:
    """Add user attributes (those not set yet) to a finished trial, which Optuna's API refuses."""
    import sqlalchemy as sa

    engine = _engine(storage)
    if engine is None:  # not an RDB storage (tests' in-memory storage): nothing to add to
        return
    table = sa.table("trial_user_attributes", sa.column("trial_id"), sa.column("key"), sa.column("value_json"))
    with engine.begin() as conn:
        have = {k for (k,) in conn.execute(sa.select(table.c.key).where(table.c.trial_id == trial_id))}
        rows = [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)} for k, v in attrs.items() if k not in have]
        if rows:
            conn.execute(sa.insert(table), rows)


# --------------------------------------------------------------------------- studies
def load_existing_study(storage: "optuna.storages.BaseStorage", name: str, shown_url: str) -> "optuna.Study":
    """Load the study ``name``; :class:`StorageError` naming the studies that exist when it does not."""
    import optuna

    names = optuna.get_all_study_names(storage)
    if name not in names:
        have = ", ".join(sorted(names)) or "none"
        raise StorageError(
            f"storage {shown_url}: no study named {name!r} (studies there: {have}); run `mgsearch search` first"
        )
    return optuna.load_study(study_name=name, storage=storage)


def find_damage(storage: Any, study_name: str, *, full: bool = False) -> str | None:
    """What makes the stored study unreadable for Optuna, in words, or None.

    Always checked (cheap): study attributes that are not valid JSON and trial values that are NULL
    (Optuna asserts on them). With ``full``: every trial attribute too (for the error path).
    """
    import sqlalchemy as sa

    engine = _engine(storage)
    if engine is None:
        return None
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT study_id FROM studies WHERE study_name = :n"), {"n": study_name}).first()
        if row is None:
            return None
        sid = row[0]
        for key, value in conn.execute(
            sa.text("SELECT key, value_json FROM study_user_attributes WHERE study_id = :s"), {"s": sid}
        ):
            if not _valid_json(value):
                return f"study attribute {str(key)[:80]!r} is not valid JSON"
        nulls = [n for (n,) in conn.execute(sa.text(
            "SELECT t.number FROM trial_values v JOIN trials t ON t.trial_id = v.trial_id "
            "WHERE t.study_id = :s AND v.value IS NULL AND v.value_type = 'FINITE' ORDER BY t.number"), {"s": sid})]
        if nulls:
            more = f" (and {len(nulls) - 1} more)" if len(nulls) > 1 else ""
            return f"trial {nulls[0]}{more} has no value (NULL in trial_values)"
        if full:
            for table in ("trial_user_attributes", "trial_system_attributes"):
                for number, key, value in conn.execute(sa.text(
                    f"SELECT t.number, a.key, a.value_json FROM {table} a JOIN trials t ON t.trial_id = a.trial_id "
                    "WHERE t.study_id = :s ORDER BY t.number"), {"s": sid}):
                    if not _valid_json(value):
                        return f"trial {number} attribute {str(key)[:80]!r} is not valid JSON"
    return None


def _engine(storage: Any) -> Any:
    """The SQLAlchemy engine behind an (optionally cached) RDB storage; None for other storages."""
    return getattr(getattr(storage, "_backend", storage), "engine", None)


def _valid_json(text: Any) -> bool:
    try:
        json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def damaged_study_error(shown_url: str, study_name: str, what: str) -> StorageError:
    """The one-line error for a study Optuna cannot read (``what`` from :func:`find_damage`)."""
    return StorageError(
        f"storage {shown_url}: study {study_name!r} is damaged: {what}; the database was edited or corrupted: "
        "restore it from a backup or repair that row (`mgsearch report` still reads the rest)"
    )
