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
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mgsearch.errors import ConfigError, MgsearchError, StorageError
from mgsearch.search.budget import Budget, check_space_minimum
from mgsearch.search.objective import Objective, SurplusTrial
from mgsearch.search.progress import Progress, pareto_rows, status_counts
from mgsearch.search.samplers import make_pruner, make_sampler
from mgsearch.search.storage import load_existing_study, storage_for
from mgsearch.store import DatabaseWatch, check_url
from mgsearch.store.records import records_from_trials
from mgsearch.study import (StudyConfig, adopt_stored_defaults, config_differences, legacy_dense_spelling,
                            stored_value)

if TYPE_CHECKING:
    import optuna

    from mgsearch.space import SearchSpace

__all__ = ["run_search", "SearchResult", "SearchInterrupted", "open_study", "prepare", "resolve_device",
           "MAX_CONSECUTIVE_FAILURES", "set_metric_names"]

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
    #: counts per status of the finished (COMPLETE / PRUNED) trials only: they add up to ``n_trials``;
    #: ``counts`` also holds the failed, running and waiting ones
    finished_counts: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study_name, "storage": self.storage, "n_trials": self.n_trials,
                "counts": self.counts, "finished_counts": self.finished, "pareto": self.pareto,
                "stopped_by": self.stopped_by}

    @property
    def finished(self) -> dict[str, int]:
        """Counts per status of the finished trials (they add up to ``n_trials``)."""
        return dict(self.finished_counts if self.finished_counts is not None else self.counts)

    @property
    def not_finished(self) -> dict[str, int]:
        """Counts per status of the trials that do not count towards ``n_trials`` (failed, running, waiting)."""
        done = self.finished
        return {k: v - done.get(k, 0) for k, v in self.counts.items() if v - done.get(k, 0) > 0}


def resolve_device(name: str) -> str:
    """The device name a search trains on (:func:`mgsearch.devices.resolve_device`, the one rule)."""
    from mgsearch.devices import resolve_device as resolve

    return str(resolve(name))


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
        "space_toml": space_table(config.space_path),
        "strategy": config.strategy,
    }


def space_table(path: Any) -> dict[str, Any] | None:
    """The search-space file as parsed TOML in JSON form (stored so a changed space can be named
    key by key on resume); None when it cannot be read."""
    import json
    import tomllib

    try:
        return json.loads(json.dumps(tomllib.loads(Path(path).read_text()), default=str))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, ValueError, TypeError):
        return None


def _space_changes(before: Any, after: Any, prefix: str = "") -> list[str]:
    """``["stages[1].width.max: 16 -> 24", ...]``: where two parsed spaces differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in before:
                out.append(f"{path} added")
            elif key not in after:
                out.append(f"{path} removed")
            else:
                out += _space_changes(before[key], after[key], path)
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [c for i, (a, b) in enumerate(zip(before, after)) for c in _space_changes(a, b, f"{prefix}[{i}]")]
    if before != after:
        return [f"{prefix or 'the file'}: {_short(before)} -> {_short(after)}"]
    return []


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _same_space(study: "optuna.Study", stored: dict[str, Any], config: StudyConfig) -> str | None:
    """None when the study's space is the configured one, else a one-line description of the change.

    The stored ``space_sha256`` is the hash of the parsed space; databases written before that hold
    the hash of the raw bytes, which still matches when the file is unchanged.
    """
    import hashlib

    old = (stored.get("study") or {}).get("space_sha256")
    if old in (None, config.space_sha256):
        return None
    try:
        if old == hashlib.sha256(Path(config.space_path).read_bytes()).hexdigest():
            return None
    except OSError:
        pass
    before, now = study.user_attrs.get("space_toml"), space_table(config.space_path)
    where = f"{config.path}: study {config.name!r} in {config.storage_display} was created with another search space"
    fix = "restore the space file or set a new study.name"
    if isinstance(before, dict) and isinstance(now, dict):
        changes = _space_changes(legacy_dense_spelling(before), legacy_dense_spelling(now))  # "none" == "dense"
        if not changes:  # a raw-bytes hash of a file that was only re-spelt
            return None
        if changes:
            more = f" (and {len(changes) - 3} more)" if len(changes) > 3 else ""
            return f"{where}: {config.space_path.name} changed: {'; '.join(changes[:3])}{more}; {fix}"
    return (f"{where}: the content of {config.space_path} changed since the study was created "
            f"(not only comments or layout); {fix}")


def directions(config: StudyConfig) -> list[str]:
    """Each objective's direction, from the metric registry (``maximize`` val_acc, ``minimize`` params...)."""
    from mgsearch.metrics import get_metric

    return [get_metric(name).direction for name in config.objectives]


def stored_config(storage: "optuna.storages.BaseStorage", name: str) -> dict[str, Any] | None:
    """The configuration stored with study ``name`` (None when there is no such study or it has none)."""
    import optuna

    for summary in optuna.study.get_all_study_summaries(storage, include_best_trial=False):
        if summary.study_name == name:
            stored = summary.user_attrs.get("config")
            return stored if isinstance(stored, dict) else None
    return None


def check_compatible(study: "optuna.Study", config: StudyConfig) -> None:
    """ConfigError when the stored configuration differs from ``config`` in what defines the study."""
    stored = study.user_attrs.get("config")
    if not isinstance(stored, dict):
        raise StorageError(
            f"storage {config.storage_display}: study {config.name!r} exists but was not written by mgsearch; "
            "set another study.name"
        )
    space_change = _same_space(study, stored, config)
    if space_change:
        raise ConfigError(space_change)
    diffs = [d for d in config_differences(stored, config.to_dict()) if d != "study.space_sha256"]
    if diffs:
        key = diffs[0]
        table, _, name = key.partition(".")
        before = stored_value(stored, table, name) if name else stored.get(table)
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

    from mgsearch.store.rdb import damaged_study_error, explain_failed_trials, find_damage

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
    damage = find_damage(storage, name)
    if damage:
        raise damaged_study_error(config.storage_display, name, damage)
    attrs = study.user_attrs
    if "config" in attrs:
        check_compatible(study, config)
    elif exists and "mgsearch_version" not in attrs and storage.get_n_trials(study._study_id) > 0:
        check_compatible(study, config)  # raises: not a study of mgsearch
    # a new study gets its attributes; one that a full disk (or a crash) left without some of them
    # (it is ours: it has our config, our version stamp, or our name and no trials) gets the missing ones
    for key, value in study_attrs(config, dataset).items():
        if key not in attrs:
            study.set_user_attr(key, value)
    set_metric_names(study, config)
    explain_failed_trials(study)
    return study


def set_metric_names(study: "optuna.Study", config: StudyConfig) -> None:
    """Name the study's objectives after their registered metrics (``val_acc``, ``params``...), so that
    optuna-dashboard and ``study.trials_dataframe()`` say ``val_acc`` instead of "Objective 0". A new
    study gets them when it is created, an existing one without them (written before) on resume."""
    from mgsearch.metrics import get_metric

    if study.metric_names is not None:
        return
    with warnings.catch_warnings():  # experimental in some Optuna versions
        warnings.simplefilter("ignore")
        study.set_metric_names([get_metric(name).name for name in config.objectives])


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
    # the strategy's settings table ([lwdna]) was checked when the study file was read
    return dataset, space, device


def run_search(config: StudyConfig, **kwargs: Any) -> SearchResult:
    """Run (or resume, or join as a ``worker``) the study of ``config`` until it is done.

    ``mgsearch search`` creates the study if needed; a ``worker`` only joins an existing one
    (:class:`StorageError` otherwise). Returns the counts and the feasible Pareto set. Keyword
    arguments: ``worker``, ``progress``, ``verbose``, ``train_fn``, ``prepared`` (see :func:`_run_search`).
    A database that fails during the run (an SQLite file locked by other processes beyond the lock
    timeout, a PostgreSQL server gone) raises :class:`StorageError` (one line, no password).
    """
    check_url(config.storage)  # in-memory, unparseable: refused before any data is loaded
    watch: list[DatabaseWatch] = []
    try:
        return _run_search(config, watch=watch, **kwargs)
    except Exception as exc:
        if watch and watch[0].changed():
            watch[0].check()  # raises: the database file went away under the search
        error = _database_error(exc, config, watch[0].storage if watch else None)
        if error is None:
            raise
        raise error from None


def _database_error(exc: BaseException, config: StudyConfig, storage: Any = None) -> StorageError | None:
    """The :class:`StorageError` for a database failure anywhere in ``exc``'s chain, else None.

    Besides driver errors this covers a study Optuna cannot read (an attribute that is not JSON, a
    NULL value: Optuna fails with a JSONDecodeError or an AssertionError), described in words.
    """
    import json

    import sqlalchemy.exc

    from mgsearch.store import database_error
    from mgsearch.store.rdb import damaged_study_error, find_damage

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sqlalchemy.exc.OperationalError):
            return database_error(seen, config.storage, "database error during the search")
        if isinstance(seen, (json.JSONDecodeError, AssertionError)) and storage is not None:
            try:
                damage = find_damage(storage, config.name, full=True)
            except Exception:  # noqa: BLE001 - the original error is the one to report then
                damage = None
            if damage:
                return damaged_study_error(config.storage_display, config.name, damage)
        seen = seen.__cause__ or seen.__context__
    return None


def _run_search(
    config: StudyConfig,
    *,
    worker: bool = False,
    progress: bool = True,
    verbose: bool = False,
    train_fn: Callable[..., Any] | None = None,
    prepared: tuple[Any, "SearchSpace", str] | None = None,
    watch: list[DatabaseWatch] | None = None,
) -> SearchResult:
    """Run (or resume, or join as a ``worker``) the study of ``config`` until it is done.

    ``mgsearch search`` creates the study if needed; a ``worker`` only joins an existing one
    (:class:`StorageError` otherwise, and nothing is created). Returns the counts and the feasible
    Pareto set. ``watch`` receives the :class:`DatabaseWatch` of the database once it is open.
    """
    import optuna
    from optuna.trial import TrialState

    quiet_optuna(verbose)
    if worker:
        # fail fast (before loading data) when the study is not there; a worker creates nothing
        storage = storage_for(config, mode="existing")
        load_existing_study(storage, config.name, config.storage_display)
        dataset, space, device = prepared or prepare(config)
    else:
        # data and budget checked before the database is opened: a bad study file creates no database
        dataset, space, device = prepared or prepare(config)
        storage = storage_for(config)
    database = DatabaseWatch(config.storage, storage)
    if watch is not None:
        watch.append(database)
    # every process seeds its sampler with the study's seed; the sampler mixes in each trial's number
    # (samplers.make_sampler), so processes started together draw different trials and one process
    # started twice on a new study draws the same ones
    # a study created before a key existed resumes with the behaviour it was created with (fill_budget)
    config = adopt_stored_defaults(config, stored_config(storage, config.name))
    study = open_study(storage, config, dataset, create=not worker, seed=config.seed)
    bar = Progress(config, enabled=progress)
    objective = Objective(config=config, space=space, dataset=dataset, device=device,
                          train_fn=_observed(train_fn, bar) if progress else train_fn)
    n = config.n_trials
    deadline = time.monotonic() + config.timeout if config.timeout else None
    failures = 0
    stopped_by = "n_trials"
    current: dict[str, int] = {}

    def tracked(trial: "optuna.Trial") -> Any:
        current["trial_id"] = trial._trial_id
        current["ran"] = current.get("ran", 0) + 1
        bar.trial_started(trial.number)
        return objective(trial)

    restore_signal = _interrupt_on_sigterm()
    restore_log = _quiet_expected_failures()
    try:
        while True:
            database.check()  # before and after every trial: the file is still the one opened
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
            except KeyboardInterrupt as exc:
                bar.close()  # ends the bar's line: the message below starts on its own line
                requeued = _requeue_interrupted(study, current.get("trial_id"))
                raise SearchInterrupted(_interrupted_text(study, n, requeued, exc)) from None
            except SurplusTrial:
                continue
            except MgsearchError:
                raise
            except Exception as exc:  # a bug or an environment failure in one trial: retry a few times
                failures += 1
                bar.message(f"mgsearch: trial failed: {type(exc).__name__}: {str(exc)[:200]}")
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    raise
                continue
            failures = 0
    finally:
        restore_signal()
        restore_log()
        bar.close()
    database.check()
    trials = study.get_trials(deepcopy=False)
    records = records_from_trials(trials)
    finished = [r for r in records if r.state in ("COMPLETE", "PRUNED")]
    return SearchResult(
        study_name=config.name,
        storage=config.storage_display,
        n_trials=sum(1 for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)),
        counts=status_counts(records),
        pareto=pareto_rows(records, config),
        stopped_by=stopped_by,
        extra={"trials_run_here": current.get("ran", 0)},
        finished_counts=status_counts(finished),
    )


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a search; ``str(exc)`` says what was kept (the CLI adds how to resume)."""

    #: re-running the same command resumes the study
    resumable = True


def _interrupted_text(study: "optuna.Study", n_trials: int | None, requeued: int | None,
                      exc: BaseException) -> str:
    """``interrupted: trial 5 failed and queued again; 4 of 8 trials finished and kept``."""
    from optuna.trial import TrialState

    how = "interrupted" + (f" by {exc.args[0]}" if exc.args and str(exc.args[0]).startswith("signal") else "")
    parts = [how]
    if requeued is not None:
        parts.append(f"trial {requeued} failed and queued again")
    try:
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        parts.append(f"{done}{f' of {n_trials}' if n_trials else ''} trials finished and kept")
    except Exception:  # noqa: BLE001 - the database may be what went away
        pass
    return parts[0] + (": " + "; ".join(parts[1:]) if parts[1:] else "")


def _observed(train_fn: Callable[..., Any] | None, bar: Progress) -> Callable[..., Any]:
    """``train_fn`` (default: :func:`mgsearch.train.train`, looked up at call time) reporting each epoch
    to ``bar`` (a line) and, where the bar shows them and the function takes ``on_batch``, each batch."""
    import importlib
    import inspect

    def observed(spec: Any, dataset: Any, **kwargs: Any) -> Any:
        inner = train_fn or importlib.import_module("mgsearch.train").train
        on_epoch = kwargs.get("on_epoch")

        def epoch_done(epoch: int, val_acc: float) -> None:
            bar.epoch(epoch, val_acc)  # before the caller's hook, which may prune the trial
            if on_epoch is not None:
                on_epoch(epoch, val_acc)

        kwargs["on_epoch"] = epoch_done
        if bar.wants_batches and "on_batch" not in kwargs:
            try:
                takes = inspect.signature(inner).parameters
                if "on_batch" in takes or any(p.kind == p.VAR_KEYWORD for p in takes.values()):
                    kwargs["on_batch"] = bar.batch
            except (TypeError, ValueError):
                pass
        return inner(spec, dataset, **kwargs)

    return observed


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


def _requeue_interrupted(study: "optuna.Study", trial_id: int | None) -> int | None:
    """Re-queue (WAITING) the trial an interrupt failed, as a retry of it, so no candidate is lost;
    returns its number (None when there was none or it could not be queued)."""
    from optuna.trial import TrialState

    if trial_id is None:
        return
    try:
        trial = study._storage.get_trial(trial_id)
        retry = getattr(study._storage, "get_heartbeat_stale_trial_callback", lambda: None)()
        if trial.state == TrialState.FAIL and retry is not None:
            retry(study, trial)
            return trial.number
    except Exception as exc:  # the database may be what went away; the trial then goes stale and is retried
        log.warning("could not re-queue interrupted trial %s: %s", trial_id, type(exc).__name__)
    return None
