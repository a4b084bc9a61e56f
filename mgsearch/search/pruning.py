"""Pruning that compares a trial only with trials that trained.

Infeasible and duplicate trials are COMPLETE in Optuna's eyes but train nothing. Optuna's
Median/Percentile pruner counts every COMPLETE trial towards ``n_startup_trials`` and takes its
reference values from the COMPLETE trials that reported the step. After a few infeasible trials it
therefore starts pruning against one or two real results, and since pruned trials never join the
reference, the reference holds only the best survivors and the pruner ends up stopping nearly every
trial (measured on the quickstart study with Optuna's pruner: 25 of 27 trainable trials pruned, most
of them at the first epoch against one or two finished trials; with infeasible trials left out but
pruned trials still excluded from the reference: 21 of 26). Successive halving and Hyperband take
their rung values from every trial that holds one: a trial that failed after some epochs, and a
retry of it (Optuna's retry copies the failed run's rung values), count as well.

Every pruner of a study therefore sees the study through one view (:func:`trained_itself`):
finished trials that trained at least one epoch themselves (``trained``, ``pruned``, ``diverged``),
plus running ones. Infeasible, duplicate and failed trials do not count.

* :class:`TrainedTrialsOnly` wraps the median / percentile and successive-halving pruners;
* :class:`TrainedTrialsHyperband` is Hyperband with each bracket seen that way;
* :class:`ParetoPruner` stops a trial of a multi-objective study (which Optuna never prunes) that a
  cheaper trial beat at the same epoch by a margin.
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

__all__ = ["TRAINED_STATUSES", "trained_itself", "TrainedTrialsOnly", "TrainedTrialsHyperband", "ParetoPruner"]

#: statuses of finished trials that trained epochs themselves (their values are a training's)
TRAINED_STATUSES = ("trained", "pruned", "diverged")
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
_UNFINISHED = (TrialState.RUNNING, TrialState.WAITING)


def trained_itself(trial: FrozenTrial) -> bool:
    """Whether a finished trial trained at least one epoch itself: its ``status`` is one of
    :data:`TRAINED_STATUSES` (infeasible, duplicate and failed trials are not). A trial without a
    ``status`` attribute (not written by mgsearch) counts when it reported an epoch."""
    status = trial.user_attrs.get("status")
    if status is None:
        return bool(trial.intermediate_values)
    return status in TRAINED_STATUSES and bool(trial.intermediate_values or trial.user_attrs.get("val_history"))


class _TrainedTrialsView:
    """A study as the pruners of this module show it to Optuna's pruners.

    Asked for COMPLETE trials, it answers with every trial that trained at least one epoch itself
    (:func:`trained_itself`): the completed ones and the pruned ones (each with the epochs it
    reached). Running and waiting trials are passed on (successive halving compares with the rung
    values of trials still running); finished trials that did not train (infeasible, duplicates) and
    failed trials are left out.
    """

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        if states is None:
            ask = None
        else:
            wanted = set(states)  # type: ignore[arg-type]
            if TrialState.COMPLETE in wanted:
                wanted.add(TrialState.PRUNED)
            ask = tuple(wanted)
        trials = self._study.get_trials(deepcopy=deepcopy, states=ask)
        return [t for t in trials if t.state in _UNFINISHED or (t.state in _FINISHED and trained_itself(t))]


class TrainedTrialsOnly(optuna.pruners.BasePruner):
    """Wraps a percentile (median) or successive-halving pruner: a trial is compared with the trials that trained.

    The inner pruner's start-up count and reference values come from every other trial that trained
    at least one epoch itself, whether it completed or was pruned later (a pruned trial counts at the
    epochs it reached, as in successive halving's rungs); trials that never trained (infeasible,
    duplicate) and failed trials do not count. With Optuna's rule (completed trials only) the median's
    reference holds only the survivors of earlier pruning and the share of pruned trials creeps
    towards all of them; successive halving would count the rung values of failed trials and of
    retries, which inherit their failed run's values.

    Args:
        inner: the pruner to consult with that view of the study.
    """

    def __init__(self, inner: optuna.pruners.BasePruner) -> None:
        self.inner = inner

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        return bool(self.inner.prune(_TrainedTrialsView(study), trial))  # type: ignore[arg-type]


class TrainedTrialsHyperband(optuna.pruners.HyperbandPruner):
    """Optuna's Hyperband whose successive-halving brackets see only the trials that trained.

    Hyperband hands each bracket's pruner a study of the trials of that bracket, read straight from
    the storage, so wrapping it in :class:`TrainedTrialsOnly` would change nothing: here the bracket's
    study itself is seen through the same view. The sampler's view of a bracket (Optuna's
    ``_filter_study``) is untouched: it still learns from infeasible and duplicate trials.
    Takes :class:`optuna.pruners.HyperbandPruner`'s arguments.
    """

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        # Optuna's prune, with the bracket study wrapped (the bracket bookkeeping is Optuna's own)
        if len(self._pruners) == 0:
            self._try_initialization(study)
            if len(self._pruners) == 0:
                return False
        bracket_id = self._get_bracket_id(study, trial)
        bracket = self._create_bracket_study(study, bracket_id)
        return bool(self._pruners[bracket_id].prune(_TrainedTrialsView(bracket), trial))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- multi-objective
@dataclass(frozen=True)
class FrontPoint:
    """What a finished trial that trained shows the :class:`ParetoPruner`: its number, its values of
    the cost objectives, and its validation accuracy per epoch reached."""

    number: int
    costs: Mapping[str, float]
    history: Sequence[float]


@dataclass(frozen=True)
class ParetoPruner:
    """Stops a trial of a multi-objective study that a cheaper trial beat at the same epoch by ``margin``.

    The rule: after epoch ``e`` (never after the last epoch), trial ``t`` is stopped when another trial
    ``r`` that trained at least ``e`` epochs itself has, on every cost objective, a value no worse than
    ``t``'s (e.g. params <= ``t``'s params), and at epoch ``e`` a validation accuracy at least
    ``margin`` higher than ``t``'s. In other words ``t`` lies at least ``margin`` below the front of
    (cost, accuracy at epoch e) of the trials that trained: it is compared only with trials that cost
    no more. Costlier trials never stop it, so a trial can always buy accuracy with cost. Pruning
    starts once ``startup_trials`` trials that trained reached epoch ``e``.

    Only trials that trained count (:func:`trained_itself`): infeasible, duplicate and failed trials
    neither start the pruner nor stop anyone; a trial pruned earlier counts at the epochs it reached;
    trials still running (other workers) do not count. Optuna's ``trial.report`` refuses
    multi-objective studies, so the accuracies come from the ``val_history`` attribute of finished
    trials and the running trial's own history, and the objective raises ``optuna.TrialPruned``
    itself (Optuna then records the trial PRUNED, as for a single objective).

    Args:
        costs: the study's objectives after ``val_acc`` (``("params",)``), each judged in its registered
            direction.
        margin: accuracy (a fraction: 0.01 is one point) by which the cheaper trial must be ahead.
        startup_trials: trials that trained to epoch ``e`` before any trial is pruned at ``e``.
    """

    costs: tuple[str, ...]
    margin: float = 0.01
    startup_trials: int = 5

    def prune(self, study: optuna.Study, number: int, costs: Mapping[str, Any], history: Sequence[float]) -> bool:
        """Whether trial ``number`` of ``study`` (with ``costs`` and its accuracy per epoch so far) stops now."""
        return self.dominator(front_points(study.get_trials(deepcopy=False, states=_FINISHED), self.costs,
                                           exclude=number), costs, history) is not None

    def dominator(self, points: Iterable[FrontPoint], costs: Mapping[str, Any],
                  history: Sequence[float]) -> int | None:
        """The number of the earliest trial among ``points`` that beats a trial with ``costs`` and
        ``history`` at its last epoch by the margin at no higher cost; None when none does, when fewer
        than ``startup_trials`` reached that epoch, or when a cost of the trial is unknown."""
        from mgsearch.metrics import MAXIMIZE, get_metric

        epoch = len(history)
        mine = {name: _number(costs.get(name)) for name in self.costs}
        if epoch == 0 or any(v is None for v in mine.values()) or not math.isfinite(history[-1]):
            return None
        reached = [p for p in points if len(p.history) >= epoch]
        if len(reached) < max(1, self.startup_trials):
            return None
        sign = {name: (-1.0 if get_metric(name).direction == MAXIMIZE else 1.0) for name in self.costs}
        acc = float(history[-1])
        for p in sorted(reached, key=lambda p: p.number):
            if all(sign[n] * p.costs[n] <= sign[n] * mine[n] for n in self.costs) \
                    and p.history[epoch - 1] - acc >= self.margin - 1e-12:
                return p.number
        return None


def front_points(trials: Iterable[FrozenTrial], costs: Sequence[str], exclude: int | None = None) -> list[FrontPoint]:
    """The finished trials that trained themselves (:func:`trained_itself`) with every cost value and
    a finite ``val_history``, as :class:`FrontPoint` values; trial ``exclude`` is left out."""
    out = []
    for t in trials:
        if t.number == exclude or t.state not in _FINISHED or not trained_itself(t):
            continue
        values = {name: _number(t.user_attrs.get(name)) for name in costs}
        history = t.user_attrs.get("val_history")
        if any(v is None for v in values.values()) or not isinstance(history, list):
            continue
        accs = [_number(a) for a in history]
        if not accs or any(a is None for a in accs):
            continue
        out.append(FrontPoint(t.number, values, accs))  # type: ignore[arg-type]
    return out


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, not a number, NaN / infinite, a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
