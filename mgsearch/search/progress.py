"""Progress bar over trials (stderr) and the end-of-search summary: counts and the feasible Pareto set."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, Sequence

from mgsearch.metrics import ANALYTIC, MAXIMIZE, get_metric, metrics
from mgsearch.study import PRIMARY_OBJECTIVE, StudyConfig

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

__all__ = ["Progress", "status_counts", "pareto_rows", "summary_metrics", "is_feasible"]


def is_feasible(trial: "FrozenTrial") -> bool:
    """All stored constraint values <= 0 (no budget: feasible)."""
    return all(float(v) <= 0 for v in trial.user_attrs.get("constraints") or [])


def status_counts(trials: Sequence["FrozenTrial"]) -> dict[str, int]:
    """Trials per status: the stored ``status`` attr, or the Optuna state for trials without one."""
    out: dict[str, int] = {}
    for t in trials:
        status = t.user_attrs.get("status") or t.state.name.lower()
        out[status] = out.get(status, 0) + 1
    return dict(sorted(out.items()))


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


def pareto_rows(trials: Sequence["FrozenTrial"], config: StudyConfig | None = None) -> list[dict[str, Any]]:
    """Feasible trained trials not dominated on the summary metrics (:func:`summary_metrics`: val_acc max,
    params min, MACs min, further objectives by their direction), sorted by params.

    Each row: ``trial``, one key per shown metric (None where a trial lacks it), ``spec_hash``."""
    from optuna.trial import TrialState

    front_names, shown = summary_metrics(config)
    sign = {n: (1.0 if get_metric(n).direction == MAXIMIZE else -1.0) for n in front_names}
    rows = []
    for t in trials:
        a = t.user_attrs
        if t.state != TrialState.COMPLETE or a.get("status") != "trained" or not is_feasible(t):
            continue
        row: dict[str, Any] = {"trial": t.number}
        row.update({n: get_metric(n).read(a.get(n)) for n in shown})
        row["spec_hash"] = a.get("spec_hash", "")[:12]
        rows.append(row)

    def score(r: dict[str, Any]) -> list[float]:  # larger is better on every front metric
        return [sign[n] * (r[n] if r[n] is not None else -sign[n] * math.inf) for n in front_names]

    def dominates(p: list[float], q: list[float]) -> bool:
        return all(a >= b for a, b in zip(p, q)) and any(a > b for a, b in zip(p, q))

    scores = [score(r) for r in rows]
    front = [r for r, s in zip(rows, scores) if not any(dominates(o, s) for o in scores if o is not s)]
    return sorted(front, key=lambda r: (r["params"], -r["val_acc"], r["trial"]))


class Progress:
    """A tqdm bar over trials on stderr: best feasible val acc, done / pruned / infeasible counts."""

    def __init__(self, config: StudyConfig, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bar = None
        self._n = 0
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=config.n_trials, desc=config.name, unit="trial", file=sys.stderr,
                            dynamic_ncols=True, leave=True)

    def update(self, trials: Sequence["FrozenTrial"]) -> None:
        """Refresh from the study's trials (all workers' trials count)."""
        if self.bar is None:
            return
        from optuna.trial import TrialState

        done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        counts = status_counts(done)
        best = max((float(t.user_attrs["val_acc"]) for t in done
                    if t.user_attrs.get("status") == "trained" and is_feasible(t)), default=None)
        self.bar.update(len(done) - self._n)
        self._n = len(done)
        best_text = f"{best:.4f}" if best is not None else "-"
        self.bar.set_postfix_str(
            f"best={best_text} trained={counts.get('trained', 0)} pruned={counts.get('pruned', 0)} "
            f"infeasible={counts.get('infeasible', 0)} dup={counts.get('duplicate', 0)}",
            refresh=True,
        )

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(text, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
