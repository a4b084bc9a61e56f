"""Derived runs: retrain planned architectures from scratch into a derived study, resumably.

The one driver of ``mgsearch confirm`` and ``mgsearch calibrate``. A caller plans a list of
:class:`PlannedRun` values (a spec, a fidelity, a seed, what the run is of); :func:`run_planned`
trains each into the derived study (``<name>.confirm``, ``<name>.calibrate``) with the ask/tell
interface, one Optuna trial per run, and stores the attributes of
:data:`mgsearch.store.runs.RUN_ATTRS`.

Resuming: a run is identified by its ``run_key``. A finished run (COMPLETE: trained or diverged) is
never run again. Ctrl-C or SIGTERM fails the run in progress (``status = "interrupted"``) and stops;
a run left RUNNING by a killed process (SIGKILL, a power cut) is failed as ``interrupted`` by the
next call, and run again. An interrupt that arrives while a run's result or attributes are being
written is deferred until the write is done (:class:`Interrupts`). A RUNNING run whose process is
still alive on this machine means another process works on the same derived study: that is refused
(one process per derived study). With ``jobs`` > 1 that process trains several runs at a time in
worker processes of its own (:mod:`mgsearch.search.run_pool`), which train and write nothing.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from mgsearch.errors import MgsearchError, TrainingDiverged
from mgsearch.metrics import analytic_values
from mgsearch.search.progress import clock
from mgsearch.spec import ArchSpec
from mgsearch.store.runs import RunRecord, protocol_key, runs_from_trials
from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    import optuna

__all__ = ["PlannedRun", "RunsInterrupted", "run_planned", "study_protocol", "run_key"]


class RunsInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped confirm / calibrate; ``str(exc)`` says what was kept."""

    #: re-running the same command resumes: the CLI says so
    resumable = True


@dataclass(frozen=True)
class PlannedRun:
    """One training to do: ``spec`` at ``protocol`` with ``seed``; ``attrs`` link it to its source
    (``source_study``, ``source_trial``, ``baseline_name``); ``test`` measures test accuracy at the end
    (and makes it the run's value; else the value is the last validation accuracy). ``scorer``, when
    given, replaces the training: ``scorer(spec)`` returns a result shaped like a
    :class:`~mgsearch.train.TrainResult` (``val_acc``, ``train_seconds``; optional ``trial_attrs``
    stored with the run), e.g. a one-shot score on a supernet; it takes no part in the run's identity."""

    role: str
    spec: ArchSpec
    protocol: dict[str, Any]
    seed: int
    label: str
    test: bool
    attrs: dict[str, Any] = field(default_factory=dict)
    scorer: Callable[[ArchSpec], Any] | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """The run's identity across re-runs (:func:`run_key`)."""
        return run_key(self.role, self.attrs.get("source_study", ""), self.attrs.get("source_trial"),
                       self.spec.hash, self.seed, self.protocol)


def run_key(role: str, source_study: str, source_trial: Any, spec_hash: str, seed: int,
            protocol: dict[str, Any]) -> str:
    """``role|source study|source trial|spec hash|seed|protocol JSON``."""
    return "|".join([role, str(source_study), str(source_trial), spec_hash, str(seed), protocol_key(protocol)])


def study_protocol(config: StudyConfig, *, epochs: int, train_fraction: float) -> dict[str, Any]:
    """A protocol: epochs and training share given, the rest (batch size, recipe, validation share)
    the study's, so a run differs from the search's training in what it names only."""
    return {"epochs": int(epochs), "train_fraction": float(train_fraction), "batch_size": config.batch_size,
            "val_fraction": config.val_fraction, "recipe": dict(config.recipe)}


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fail_stale(study: "optuna.Study", what: str) -> list[int]:
    """Fail (``interrupted``) the RUNNING runs whose process is gone; refuse when one's is alive here."""
    from optuna.trial import TrialState

    failed = []
    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid, where = t.user_attrs.get("pid"), t.user_attrs.get("host")
        if where == host and pid != os.getpid() and _pid_alive(pid):
            raise MgsearchError(f"run {t.number} of {study.study_name!r} is being trained by process {pid} on this "
                                f"machine; one `mgsearch {what}` per study at a time: wait for it or stop it")
        study._storage.set_trial_user_attr(t._trial_id, "status", "interrupted")
        study._storage.set_trial_user_attr(
            t._trial_id, "error", f"its process (pid {pid} on {where}) stopped before the run finished")
        study.tell(t.number, state=TrialState.FAIL)
        failed.append(t.number)
    return failed


class RunLines:
    """Progress of derived runs on stderr, one plain line per event (the same on a terminal and in a log)::

        confirm s: 12 runs, 4 finished earlier, 8 to go
        run 5/12 found #7 seed 1 epoch 2/6: val_acc 0.8123 (21.0 s)
        run 5/12 found #7 seed 1: test_acc 0.8301 (63.2 s) | 5 of 12 finished, ETA 4:12
    """

    def __init__(self, what: str, total: int, done: int, *, enabled: bool, jobs: int = 1) -> None:
        self.what, self.total, self.done, self.enabled, self.jobs = what, total, done, enabled, jobs
        self.times: list[float] = []
        self.started: dict[int, tuple[str, float]] = {}

    def say(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)

    def start(self, index: int, run: PlannedRun) -> None:
        self.started[index] = (f"run {index}/{self.total} {run.role} {run.label} seed {run.seed}", time.perf_counter())

    def epoch(self, index: int, epoch: int, val_acc: float, epochs: int) -> None:
        label, t0 = self.started[index]
        self.say(f"{label} epoch {epoch}/{epochs}: val_acc {val_acc:.4f} ({time.perf_counter() - t0:.1f} s)")

    def finished(self, index: int, text: str) -> None:
        label, t0 = self.started.pop(index)
        seconds = time.perf_counter() - t0
        self.times.append(seconds)
        self.done += 1
        left = self.total - self.done
        eta = clock(left * sum(self.times) / len(self.times) / self.jobs) if left else "0:00"
        self.say(f"{label}: {text} ({seconds:.1f} s) | {self.done} of {self.total} finished, ETA {eta}")


def run_planned(
    config: StudyConfig,
    study_name: str,
    planned: Sequence[PlannedRun],
    *,
    dataset: Any,
    device: str,
    what: str,
    progress: bool = True,
    train_fn: Callable[..., Any] | None = None,
    study_attrs: dict[str, Any] | None = None,
    jobs: int = 1,
) -> list[RunRecord]:
    """Train every run of ``planned`` not finished yet into the derived study ``study_name`` (created
    in ``config``'s storage when missing, maximising the run's value) and return the records of all
    the planned runs, finished earlier or now, in plan order. ``what`` (``confirm``, ``calibrate``)
    names the command in messages. ``jobs`` > 1 trains that many runs at a time in worker processes
    (:mod:`mgsearch.search.run_pool`; the CPU threads are shared out among them); runs with a
    ``scorer`` are scored here, one at a time. See the module docstring for resuming; an interrupt
    raises :class:`RunsInterrupted`."""
    import optuna

    from mgsearch.store import DatabaseWatch, open_storage

    if not isinstance(jobs, int) or jobs < 1:
        raise MgsearchError(f"{what}: jobs={jobs!r} must be a whole number >= 1")
    storage = open_storage(config.storage, heartbeat_interval=None, grace_period=None)  # ask/tell
    database = DatabaseWatch(config.storage, storage)
    study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize", load_if_exists=True)
    for key, value in (study_attrs or {}).items():
        if key not in study.user_attrs:
            study.set_user_attr(key, value)
    _fail_stale(study, what)
    done = {r.run_key: r for r in runs_from_trials(study.get_trials(deepcopy=False)) if r.finished}
    keys = [p.key for p in planned]
    todo, seen = [], set(done)
    for index, run in enumerate(planned, 1):
        if run.key not in seen:
            seen.add(run.key)
            todo.append((index, run))
    trained = sum(1 for _, run in todo if run.scorer is None)
    jobs = min(jobs, max(trained, 1))
    lines = RunLines(what, len(planned), sum(1 for k in set(keys) if k in done), enabled=progress, jobs=jobs)
    lines.say(f"{what} {config.name}: {len(planned)} runs, {lines.done} finished earlier, "
              f"{len(planned) - lines.done} to go" + (f", {jobs} at a time" if jobs > 1 else ""))
    interrupts = Interrupts()
    restore = interrupts.install()
    in_hand: dict[int, _InHand] = {}
    try:
        # with workers, scorer runs (seconds each) stay here, before the trainings go to the workers
        here = todo if jobs == 1 else [(i, r) for i, r in todo if r.scorer is not None]
        for index, run in here:
            interrupts.check()
            database.check()
            done[run.key] = _run_here(study, index, run, dataset=dataset, device=device, config=config,
                                      lines=lines, train_fn=train_fn, what=what, in_hand=in_hand,
                                      interrupts=interrupts)
        if jobs > 1:
            _run_in_workers(study, [(i, r) for i, r in todo if r.scorer is None], done, jobs=jobs, dataset=dataset,
                            device=device, config=config, lines=lines, train_fn=train_fn, what=what,
                            in_hand=in_hand, interrupts=interrupts, database=database)
        interrupts.check()
    except KeyboardInterrupt as exc:  # Ctrl-C / SIGTERM anywhere: fail the runs in hand, say what was kept
        for hand in in_hand.values():
            _finish_failed(study, hand.trial, "interrupted", f"interrupted{_signal(exc)} after "
                           f"{len(hand.history)} epoch(s)", hand.t0)
        finished = sum(1 for p in planned if p.key in done)
        hands = sorted(in_hand.values(), key=lambda h: h.trial.number)
        which = "".join(f"run {h.trial.number} ({h.run.role} {h.run.label} seed {h.run.seed}) failed and runs "
                        "again on a re-run; " for h in hands)
        raise RunsInterrupted(f"interrupted{_signal(exc)}: {which}{finished} of {len(planned)} runs finished "
                              "and kept") from None
    finally:
        restore()
    database.check()
    final = {r.run_key: r for r in runs_from_trials(study.get_trials(deepcopy=False)) if r.finished}
    return [final[k] for k in keys if k in final]


@dataclass
class _InHand:
    """A run whose trial is asked and not told yet: what an interrupt must fail."""

    run: PlannedRun
    trial: "optuna.Trial"
    t0: float
    history: list[float] = field(default_factory=list)


def _begin(study: "optuna.Study", index: int, run: PlannedRun, *, device: str, lines: RunLines,
           in_hand: dict[int, _InHand]) -> _InHand:
    """Ask the run's trial and write what identifies it (the last attribute, ``pid``, marks it started)."""
    from mgsearch.cost import cost

    t0 = time.perf_counter()
    lines.start(index, run)
    trial = study.ask()
    hand = in_hand[index] = _InHand(run, trial, t0)
    attrs: dict[str, Any] = {
        "run_key": run.key, "role": run.role, **run.attrs, "seed": run.seed, "protocol": dict(run.protocol),
        "spec": run.spec.to_json(), "spec_hash": run.spec.hash, **analytic_values(cost(run.spec), run.spec),
        "device": device, "host": socket.gethostname(), "pid": os.getpid(),
    }
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    return hand


def _fidelity_and_recipe(run: PlannedRun) -> tuple[Any, Any]:
    from mgsearch.training.recipe import Fidelity, Recipe

    p = run.protocol
    fidelity = Fidelity(epochs=int(p["epochs"]), train_fraction=float(p["train_fraction"]),
                        batch_size=int(p["batch_size"]))
    return fidelity, Recipe(**dict(p.get("recipe") or {}))


def _run_here(study: "optuna.Study", index: int, run: PlannedRun, *, dataset: Any, device: str,
              config: StudyConfig, lines: RunLines, train_fn: Callable[..., Any] | None, what: str,
              in_hand: dict[int, _InHand], interrupts: "Interrupts") -> RunRecord:
    """Ask a trial for ``run``, train (or score) it in this process, record it; a KeyboardInterrupt
    propagates with the run left in ``in_hand`` for the caller to fail."""
    hand = _begin(study, index, run, device=device, lines=lines, in_hand=in_hand)
    fidelity, recipe = _fidelity_and_recipe(run)

    def on_epoch(epoch: int, val_acc: float) -> None:
        hand.history.append(float(val_acc))
        lines.epoch(index, epoch, val_acc, fidelity.epochs)

    train = train_fn or importlib.import_module("mgsearch.train").train
    try:
        with interrupts.interruptible():
            if run.scorer is not None:
                result = run.scorer(run.spec)
            else:
                result = train(run.spec, dataset, fidelity=fidelity, recipe=recipe, seed=run.seed, device=device,
                               on_epoch=on_epoch, evaluate_test=run.test, progress=False, threads=config.threads)
    except KeyboardInterrupt:
        raise  # the caller fails the run as interrupted
    except TrainingDiverged as exc:
        return _record_diverged(study, index, hand, str(exc), lines=lines, in_hand=in_hand)
    except BaseException as exc:  # recorded as failed, then raised: a failed run runs again on a re-run
        in_hand.pop(index, None)
        _finish_failed(study, hand.trial, "failed", f"{type(exc).__name__}: {exc}"[:500], hand.t0)
        raise
    return _record(study, index, hand, result, what=what, lines=lines, in_hand=in_hand)


def _run_in_workers(study: "optuna.Study", todo: list[tuple[int, PlannedRun]], done: dict[str, RunRecord], *,
                    jobs: int, dataset: Any, device: str, config: StudyConfig, lines: RunLines,
                    train_fn: Callable[..., Any] | None, what: str, in_hand: dict[int, _InHand],
                    interrupts: "Interrupts", database: Any) -> None:
    """Train ``todo`` ``jobs`` at a time in a :class:`~mgsearch.search.run_pool.RunPool`. A run that
    fails lets the runs in training finish (and be kept), starts no new one, then raises."""
    from concurrent.futures import FIRST_COMPLETED, wait

    from mgsearch.search.run_pool import RunPool

    waiting = list(todo)
    futures: dict[Any, int] = {}
    failure: BaseException | None = None
    pool = RunPool(jobs, dataset=dataset, device=device, threads=config.threads, train_fn=train_fn)
    try:
        while futures or (waiting and failure is None):
            while waiting and failure is None and len(futures) < jobs:
                interrupts.check()
                database.check()
                index, run = waiting.pop(0)
                hand = _begin(study, index, run, device=device, lines=lines, in_hand=in_hand)
                fidelity, recipe = _fidelity_and_recipe(run)
                futures[pool.submit(index, spec_json=run.spec.to_json(), fidelity=fidelity, recipe=recipe,
                                    seed=run.seed, test=run.test)] = index
            with interrupts.interruptible():
                finished, _ = wait(list(futures), timeout=1.0, return_when=FIRST_COMPLETED)
            for index, epoch, val_acc in pool.epochs():
                if index in in_hand:
                    in_hand[index].history.append(val_acc)
                    lines.epoch(index, epoch, val_acc, int(in_hand[index].run.protocol["epochs"]))
            for future in finished:
                index = futures.pop(future)
                hand = in_hand[index]
                error = future.exception()
                if error is not None:
                    in_hand.pop(index)
                    _finish_failed(study, hand.trial, "failed", f"{type(error).__name__}: {error}"[:500], hand.t0)
                    lines.say(f"run {index}/{lines.total} failed: {type(error).__name__}: {error}"[:300]
                              + ("; waiting for the runs in training" if futures else ""))
                    failure = failure or _worker_error(error, what, hand)
                    continue
                result = future.result()
                if result.diverged is not None:
                    done[hand.run.key] = _record_diverged(study, index, hand, result.diverged, lines=lines,
                                                          in_hand=in_hand)
                else:
                    done[hand.run.key] = _record(study, index, hand, result, what=what, lines=lines,
                                                 in_hand=in_hand)
    except BaseException:
        pool.close(kill=True)
        raise
    pool.close()
    if failure is not None:
        raise failure


def _worker_error(error: BaseException, what: str, hand: _InHand) -> BaseException:
    """A worker process that died (killed by the system, e.g. out of memory) breaks the pool: say so in
    one line; any other error of a run is raised as it is (as without ``jobs``)."""
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(error, BrokenProcessPool):
        return MgsearchError(
            f"{what}: a worker process died while training run {hand.trial.number} ({hand.run.role} "
            f"{hand.run.label} seed {hand.run.seed}); the runs that finished are kept. Re-run to resume "
            "(with a smaller --jobs if the machine ran out of memory)")
    return error


def _record_diverged(study: "optuna.Study", index: int, hand: _InHand, message: str, *, lines: RunLines,
                     in_hand: dict[int, _InHand]) -> RunRecord:
    values = {"status": "diverged", "val_history": hand.history, "val_acc": 0.0, "error": message[:500],
              "wall_seconds": time.perf_counter() - hand.t0}
    if hand.run.test:
        values["test_acc"] = 0.0
    for key, value in values.items():
        hand.trial.set_user_attr(key, value)
    study.tell(hand.trial, 0.0)
    in_hand.pop(index, None)
    lines.finished(index, "diverged")
    return runs_from_trials([study._storage.get_trial(hand.trial._trial_id)])[0]


def _record(study: "optuna.Study", index: int, hand: _InHand, result: Any, *, what: str, lines: RunLines,
            in_hand: dict[int, _InHand]) -> RunRecord:
    """Write a finished run's numbers and tell its value (test accuracy if measured, else validation)."""
    val = float(result.val_acc)
    values = {**dict(getattr(result, "trial_attrs", None) or {}),
              "status": "trained", "val_acc": val, "val_history": hand.history or [val],
              "train_seconds": float(result.train_seconds), "wall_seconds": time.perf_counter() - hand.t0}
    if hand.run.test:
        if result.test_acc is None:
            raise MgsearchError(f"{what}: the training of run {hand.trial.number} measured no test accuracy")
        values["test_acc"] = float(result.test_acc)
    for key, value in values.items():
        hand.trial.set_user_attr(key, value)
    score = values["test_acc"] if hand.run.test else val
    study.tell(hand.trial, score)
    in_hand.pop(index, None)
    lines.finished(index, f"{'test_acc' if hand.run.test else 'val_acc'} {score:.4f}")
    return runs_from_trials([study._storage.get_trial(hand.trial._trial_id)])[0]


class Interrupts:
    """Ctrl-C and SIGTERM while derived runs train: raised at once (KeyboardInterrupt) inside training,
    deferred while the database is written (an interrupt inside a write could leave the run half
    recorded and the connection broken) and raised at the next :meth:`check`."""

    def __init__(self) -> None:
        self.pending: str | None = None
        self.now = False

    def handler(self, signum: int, _frame: Any) -> None:
        if self.now:
            raise KeyboardInterrupt(f"signal {signum}")
        self.pending = f"signal {signum}"

    def install(self) -> Callable[[], None]:
        """Handle SIGINT and SIGTERM (main thread only); returns the restorer."""
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.signal(sig, self.handler) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore

    def check(self) -> None:
        """Raise the deferred interrupt, if any."""
        if self.pending:
            raise KeyboardInterrupt(self.pending)

    def interruptible(self) -> Any:
        """A context in which an interrupt is raised at once (training)."""
        import contextlib

        @contextlib.contextmanager
        def section() -> Any:
            self.check()
            self.now = True
            try:
                yield
            finally:
                self.now = False

        return section()


def _signal(exc: BaseException) -> str:
    return f" by {exc.args[0]}" if exc.args and str(exc.args[0]).startswith("signal") else ""


def _finish_failed(study: "optuna.Study", trial: "optuna.Trial", status: str, error: str, t0: float) -> None:
    from optuna.trial import TrialState

    try:
        trial.set_user_attr("status", status)
        trial.set_user_attr("error", error)
        trial.set_user_attr("wall_seconds", time.perf_counter() - t0)
        study.tell(trial, state=TrialState.FAIL)
    except Exception:  # noqa: BLE001 - the database may be what failed; the next call fails the run as stale
        pass
