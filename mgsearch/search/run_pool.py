"""Derived runs trained in worker processes, several at a time (``--jobs N`` of confirm and calibrate).

The parent keeps the study: it asks each run's trial, writes its attributes and tells its result
(:mod:`mgsearch.search.retrain`); a worker only trains (:func:`mgsearch.train.train`) and sends the
numbers back. Workers are spawned (safe with CUDA), receive the dataset once, ignore Ctrl-C (the
parent stops them), and use ``threads // jobs`` CPU threads each. A worker whose parent is gone
(SIGKILL, a power cut) exits within a second, busy or idle, so a killed confirm leaves no orphan
training behind.

Why: a small network does not keep several CPU cores busy (intra-op parallelism stops paying off at
a few threads), so N runs of one thread each finish sooner than N runs in turn with N threads
(measured in docs/benchmarks.md, "Several runs at a time").
"""

from __future__ import annotations

import importlib
import os
import queue as queue_module
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from mgsearch.errors import TrainingDiverged

__all__ = ["RunPool", "WorkerResult", "threads_per_job"]

#: the state a worker process keeps between runs (set by :func:`_init_worker`)
_WORKER: dict[str, Any] = {}


@dataclass(frozen=True)
class WorkerResult:
    """What a worker sends back for one run: the fields of a TrainResult that a derived run stores,
    or ``diverged`` (the message of :class:`~mgsearch.errors.TrainingDiverged`)."""

    val_acc: float = 0.0
    test_acc: float | None = None
    train_seconds: float = 0.0
    trial_attrs: dict[str, Any] | None = None
    diverged: str | None = None


def threads_per_job(threads: int | None, jobs: int) -> int:
    """CPU threads for each of ``jobs`` workers: the run's thread count (default: the CPUs available)
    shared out, at least one each."""
    from mgsearch.training.runtime import default_threads

    return max(1, (threads or default_threads()) // jobs)


#: seconds between a worker's checks that its parent is alive
PARENT_CHECK_SECONDS = 1.0


def _exit_when_orphaned(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)  # the parent died (SIGKILL, a power cut): nobody will record this worker's runs


def _init_worker(dataset: Any, device: str, threads: int, train_fn: Callable[..., Any] | None,
                 parent: int, epochs: Any) -> None:
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides
    _WORKER.update(dataset=dataset, device=device, threads=threads, train_fn=train_fn, epochs=epochs)
    # a busy worker and an idle one (blocked on the task queue, which it holds open itself) alike
    threading.Thread(target=_exit_when_orphaned, args=(parent,), name="orphan-watch", daemon=True).start()


def _train_in_worker(token: int, spec_json: str, fidelity: Any, recipe: Any, seed: int, test: bool) -> WorkerResult:
    from mgsearch.spec import ArchSpec

    w = _WORKER

    def on_epoch(epoch: int, val_acc: float) -> None:
        w["epochs"].put((token, epoch, float(val_acc)))

    train = w["train_fn"] or importlib.import_module("mgsearch.train").train
    try:
        result = train(ArchSpec.from_json(spec_json), w["dataset"], fidelity=fidelity, recipe=recipe, seed=seed,
                       device=w["device"], on_epoch=on_epoch, evaluate_test=test, progress=False,
                       threads=w["threads"])
    except TrainingDiverged as exc:
        return WorkerResult(diverged=str(exc))
    return WorkerResult(val_acc=float(result.val_acc),
                        test_acc=None if result.test_acc is None else float(result.test_acc),
                        train_seconds=float(result.train_seconds),
                        trial_attrs=dict(getattr(result, "trial_attrs", None) or {}))


class RunPool:
    """``jobs`` spawned worker processes that train derived runs; :meth:`submit` one, collect its
    :class:`WorkerResult` from the future, read the epochs reported meanwhile with :meth:`epochs`.
    ``train_fn`` (tests) must be picklable: a module-level function."""

    def __init__(self, jobs: int, *, dataset: Any, device: str, threads: int | None,
                 train_fn: Callable[..., Any] | None = None) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self._epochs = context.Queue()
        self.jobs = jobs
        self.threads = threads_per_job(threads, jobs)
        self._executor = ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_init_worker,
            initargs=(dataset, device, self.threads, train_fn, os.getpid(), self._epochs))

    def submit(self, token: int, *, spec_json: str, fidelity: Any, recipe: Any, seed: int,
               test: bool) -> "Future[WorkerResult]":
        """Train one run in a free worker (queued when all are busy); ``token`` tags its epochs."""
        return self._executor.submit(_train_in_worker, token, spec_json, fidelity, recipe, seed, test)

    def epochs(self) -> list[tuple[int, int, float]]:
        """``(token, epoch, val_acc)`` of the epochs finished since the last call, in order."""
        out = []
        while True:
            try:
                out.append(self._epochs.get_nowait())
            except (queue_module.Empty, OSError, EOFError):
                return out

    def close(self, *, kill: bool = False) -> None:
        """Shut the workers down: wait for them, or (``kill``) stop them at once, runs in hand lost."""
        if kill:
            for process in list(getattr(self._executor, "_processes", {}).values()):
                try:
                    process.kill()
                except (OSError, AttributeError):
                    pass
        self._executor.shutdown(wait=not kill, cancel_futures=True)
        self._epochs.close()

    def __enter__(self) -> "RunPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(kill=exc[0] is not None)
