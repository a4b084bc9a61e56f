"""Study storage: Optuna RDB storage over SQLAlchemy with heartbeats and retries of dead workers' trials.

SQLite (the default, one process at a time) gets a generous lock timeout; PostgreSQL
(``postgresql+psycopg://``) serves many workers. Errors never show the password.
"""

from __future__ import annotations

import re
import time
import warnings
from typing import TYPE_CHECKING

from mgsearch.errors import StorageError
from mgsearch.study import StudyConfig, redact_url

if TYPE_CHECKING:
    import optuna

__all__ = ["open_storage", "load_existing_study", "SQLITE_TIMEOUT_S"]

#: seconds a SQLite connection waits for a lock held by another connection
SQLITE_TIMEOUT_S = 60


def _clean(message: str, url: str) -> str:
    """First line of a driver error, with the URL's password (if any) scrubbed."""
    line = str(message).strip().splitlines()[0] if str(message).strip() else type(message).__name__
    m = re.search(r"://[^:/@]*:([^@]*)@", url)
    if m and m.group(1):
        pattern = r"(?<![A-Za-z0-9])" + re.escape(m.group(1)) + r"(?![A-Za-z0-9])"
        line = re.sub(pattern, "***", line)
    return redact_url(line)[:300]


def open_storage(
    url: str, *, heartbeat_interval: int | None = 30, grace_period: int | None = 120, max_retry: int = 2
) -> "optuna.storages.RDBStorage":
    """An :class:`optuna.storages.RDBStorage` for ``url`` with heartbeats on.

    A trial whose worker stops sending heartbeats for ``grace_period`` seconds is failed by the next
    worker that starts a trial and re-queued (up to ``max_retry`` times) by
    :class:`optuna.storages.RetryHeartbeatStaleTrialCallback` (``heartbeat_interval=None``: no
    heartbeat, for ask/tell use such as the baselines). Unreachable databases, wrong
    credentials and missing drivers raise :class:`StorageError` (one line, no password).
    """
    import optuna
    import sqlalchemy.exc

    engine_kwargs: dict = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S}
    else:
        engine_kwargs["pool_pre_ping"] = True
        if url.startswith("postgresql"):
            engine_kwargs["connect_args"] = {"connect_timeout": 10}
    shown = redact_url(url)
    try:
        for attempt in range(5):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # heartbeat_interval is "experimental" since Optuna 2.8
                    storage = optuna.storages.RDBStorage(
                        url,
                        engine_kwargs=engine_kwargs,
                        heartbeat_interval=heartbeat_interval,
                        grace_period=grace_period,
                        heartbeat_stale_trial_callback=(
                            optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
                            if heartbeat_interval else None
                        ),
                    )
                break
            except Exception as exc:
                # processes started together on a new database race to create Optuna's tables:
                # the loser finds them made by the winner on the next attempt
                if attempt == 4 or not _creation_race(exc):
                    raise
                time.sleep(0.5 * (attempt + 1))
        if url.startswith("sqlite"):
            _fast_sqlite(storage)
        return storage
    except ImportError as exc:
        raise StorageError(
            f"storage {shown}: the database driver is not installed ({_clean(str(exc), url)}); "
            "for PostgreSQL: pip install 'mgsearch[postgres]'"
        ) from None
    except sqlalchemy.exc.ArgumentError as exc:
        raise StorageError(f"storage {shown}: not a valid database URL ({_clean(str(exc), url)})") from None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        raise StorageError(f"storage {shown}: cannot open the database: {_clean(str(orig), url)}") from None
    except RuntimeError as exc:  # Optuna's schema-version check
        raise StorageError(f"storage {shown}: {_clean(str(exc), url)}") from None


def _creation_race(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) says another process created Optuna's schema at the same time."""
    import sqlalchemy.exc

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlalchemy.exc.IntegrityError) or "already exists" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _fast_sqlite(storage: "optuna.storages.RDBStorage") -> None:
    """WAL journal (readers such as `mgsearch report` do not block the search) and ``synchronous=NORMAL``.

    Optuna commits every attribute separately; with the default rollback journal and full fsync an
    infeasible trial costs ~25 fsyncs. WAL + NORMAL stays durable against process crashes (a power
    loss may lose the last commits, never corrupt the file).
    """
    from sqlalchemy import event

    if storage.url.endswith(":memory:") or storage.url in ("sqlite://", "sqlite:///"):
        return

    @event.listens_for(storage.engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - SQLAlchemy's callback signature
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage.engine.dispose()  # connections made during set-up reconnect with the pragmas


def storage_for(config: StudyConfig) -> "optuna.storages.RDBStorage":
    """:func:`open_storage` with the study's heartbeat settings."""
    return open_storage(
        config.storage,
        heartbeat_interval=config.heartbeat_interval,
        grace_period=config.grace_period,
        max_retry=config.max_retry,
    )


def load_existing_study(storage: "optuna.storages.RDBStorage", name: str, shown_url: str) -> "optuna.Study":
    """Load the study ``name``; :class:`StorageError` naming the studies that exist when it does not."""
    import optuna

    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]
    if name not in names:
        have = ", ".join(sorted(names)) or "none"
        raise StorageError(f"storage {shown_url}: no study named {name!r} (studies there: {have}); run `mgsearch search` first")
    return optuna.load_study(study_name=name, storage=storage)
