"""Running a study: create or resume it, run trials until n_trials / timeout, share the stop condition.

Stop condition (shared by every worker through the database): a study is done when its COMPLETE +
PRUNED trials reach ``n_trials``. Infeasible, duplicate and diverged trials are COMPLETE and count
(they are cheap); FAIL trials (a crashed worker, a bug) do not count. A worker starts a new trial
only while COMPLETE + PRUNED + RUNNING + WAITING is below ``n_trials``; otherwise it waits for the
running trials (failing stale ones, whose retries it then runs) and stops when the study is done. A
trial that still starts beyond ``n_trials`` (two workers racing) notices it first thing, by trial
number, and fails without running (``status = "failed"``, ``error = "surplus: ..."``), so the study
ends with exactly ``n_trials`` finished trials.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from mgsearch.errors import ConfigError, MgsearchError, StorageError
from mgsearch.search.budget import Budget, check_space_minimum
from mgsearch.search.objective import Objective, SurplusTrial
from mgsearch.search.progress import Progress, pareto_rows, status_counts
from mgsearch.search.samplers import make_pruner, make_sampler
from mgsearch.search.storage import load_existing_study, storage_for
from mgsearch.study import StudyConfig, config_differences

if TYPE_CHECKING:
    import optuna

    from mgsearch.space import SearchSpace

__all__ = ["run_search", "SearchResult", "open_study", "prepare", "resolve_device", "MAX_CONSECUTIVE_FAILURES"]

#: a search stops (re-raising the error) after this many trials in a row fail with an unexpected error
MAX_CONSECUTIVE_FAILURES = 3
log = logging.getLogger("mgsearch.search")


@dataclass
class SearchResult:
    """What a search run left in its study: counts per status and the feasible Pareto set."""

    study_name: str
    storage: str
    n_trials: int
    counts: dict[str, int]
    pareto: list[dict[str, Any]]
    stopped_by: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study_name, "storage": self.storage, "n_trials": self.n_trials,
                "counts": self.counts, "pareto": self.pareto, "stopped_by": self.stopped_by}


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``mps`` when available, else ``cpu``."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device.name={name!r} is not allowed: no CUDA device is available here (use cpu or auto)")
    return name


def quiet_optuna(verbose: bool) -> None:
    """Silence Optuna's per-trial INFO lines and experimental warnings unless ``verbose``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    if not verbose:
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")


def study_attrs(config: StudyConfig, dataset: Any) -> dict[str, Any]:
    """The study user attrs of the storage contract."""
    import mgsearch

    describe = dataset.describe() if hasattr(dataset, "describe") else {"name": config.dataset}
    return {
        "mgsearch_version": mgsearch.__version__,
        "config": config.to_dict(),
        "dataset": describe,
        "budget": config.budget(),
        "objectives": list(config.objectives),
        "fidelity": config.fidelity(),
        "space": config.space,
        "strategy": config.strategy,
    }


def directions(config: StudyConfig) -> list[str]:
    """``maximize`` val_acc, ``minimize`` every further objective."""
    return ["maximize"] + ["minimize"] * (len(config.objectives) - 1)


def check_compatible(study: "optuna.Study", config: StudyConfig) -> None:
    """ConfigError when the stored configuration differs from ``config`` in what defines the study."""
    stored = study.user_attrs.get("config")
    if stored is None:
        raise StorageError(
            f"storage {config.storage_display}: study {config.name!r} exists but was not written by mgsearch; "
            "set another study.name"
        )
    diffs = config_differences(stored, config.to_dict())
    if diffs:
        key = diffs[0]
        table, _, name = key.partition(".")
        before = (stored.get(table) or {}).get(name) if name else stored.get(table)
        now = (config.to_dict().get(table) or {}).get(name) if name else config.to_dict().get(table)
        more = f" (and {len(diffs) - 1} more: {', '.join(diffs[1:4])})" if len(diffs) > 1 else ""
        raise ConfigError(
            f"{config.path}: study {config.name!r} in {config.storage_display} was created with "
            f"{key}={before!r}, this run has {now!r}{more}; restore the study file or set a new study.name"
        )


def open_study(
    storage: "optuna.storages.BaseStorage", config: StudyConfig, dataset: Any, *, create: bool, seed: int,
    name: str | None = None,
) -> "optuna.Study":
    """Create the study (recording the effective config) or load it and check the config matches."""
    import optuna

    name = name or config.name
    sampler = make_sampler(config, seed)
    pruner = make_pruner(config)
    exists = name in optuna.get_all_study_names(storage)
    if not exists and not create:
        load_existing_study(storage, name, config.storage_display)  # raises with the list of studies
    study = optuna.create_study(
        study_name=name, storage=storage, directions=directions(config), sampler=sampler, pruner=pruner,
        load_if_exists=True,
    )
    if "config" not in study.user_attrs and not exists:
        for key, value in study_attrs(config, dataset).items():
            study.set_user_attr(key, value)
    else:
        check_compatible(study, config)
    return study


def prepare(config: StudyConfig) -> tuple[Any, "SearchSpace", str]:
    """Load the dataset and the space (shaped to the dataset), check the budget: ``(dataset, space, device)``.

    :class:`~mgsearch.errors.BudgetError` names the space's minimum cost when even the smallest
    architecture exceeds the budget — before any trial.
    """
    import torch

    from mgsearch.data import load_dataset
    from mgsearch.space import SearchSpace

    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    space = SearchSpace.from_file(config.space_path)
    dataset = load_dataset(config.dataset, config.data_root, val_fraction=config.val_fraction, seed=config.seed)
    space = space.with_overrides(
        in_channels=dataset.in_channels, num_classes=dataset.num_classes, input_size=dataset.input_size
    )
    check_space_minimum(space, Budget.from_config(config), str(config.path))
    if config.strategy == "lwdna":
        from mgsearch.shrink.strategy import LwdnaSettings  # the [lwdna] table is the shrink module's to check

        LwdnaSettings.from_table(config.lwdna, source=str(config.path))
    return dataset, space, device


def run_search(config: StudyConfig, **kwargs: Any) -> SearchResult:
    """Run (or resume, or join as a ``worker``) the study of ``config`` until it is done.

    ``mgsearch search`` creates the study if needed; a ``worker`` only joins an existing one
    (:class:`StorageError` otherwise). Returns the counts and the feasible Pareto set. Keyword
    arguments: ``worker``, ``progress``, ``verbose``, ``train_fn``, ``prepared`` (see :func:`_run_search`).
    A database that fails during the run (an SQLite file locked by other processes beyond the lock
    timeout, a PostgreSQL server gone) raises :class:`StorageError` (one line, no password).
    """
    try:
        return _run_search(config, **kwargs)
    except Exception as exc:
        error = _database_error(exc, config)
        if error is None:
            raise
        raise error from None


def _database_error(exc: BaseException, config: StudyConfig) -> StorageError | None:
    """The :class:`StorageError` for a database failure anywhere in ``exc``'s chain, else None."""
    import sqlalchemy.exc

    from mgsearch.search.storage import SQLITE_TIMEOUT_S, _clean

    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, sqlalchemy.exc.OperationalError):
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return None
    detail = _clean(str(getattr(seen, "orig", None) or seen), config.storage)
    if "database is locked" in detail:
        return StorageError(
            f"storage {config.storage_display}: the SQLite file stayed locked by another process for more "
            f"than {SQLITE_TIMEOUT_S} s; SQLite serialises writers: for several workers use PostgreSQL "
            "(--storage postgresql+psycopg://USER:PASSWORD@HOST/DB, see docs/deploy.md)"
        )
    return StorageError(f"storage {config.storage_display}: database error during the search: {detail}")


def _run_search(
    config: StudyConfig,
    *,
    worker: bool = False,
    progress: bool = True,
    verbose: bool = False,
    train_fn: Callable[..., Any] | None = None,
    prepared: tuple[Any, "SearchSpace", str] | None = None,
) -> SearchResult:
    """Run (or resume, or join as a ``worker``) the study of ``config`` until it is done.

    ``mgsearch search`` creates the study if needed; a ``worker`` only joins an existing one
    (:class:`StorageError` otherwise). Returns the counts and the feasible Pareto set.
    """
    import optuna
    from optuna.trial import TrialState

    quiet_optuna(verbose)
    if worker:
        # fail fast (before loading data) when the study is not there
        storage = storage_for(config)
        load_existing_study(storage, config.name, config.storage_display)
        dataset, space, device = prepared or prepare(config)
    else:
        # data and budget checked before the database is opened: a bad study file creates no database
        dataset, space, device = prepared or prepare(config)
        storage = storage_for(config)
    n_existing = _count_trials(storage, config.name)
    if worker:
        seed = (config.seed * 1_000_003 + os.getpid() * 7919 + time.time_ns()) % (2**31 - 1)
    else:
        seed = (config.seed + 7919 * n_existing) % (2**31 - 1)
    study = open_study(storage, config, dataset, create=not worker, seed=seed)
    objective = Objective(config=config, space=space, dataset=dataset, device=device, train_fn=train_fn)
    bar = Progress(config, enabled=progress)
    n = config.n_trials
    deadline = time.monotonic() + config.timeout if config.timeout else None
    failures = 0
    stopped_by = "n_trials"
    current: dict[str, int] = {}

    def tracked(trial: "optuna.Trial") -> Any:
        current["trial_id"] = trial._trial_id
        current["ran"] = current.get("ran", 0) + 1
        return objective(trial)

    restore_signal = _interrupt_on_sigterm()
    restore_log = _quiet_expected_failures()
    try:
        while True:
            trials = study.get_trials(deepcopy=False)
            bar.update(trials)
            if deadline is not None and time.monotonic() >= deadline:
                stopped_by = "timeout"
                break
            done = sum(1 for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED))
            running = sum(1 for t in trials if t.state == TrialState.RUNNING)
            waiting = sum(1 for t in trials if t.state == TrialState.WAITING)
            if n is not None and done >= n:
                break
            if n is not None and done + running + waiting >= n and waiting == 0:
                # the last trials run elsewhere (or their worker died: fail them after the grace period)
                optuna.storages.fail_stale_trials(study)
                bar.note(f"waiting for {running} running trial(s)")
                time.sleep(min(2.0, config.heartbeat_interval))
                continue
            try:
                current.pop("trial_id", None)
                study.optimize(tracked, n_trials=1, catch=(), gc_after_trial=False, show_progress_bar=False)
            except KeyboardInterrupt:
                _requeue_interrupted(study, current.get("trial_id"))
                raise
            except SurplusTrial:
                continue
            except MgsearchError:
                raise
            except Exception as exc:  # a bug or an environment failure in one trial: retry a few times
                failures += 1
                print(f"mgsearch: trial failed: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    raise
                continue
            failures = 0
    finally:
        restore_signal()
        restore_log()
        bar.close()
    trials = study.get_trials(deepcopy=False)
    return SearchResult(
        study_name=config.name,
        storage=config.storage_display,
        n_trials=sum(1 for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)),
        counts=status_counts(trials),
        pareto=pareto_rows(trials),
        stopped_by=stopped_by,
        extra={"trials_run_here": current.get("ran", 0)},
    )


class _QuietExpectedFailures(logging.Filter):
    """Drop Optuna's "Trial N failed ... Traceback" warnings for the failures the runner expects and
    reports itself (a surplus trial, an interrupt), so a worker's stderr shows no traceback for them."""

    def __init__(self) -> None:
        super().__init__()
        self._quiet: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        msg = record.getMessage()
        head = msg.split(" failed with", 1)[0]
        if isinstance(exc, (SurplusTrial, KeyboardInterrupt)):
            self._quiet.add(head)
            return False
        if head in self._quiet and "failed with value" in msg:
            self._quiet.discard(head)
            return False
        return True


def _quiet_expected_failures() -> Callable[[], None]:
    """Install :class:`_QuietExpectedFailures` on Optuna's optimize logger; returns the remover."""
    logger = logging.getLogger("optuna.study._optimize")
    quiet = _QuietExpectedFailures()
    logger.addFilter(quiet)
    return lambda: logger.removeFilter(quiet)


def _interrupt_on_sigterm() -> Callable[[], None]:
    """Treat SIGTERM like Ctrl-C (KeyboardInterrupt) while a search runs; returns the restorer.

    Optuna then fails the running trial cleanly (state FAIL, heartbeat stopped) and
    :func:`_requeue_interrupted` queues it again, instead of it hanging RUNNING until the grace period.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _requeue_interrupted(study: "optuna.Study", trial_id: int | None) -> None:
    """Re-queue (WAITING) the trial an interrupt failed, as a retry of it, so no candidate is lost."""
    from optuna.trial import TrialState

    if trial_id is None:
        return
    try:
        trial = study._storage.get_trial(trial_id)
        retry = getattr(study._storage, "get_heartbeat_stale_trial_callback", lambda: None)()
        if trial.state == TrialState.FAIL and retry is not None:
            retry(study, trial)
            print(f"mgsearch: interrupted: trial {trial.number} failed and queued again for another worker",
                  file=sys.stderr)
    except Exception as exc:  # the database may be what went away; the trial then goes stale and is retried
        log.warning("could not re-queue interrupted trial %s: %s", trial_id, type(exc).__name__)


def _count_trials(storage: "optuna.storages.BaseStorage", name: str) -> int:
    import optuna

    if name not in optuna.get_all_study_names(storage):
        return 0
    study_id = storage.get_study_id_from_name(name)
    return storage.get_n_trials(study_id)
