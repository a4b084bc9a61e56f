"""Progress bar over trials (stderr) and the end-of-search summary: counts and the feasible Pareto set."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Sequence

from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

__all__ = ["Progress", "status_counts", "pareto_rows", "is_feasible"]


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


def pareto_rows(trials: Sequence["FrozenTrial"]) -> list[dict[str, Any]]:
    """Feasible trained trials not dominated in (val_acc max, params min, MACs min), sorted by params."""
    from optuna.trial import TrialState

    rows = []
    for t in trials:
        a = t.user_attrs
        if t.state != TrialState.COMPLETE or a.get("status") != "trained" or not is_feasible(t):
            continue
        rows.append({"trial": t.number, "val_acc": float(a["val_acc"]), "params": int(a["params"]),
                     "macs": int(a["macs"]), "spec_hash": a.get("spec_hash", "")[:12]})

    def dominates(p: dict[str, Any], q: dict[str, Any]) -> bool:
        no_worse = p["val_acc"] >= q["val_acc"] and p["params"] <= q["params"] and p["macs"] <= q["macs"]
        better = p["val_acc"] > q["val_acc"] or p["params"] < q["params"] or p["macs"] < q["macs"]
        return no_worse and better

    front = [r for r in rows if not any(dominates(o, r) for o in rows if o is not r)]
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
