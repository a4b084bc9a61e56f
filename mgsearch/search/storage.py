"""Study storage for the search: :mod:`mgsearch.store` with the study file's heartbeat settings.

Opening, error mapping and redaction live in :mod:`mgsearch.store`; the names here are kept for
the code and notebooks that import them from ``mgsearch.search``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mgsearch.store.rdb import SQLITE_TIMEOUT_S, Mode, load_existing_study, open_storage
from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    import optuna

__all__ = ["open_storage", "load_existing_study", "storage_for", "SQLITE_TIMEOUT_S"]


def storage_for(config: StudyConfig, mode: Mode = "create") -> "optuna.storages.RDBStorage":
    """:func:`mgsearch.store.open_storage` with the study's heartbeat settings (``mode="existing"`` for workers)."""
    return open_storage(
        config.storage,
        mode=mode,
        heartbeat_interval=config.heartbeat_interval,
        grace_period=config.grace_period,
        max_retry=config.max_retry,
    )

