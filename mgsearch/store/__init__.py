"""The one owner of study storage: opening it (create / existing only / read-only), redacting URLs.

* :func:`open_storage` (``mode="create"``, ``"existing"`` or ``"read"``), :func:`load_existing_study`,
  :func:`database_error` (one-line :class:`~mgsearch.errors.StorageError`), :class:`DatabaseWatch`
  (a deleted or replaced SQLite file), :func:`explain_failed_trials` and the heartbeat callback that
  give killed trials their ``status``;
* :func:`redact_url`, :func:`scrub`, :func:`check_url`: no credential is ever shown.

Importing this package imports neither optuna nor SQLAlchemy (they are imported where used).
"""

from __future__ import annotations

from typing import Any

from mgsearch.store.urls import UNPARSEABLE, check_url, is_sqlite, redact_url, scrub, sqlite_path

__all__ = [
    "redact_url", "scrub", "check_url", "is_sqlite", "sqlite_path", "UNPARSEABLE",
    "open_storage", "load_existing_study", "database_error", "DatabaseWatch", "explain_failed_trials",
    "stale_trial_callback", "set_finished_trial_attrs", "find_damage", "damaged_study_error", "SQLITE_TIMEOUT_S",
    "OPTUNA_TABLES",
]

_RDB = {"open_storage", "load_existing_study", "database_error", "DatabaseWatch", "explain_failed_trials",
        "stale_trial_callback", "set_finished_trial_attrs", "find_damage", "damaged_study_error", "SQLITE_TIMEOUT_S",
        "OPTUNA_TABLES"}


def __getattr__(name: str) -> Any:
    """The storage functions of :mod:`mgsearch.store.rdb`, imported on first use."""
    if name in _RDB:
        from mgsearch.store import rdb

        return getattr(rdb, name)
    raise AttributeError(f"module 'mgsearch.store' has no attribute {name!r}")
