"""Pareto analysis of a stored study, as plain data (no plotly here).

A study is read once into :class:`StudyData` (plain :class:`TrialRecord` values, following the
"Study storage contract" of ``docs/architecture.md``); every other function works on records, so
notebooks, the report page and the tests share one implementation::

    data = load_study("studies/quickstart.toml")
    front = pareto_front(data.records, cost="params")
    rec = best(data, max_params=50_000)          # re-slice a budget without training

Accuracies are fractions in [0, 1]. Cost axes are the minimised metrics of the metric registry
(:mod:`mgsearch.metrics`): the analytic params / MACs / ... stored with each trial, and measured ones
such as ``latency_ms`` (``latency`` is read as its older name) where the study measured them.
:func:`study_metrics` and :func:`report_axes` say which metrics a study's report shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from mgsearch.errors import MgsearchError
from mgsearch.metrics import ANALYTIC, MINIMIZE, Metric, metrics
from mgsearch.pareto import best, feasible, pareto_front, state_counts
from mgsearch.spec import width_slots
from mgsearch.store.records import (
    STATUSES,
    StudyData,
    TrialRecord,
    cost_axes,
    cost_axis,
    read_study,
    read_trials,
    records_from_trials,
)
from mgsearch.store.urls import redact_url  # re-exported: the one redaction of storage URLs

__all__ = [
    "cost_axes",
    "study_metrics",
    "report_axes",
    "STATUSES",
    "TrialRecord",
    "StudyData",
    "WidthProfiles",
    "load_study",
    "records_from_trials",
    "read_trials",
    "feasible",
    "pareto_front",
    "hypervolume",
    "hypervolume_history",
    "width_profiles",
    "state_counts",
    "best",
    "redact_url",
    "widths_text",
]


def load_study(
    study: str | Path, study_name: str | None = None, *, storage: str | None = None
) -> StudyData:
    """Read a study (and its ``<name>.baselines`` study, if present) from storage.

    ``study`` is a study file (``.toml``; its storage and name are used unless ``storage`` /
    ``study_name`` override them), an SQLite database file, or a storage URL. With a database that
    holds one study, ``study_name`` may be omitted. Errors (no database, unknown study) are
    :class:`~mgsearch.errors.StorageError` naming the database and the studies it holds.
    """
    from mgsearch.study import locate_study

    url, name, source = locate_study(study, storage=storage, study_name=study_name)
    return read_study(url, name, source=source)


# --------------------------------------------------------------------------- metrics of a study
def study_metrics(data: StudyData) -> list[Metric]:
    """The metrics a study's report shows, in registry order: those shown in every report (accuracy,
    params, MACs, latency), the study's objectives and the metrics its budget limits."""
    used = set(data.objectives) | set(data.limits)
    return [m for m in metrics() if m.shown or m.name in used]


def report_axes(data: StudyData) -> list[str]:
    """The cost axes of a study's fronts: its minimised :func:`study_metrics` that are analytic (every
    trial has them) or that some feasible trained trial measured."""
    return [m.name for m in study_metrics(data) if m.direction == MINIMIZE
            and (m.kind == ANALYTIC or feasible(data.records, m.name))]


# --------------------------------------------------------------------------- analysis
def hypervolume(points: Iterable[tuple[float, float]], ref_cost: float) -> float:
    """Area dominated by ``(cost, acc)`` points inside the box ``cost <= ref_cost``, ``acc >= 0``,
    with cost measured in units of ``ref_cost`` (so the result lies in [0, 1] for acc in [0, 1]).

    The reference point is ``(cost = ref_cost, acc = 0)``: a point at cost ``c`` and accuracy ``a``
    alone dominates ``(1 - c / ref_cost) * a``. Points costing more than ``ref_cost`` add nothing.
    """
    if not ref_cost > 0:
        raise MgsearchError(f"ref_cost={ref_cost} must be positive")
    pts = sorted((c, a) for c, a in points if c <= ref_cost and a > 0)
    hv, best_acc = 0.0, 0.0
    for c, a in pts:
        if a > best_acc:
            hv += (a - best_acc) * (1.0 - c / ref_cost)
            best_acc = a
    return hv


def hypervolume_history(
    records: Sequence[TrialRecord], *, cost: str = "params", ref_cost: float | None = None
) -> tuple[list[int], list[float], float]:
    """Hypervolume (see :func:`hypervolume`) of the feasible front after each trial, in trial order.

    ``ref_cost`` defaults to the largest cost of any feasible trained trial (so the front's most
    expensive point still counts, barely); pass the study's budget (``max_params``) to measure
    against the budget instead. Returns ``(trial_numbers, hypervolumes, ref_cost)``; the
    hypervolume never decreases.
    """
    axis = cost_axis(cost).name
    ordered = sorted(records, key=lambda r: r.number)
    ok = {id(r) for r in feasible(ordered, axis)}
    if ref_cost is None:
        costs = [r.value(axis) for r in ordered if id(r) in ok]
        ref_cost = float(max(costs)) if costs else 1.0
    numbers: list[int] = []
    values: list[float] = []
    # incremental front: recompute the sweep only when a new point enters (fronts are small)
    front: list[tuple[float, float]] = []
    hv = 0.0
    for rec in ordered:
        if id(rec) in ok:
            c, a = float(rec.value(axis)), float(rec.val_acc)
            if not any(fc <= c and fa >= a for fc, fa in front):
                front = [(fc, fa) for fc, fa in front if not (c <= fc and a >= fa)] + [(c, a)]
                hv = hypervolume(front, ref_cost)
        numbers.append(rec.number)
        values.append(hv)
    return numbers, values, float(ref_cost)


@dataclass
class WidthProfiles:
    """Per-layer structure of a set of trials (rows) as matrices (NaN where a row lacks a column).

    ``widths[i, j]`` is row ``i``'s width on slot ``columns[j]`` (names from
    :func:`mgsearch.spec.width_slots`); ``group_sizes`` / ``shares`` are per stage (0 = dense convs).
    """

    labels: list[str]
    numbers: list[int | None]
    columns: list[str]
    widths: np.ndarray
    stage_columns: list[str]
    group_sizes: np.ndarray
    shares: np.ndarray


def width_profiles(records: Sequence[TrialRecord], baselines: Sequence[TrialRecord] = ()) -> WidthProfiles:
    """Width, group-size and share profiles of ``records`` (e.g. a Pareto set), with ``baselines``
    appended as extra rows (labelled by name) so found and uniform networks read side by side.

    Records without a readable spec are skipped. Columns are the slot names of all rows in network
    order (:func:`mgsearch.report.series.slot_order_key`: the stem, then stage by stage its width and
    its blocks' inner widths), so networks of equal structure line up slot by slot.
    """
    from mgsearch.report.series import slot_order_key

    rows = [r for r in list(records) + list(baselines) if r.spec is not None]
    columns: list[str] = []
    index: dict[str, int] = {}
    slot_rows = []
    for rec in rows:
        slots = width_slots(rec.spec)
        for s in slots:
            if s.name not in index:
                index[s.name] = len(columns)
                columns.append(s.name)
        slot_rows.append({s.name: s.value for s in slots})
    columns.sort(key=slot_order_key)
    index = {name: j for j, name in enumerate(columns)}
    widths = np.full((len(rows), len(columns)), np.nan)
    for i, values in enumerate(slot_rows):
        for name, v in values.items():
            widths[i, index[name]] = v
    n_stages = max((len(r.spec.stages) for r in rows), default=0)
    groups = np.full((len(rows), n_stages), np.nan)
    shares = np.full((len(rows), n_stages), np.nan)
    for i, rec in enumerate(rows):
        for j, st in enumerate(rec.spec.stages):
            groups[i, j] = st.group_size or 0
            shares[i, j] = st.share
    return WidthProfiles(
        labels=[r.label for r in rows],
        numbers=[None if r.baseline_name else r.number for r in rows],
        columns=columns,
        widths=widths,
        stage_columns=[f"stages[{j}]" for j in range(n_stages)],
        group_sizes=groups,
        shares=shares,
    )

def widths_text(rec: TrialRecord) -> str:
    """A one-line summary of a record's widths: ``resnet: stem 16 S0 16[8,12] S1 32[24] (s=8 share=2)``."""
    spec = rec.spec
    if spec is None:
        return "-"
    parts = [f"stem {spec.stem.width}"]
    for i, st in enumerate(spec.stages):
        extra = []
        if st.group_size:
            extra.append(f"s={st.group_size}")
        if st.share > 1:
            extra.append(f"share={st.share}")
        inner = ",".join(str(b.inner) for b in st.blocks)
        parts.append(f"S{i} {st.width}[{inner}]" + (f" ({' '.join(extra)})" if extra else ""))
    return f"{spec.family}: " + " ".join(parts)
