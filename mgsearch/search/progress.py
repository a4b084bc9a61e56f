"""Search progress on stderr (a line per epoch and per finished trial, a bar on a terminal, the ETA) and the
end-of-search summary: counts and the feasible Pareto set."""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING, Any, Sequence

from mgsearch.metrics import ANALYTIC, metrics
from mgsearch.pareto import best_accuracy, front_axis, pareto_front, state_counts
from mgsearch.store.records import TrialRecord, records_from_trials
from mgsearch.study import PRIMARY_OBJECTIVE, StudyConfig

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

__all__ = ["Progress", "status_counts", "pareto_rows", "summary_metrics", "is_feasible", "eta_seconds", "clock",
           "trial_text"]


def _records(trials: Sequence["FrozenTrial | TrialRecord"]) -> list[TrialRecord]:
    if all(isinstance(t, TrialRecord) for t in trials):
        return list(trials)  # type: ignore[arg-type]
    return records_from_trials(trials)


def is_feasible(trial: "FrozenTrial") -> bool:
    """All stored constraint values <= 0 (no budget: feasible)."""
    return records_from_trials([trial])[0].feasible


def status_counts(trials: Sequence["FrozenTrial | TrialRecord"]) -> dict[str, int]:
    """Trials per status of the storage contract (:func:`mgsearch.pareto.state_counts`), the
    statuses that occur only, sorted by name."""
    return {k: v for k, v in sorted(state_counts(_records(trials)).items()) if v}


def summary_metrics(config: StudyConfig | None = None) -> tuple[list[str], list[str]]:
    """``(front, shown)`` metric names of the end-of-search summary: the front is taken over val_acc,
    the always-shown analytic metrics (params, MACs) and the study's further objectives; the rows
    also show the metrics the budget limits."""
    front = [PRIMARY_OBJECTIVE] + [m.name for m in metrics(ANALYTIC, where=lambda m: m.shown)]
    for name in (config.objectives if config is not None else ()):
        if name not in front:
            front.append(name)
    shown = front + [n for n in (config.limits if config is not None else ()) if n not in front]
    return front, shown


def pareto_rows(trials: Sequence["FrozenTrial | TrialRecord"], config: StudyConfig | None = None) -> list[dict[str, Any]]:
    """The study's Pareto front: :func:`mgsearch.pareto.pareto_front` over :func:`mgsearch.pareto.front_axis`
    (val_acc vs params unless a further objective names another cost), the same trials the report
    highlights, sorted by that cost.

    Each row: ``trial``, one key per shown metric (:func:`summary_metrics`; None where a trial lacks it),
    ``spec_hash``."""
    _, shown = summary_metrics(config)
    axis = front_axis(config.objectives if config is not None else ())
    return [{"trial": r.number, **{n: r.value(n) for n in shown}, "spec_hash": (r.spec_hash or "")[:12]}
            for r in pareto_front(_records(trials), axis)]


#: statuses whose trials trained to the end: the ETA is taken from their times only
ETA_STATUSES = ("trained",)


def eta_seconds(trials: Sequence["FrozenTrial"], n_trials: int | None, *, workers: int = 1) -> float | None:
    """Seconds until ``n_trials`` trials have finished: the trials still to run x the mean wall time of
    the trained trials (``wall_seconds``), divided among ``workers``. Infeasible and duplicate trials
    (milliseconds) and pruned ones never enter the mean, so the estimate assumes every remaining trial
    trains: an upper bound. None when unknown (no ``n_trials``, no trained trial yet)."""
    from optuna.trial import TrialState

    if n_trials is None:
        return None
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    remaining = n_trials - len(done)
    if remaining <= 0:
        return 0.0
    times = []
    for t in done:
        if t.user_attrs.get("status") in ETA_STATUSES:
            seconds = t.user_attrs.get("wall_seconds", t.user_attrs.get("train_seconds"))
            if isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0:
                times.append(float(seconds))
    if not times:
        return None
    return remaining * (sum(times) / len(times)) / max(1, workers)


def clock(seconds: float | None) -> str:
    """``75.2`` -> ``"1:15"``, ``3725`` -> ``"1:02:05"``; None -> ``"-"``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """What a search shows on stderr while it runs.

    Lines (the same on a terminal and in a log): one when the run starts, one per epoch of every trial
    this process trains, one per finished trial that is not infeasible (any worker's; infeasible trials
    cost milliseconds and are only counted), with the counts, the best feasible val accuracy and the
    ETA (:func:`eta_seconds`)::

        study s: 3 of 8 trials finished, 5 to go
        trial 3 epoch 1/2: val_acc 0.4123 (2.1 s)
        trial 3 epoch 2/2: val_acc 0.4500 (4.2 s)
        trial 3 trained: val_acc 0.4500, 1.2k params, 203k MACs, 4.3 s | 4/8 finished (infeasible 3, trained 1), best 0.4500, ETA 0:17

    On a terminal a tqdm bar over the trials stays below the lines; its description follows the running
    trial down to the batch. Elsewhere (a file, a pipe) there is no bar: plain lines, no carriage
    returns or escape sequences. ``enabled=False`` shows nothing.
    """

    #: seconds between two batch-level refreshes of the bar
    BATCH_REFRESH_S = 0.25

    def __init__(self, config: StudyConfig, *, enabled: bool = True, stream: Any = None,
                 tty: bool | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else bool(tty)
        self.name = config.name
        self.n_trials = config.n_trials
        self.epochs = config.epochs
        self.bar: Any = None
        self._n = 0
        self._seen: set[int] | None = None
        self._trial: int | None = None
        self._t0 = 0.0
        self._last_refresh = 0.0
        self._last_note: str | None = None
        if enabled and self.tty:
            from tqdm import tqdm

            total = "/{total_fmt}" if self.n_trials else ""
            pct = "{percentage:3.0f}%|{bar}| " if self.n_trials else ""
            self.bar = tqdm(total=self.n_trials, desc=config.name, unit="trial", file=self.stream,
                            dynamic_ncols=True, leave=True,
                            bar_format="{desc}: " + pct + "{n_fmt}" + total + " trials [{elapsed}{postfix}]")

    @property
    def wants_batches(self) -> bool:
        """Whether :meth:`batch` shows anything (only the terminal bar does)."""
        return self.bar is not None

    # ------------------------------------------------------------------ output
    def line(self, text: str) -> None:
        """One line of progress: above the bar on a terminal, plain text elsewhere."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def message(self, text: str) -> None:
        """A line that is shown even with progress off (a trial that failed): above the bar on a terminal."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    # ------------------------------------------------------------------ events
    def update(self, trials: Sequence["FrozenTrial"]) -> None:
        """Refresh from the study's trials (all workers' trials count): a line per newly finished trial."""
        if not self.enabled:
            return
        from optuna.trial import TrialState

        done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        running = sum(1 for t in trials if t.state == TrialState.RUNNING)
        if self._seen is None:  # the first look: what finished before this run is not reported again
            self._seen = {t.number for t in done}
            of = f" of {self.n_trials}" if self.n_trials else ""
            togo = f", {max(0, self.n_trials - len(done))} to go" if self.n_trials else ", running until the timeout"
            self.line(f"study {self.name}: {len(done)}{of} trials finished{togo}")
        new = sorted((t for t in done if t.number not in self._seen), key=lambda t: t.number)
        self._seen.update(t.number for t in new)
        counts = status_counts(done)
        best = best_accuracy(_records(done))
        best_text = f"{best:.4f}" if best is not None else "-"
        eta = clock(eta_seconds(trials, self.n_trials, workers=1 + running))
        of = f"/{self.n_trials}" if self.n_trials else ""
        summary = (f"{len(done)}{of} finished ({', '.join(f'{k} {v}' for k, v in counts.items())}), "
                   f"best {best_text}, ETA {eta}")
        for t in new:
            if t.user_attrs.get("status") != "infeasible":
                self.line(f"trial {t.number} {trial_text(t)} | {summary}")
        if self.bar is not None:
            self.bar.update(len(done) - self._n)
            self._n = len(done)
            self.bar.set_postfix_str(
                f"best={best_text} trained={counts.get('trained', 0)} pruned={counts.get('pruned', 0)} "
                f"infeasible={counts.get('infeasible', 0)} dup={counts.get('duplicate', 0)} ETA={eta}",
                refresh=True,
            )

    def trial_started(self, number: int) -> None:
        """This process starts trial ``number``."""
        self._trial = number
        self._t0 = time.perf_counter()
        self._last_note = None
        if self.bar is not None:
            self.bar.set_description_str(f"{self.name} trial {number}", refresh=True)

    def epoch(self, epoch: int, val_acc: float) -> None:
        """The running trial finished ``epoch`` (from 1) with ``val_acc``: one line."""
        acc = f"{val_acc:.4f}" if math.isfinite(val_acc) else "-"
        self.line(f"trial {self._trial} epoch {epoch}/{self.epochs}: val_acc {acc} "
                  f"({time.perf_counter() - self._t0:.1f} s)")

    def batch(self, epoch: int, batch: int, batches: int) -> None:
        """Batch-level progress inside an epoch: the bar's description, at most every 0.25 s (terminal only)."""
        if self.bar is None:
            return
        now = time.perf_counter()
        if batch < batches and now - self._last_refresh < self.BATCH_REFRESH_S:
            return
        self._last_refresh = now
        self.bar.set_description_str(
            f"{self.name} trial {self._trial} epoch {epoch}/{self.epochs} batch {batch}/{batches}", refresh=True)

    def note(self, text: str) -> None:
        """A state of the run (``waiting for 2 running trial(s)``): the bar's description, or one line
        (not repeated while it stays the same)."""
        if self.bar is not None:
            self.bar.set_description_str(text, refresh=True)
        elif text != self._last_note:
            self.line(text)
        self._last_note = text

    def close(self) -> None:
        """End the bar (its line is kept and ended, so later messages start on their own line)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def trial_text(t: "FrozenTrial") -> str:
    """``trained: val_acc 0.4500, 1.2k params, 203k MACs, 4.3 s`` (status first; what the status has)."""
    from mgsearch.metrics.numbers import human_count

    a = t.user_attrs
    status = a.get("status") or t.state.name.lower()
    head = {"pruned": f"pruned after epoch {len(a.get('val_history') or []) or '?'}",
            "duplicate": f"duplicate of trial {a.get('duplicate_of', '?')}",
            "diverged": f"diverged in epoch {a.get('diverged_epoch', '?')}"}.get(status, status)
    parts = []
    if isinstance(a.get("val_acc"), (int, float)) and status != "diverged":
        parts.append(f"val_acc {float(a['val_acc']):.4f}")
    for key, unit in (("params", "params"), ("macs", "MACs")):
        if isinstance(a.get(key), (int, float)):
            parts.append(f"{human_count(a[key])} {unit}")
    if isinstance(a.get("wall_seconds"), (int, float)):
        parts.append(f"{float(a['wall_seconds']):.1f} s")
    return f"{head}: {', '.join(parts)}" if parts else head
