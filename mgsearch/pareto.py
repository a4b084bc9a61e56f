"""Feasibility, status counts, Pareto fronts and budget queries over stored trial records.

The one implementation both the search (its progress line and end-of-search summary) and the
report / export (fronts, ``best``) use: it works on :class:`~mgsearch.store.records.TrialRecord`
values (``records_from_trials`` turns Optuna trials into records), so ``search`` need not import
``report``. Pure Python; no optuna, no plotly.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

from mgsearch.errors import BudgetError, MgsearchError
from mgsearch.metrics import ANALYTIC, MAXIMIZE, MINIMIZE, get_metric, metrics, resolve_limits
from mgsearch.metrics.numbers import exact_count
from mgsearch.store.records import STATUSES, StudyData, TrialRecord, cost_axis

__all__ = ["feasible", "pareto_front", "front_axis", "non_dominated", "state_counts", "best_accuracy", "best"]


def feasible(records: Iterable[TrialRecord], cost: str | None = None) -> list[TrialRecord]:
    """Trained, feasible trials (with a value on the ``cost`` axis when given), one per spec.

    Duplicates are excluded (their status is ``duplicate``); should one spec have been trained twice
    (a retry), the earliest trial stands for it.
    """
    axis = cost_axis(cost).name if cost else None
    seen: set[str] = set()
    out = []
    for rec in sorted(records, key=lambda r: r.number):
        if not rec.trained or not rec.feasible:
            continue
        if axis is not None and rec.value(axis) is None:
            continue
        if rec.spec_hash:
            if rec.spec_hash in seen:
                continue
            seen.add(rec.spec_hash)
        out.append(rec)
    return out


def pareto_front(records: Iterable[TrialRecord], cost: str = "params") -> list[TrialRecord]:
    """The feasible trained trials that no other one dominates (higher-or-equal accuracy at
    lower-or-equal cost, better in one), sorted by cost ascending.

    Ties: of several trials with equal cost and equal accuracy only the earliest is kept; equal
    accuracy at a higher cost, or equal cost at a lower accuracy, is dominated.
    """
    axis = cost_axis(cost).name
    cand = feasible(records, axis)
    cand.sort(key=lambda r: (r.value(axis), -r.val_acc, r.number))
    front: list[TrialRecord] = []
    best_acc = -math.inf
    for rec in cand:
        if rec.val_acc > best_acc:
            front.append(rec)
            best_acc = rec.val_acc
    return front


def front_axis(objectives: Sequence[str] = ()) -> str:
    """The cost axis of *the* Pareto front of a study, the one the end-of-search summary lists and the
    report highlights (its table, ``report --json``): the study's first minimised objective after
    accuracy, else ``params``. Both take :func:`pareto_front` over it, so they name the same trials."""
    for name in objectives:
        m = get_metric(name)
        if m.direction == MINIMIZE:
            return m.name
    return "params"


def non_dominated(records: Sequence[TrialRecord], names: Sequence[str]) -> list[TrialRecord]:
    """The records no other one dominates on the metrics ``names`` (each by its registered direction;
    a missing value is the worst). Records with equal values on every metric all stay."""
    sign = {n: (1.0 if get_metric(n).direction == MAXIMIZE else -1.0) for n in names}

    def score(rec: TrialRecord) -> list[float]:  # larger is better on every metric
        return [sign[n] * (v if (v := rec.value(n)) is not None else -sign[n] * math.inf) for n in names]

    def dominates(p: list[float], q: list[float]) -> bool:
        return all(a >= b for a, b in zip(p, q)) and any(a > b for a, b in zip(p, q))

    scores = [score(r) for r in records]
    return [r for r, s in zip(records, scores) if not any(dominates(o, s) for o in scores if o is not s)]


def state_counts(records: Iterable[TrialRecord]) -> dict[str, int]:
    """How many trials have each status (every status of :data:`STATUSES` present, 0 if none)."""
    counts = {s: 0 for s in STATUSES}
    for rec in records:
        counts[rec.status] = counts.get(rec.status, 0) + 1
    return counts


def best_accuracy(records: Iterable[TrialRecord]) -> float | None:
    """The highest validation accuracy of a trained feasible trial, or None."""
    return max((r.val_acc for r in feasible(records)), default=None)


def best(
    study: StudyData | Sequence[TrialRecord],
    *,
    under: Mapping[str, float] | None = None,
    **max_keys: float | None,
) -> TrialRecord:
    """The most accurate trained feasible trial within the given budget: a query, no training.

    The budget is ``under={metric name: limit}`` and/or budget-key keywords of the registered metrics
    (``max_params=50_000``, ``max_macs=...``, ``max_latency_ms=...``); a trial without a value of a
    limited metric (latency not measured) does not fit. Ties in accuracy go to fewer params, then the
    earlier trial. A budget no trial meets raises :class:`~mgsearch.errors.BudgetError` saying what
    the cheapest trained feasible trial costs.
    """
    records = study.records if isinstance(study, StudyData) else list(study)
    name = f"study {study.name!r}" if isinstance(study, StudyData) else "the study"
    limits = resolve_limits(under, **max_keys)
    for metric, v in limits.items():
        if isinstance(v, bool) or not (isinstance(v, (int, float)) and v > 0):
            raise MgsearchError(f"{get_metric(metric).budget_key}={v!r} must be a positive number")
    pool = feasible(records)
    if not pool:
        raise BudgetError(f"{name} has no trained feasible trial yet; run the search first")
    fits = [r for r in pool if all((x := r.value(a)) is not None and x <= v for a, v in limits.items())]
    if not fits:
        axis = next(iter(limits), "params")
        measured = [r for r in pool if r.value(axis) is not None]
        cheap = min(measured or pool, key=lambda r: (r.value(axis) or 0, r.number))
        want = " and ".join(f"{a} <= {exact_count(v)}" for a, v in limits.items())
        have = ", ".join(_describe_costs(cheap, limits))
        raise BudgetError(
            f"no trained feasible trial of {name} has {want}; the cheapest (by {axis}) is trial "
            f"{cheap.number} with {have} (val_acc {cheap.val_acc:.4f})"
        )
    return max(fits, key=lambda r: (r.val_acc, -(r.params or 0), -r.number))


def _describe_costs(rec: TrialRecord, limits: Mapping[str, Any]) -> list[str]:
    """``["1,000 params", "8,000 MACs", "0.45 ms"]``: the record's shown and limited minimised metrics."""
    out = []
    for m in metrics(where=lambda m: m.direction == MINIMIZE and (m.shown or m.name in limits)):
        v = rec.value(m.name)
        if v is not None or m.kind == ANALYTIC:
            out.append(m.describe(v or 0))
    return out
