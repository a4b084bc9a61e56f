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

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from mgsearch.errors import BudgetError, MgsearchError, SpecError, StorageError
from mgsearch.metrics import ANALYTIC, MINIMIZE, Metric, budget_metrics, find_metric, get_metric, metrics, resolve_limits
from mgsearch.metrics.numbers import exact_count, finite_float
from mgsearch.spec import ArchSpec, width_slots
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

#: metrics with a typed field on :class:`TrialRecord`; any other metric is read from ``user_attrs``
_TYPED = ("val_acc", "test_acc", "params", "macs", "activations", "latency_ms")
#: trial statuses of the storage contract, plus the states of trials that have not finished
STATUSES = ("trained", "pruned", "infeasible", "duplicate", "diverged", "failed", "running", "waiting")


@dataclass
class TrialRecord:
    """One trial of a study as plain values (see the storage contract for the meaning of each)."""

    number: int
    state: str  # Optuna's state name: COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    status: str  # the contract's status; derived from ``state`` where the attribute is missing
    val_acc: float | None = None
    test_acc: float | None = None
    params: int | None = None
    macs: int | None = None
    activations: int | None = None
    latency_ms: float | None = None
    spec_json: str | None = None
    spec_hash: str | None = None
    knobs: dict[str, Any] = field(default_factory=dict)
    constraints: tuple[float, ...] = ()
    strategy: str | None = None
    parent_spec_json: str | None = None
    duplicate_of: int | None = None
    baseline_name: str | None = None
    fidelity: dict[str, Any] | None = None
    last_report: float | None = None  # the last reported (intermediate) val accuracy: pruned trials
    datetime_start: _dt.datetime | None = None
    datetime_complete: _dt.datetime | None = None
    user_attrs: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def spec(self) -> ArchSpec | None:
        """The trial's architecture, or None when the trial stored none (or an unreadable one)."""
        if not self.spec_json:
            return None
        try:
            return ArchSpec.from_json(self.spec_json)
        except SpecError:
            return None

    @cached_property
    def parent_spec(self) -> ArchSpec | None:
        """The LW-DNA parent (widened) architecture, where the trial has one."""
        if not self.parent_spec_json:
            return None
        try:
            return ArchSpec.from_json(self.parent_spec_json)
        except SpecError:
            return None

    @property
    def feasible(self) -> bool:
        """True when every stored constraint value is <= 0 (no constraints stored: True)."""
        return all(c <= 0 for c in self.constraints)

    @property
    def trained(self) -> bool:
        """A trained trial with a validation accuracy (duplicates and baselines' copies excluded)."""
        return self.status == "trained" and self.val_acc is not None

    def value(self, metric: str) -> float | None:
        """The record's value of ``metric`` (a registered name or alias); None where not stored."""
        if metric in _TYPED:
            return getattr(self, metric)
        m = get_metric(metric)
        return getattr(self, m.name) if m.name in _TYPED else m.read(self.user_attrs.get(m.name))

    def cost(self, axis: str) -> float | None:
        """The record's cost on ``axis`` (a minimised metric: ``params``, ``macs``, ``latency_ms``...)."""
        return self.value(_axis(axis).name)

    @property
    def label(self) -> str:
        """``#12`` for a trial, the baseline's name for a baseline."""
        return self.baseline_name or f"#{self.number}"


@dataclass
class StudyData:
    """A study read from storage: its attributes, its trials and its baselines."""

    name: str
    storage: str  # URL with any password removed
    directions: tuple[str, ...]
    attrs: dict[str, Any]
    records: list[TrialRecord]
    baselines: list[TrialRecord] = field(default_factory=list)
    source: str | None = None  # the study file, when loaded from one

    @property
    def dataset(self) -> str | None:
        """The dataset name stored with the study."""
        d = self.attrs.get("dataset")
        if isinstance(d, Mapping):
            return d.get("name") or json.dumps(d, sort_keys=True)
        return d

    @property
    def budget(self) -> dict[str, Any]:
        """``{"max_params", "max_macs", "max_latency_ms", ...}``: every registered budget key (None where unset)."""
        b = self.attrs.get("budget") or {}
        return {m.budget_key: b.get(m.budget_key) for m in budget_metrics()}

    @property
    def limits(self) -> dict[str, Any]:
        """The study's budget as ``{metric name: limit}`` (the limited metrics only, in constraint order)."""
        return {m.name: v for m in budget_metrics() if (v := self.budget.get(m.budget_key)) is not None}

    @property
    def fidelity(self) -> dict[str, Any] | None:
        """The study's training fidelity (epochs, train fraction, batch size)."""
        return self.attrs.get("fidelity")

    @property
    def objectives(self) -> list[str]:
        """The objectives, e.g. ``["val_acc"]`` or ``["val_acc", "params"]``."""
        return list(self.attrs.get("objectives") or ["val_acc"])

    def trial(self, number: int) -> TrialRecord:
        """The record of trial ``number``; an unknown number is a :class:`MgsearchError`."""
        for rec in self.records:
            if rec.number == number:
                return rec
        last = max((r.number for r in self.records), default=None)
        have = "it has no trials" if last is None else f"trial numbers run 0..{last}"
        raise MgsearchError(f"study {self.name!r} has no trial {number}; {have}")


# --------------------------------------------------------------------------- loading
def _resolve(target: str | Path, storage: str | None, study_name: str | None) -> tuple[str, str | None, str | None]:
    """(storage URL, study name or None, study file or None) for a study file, DB file or URL."""
    text = str(target)
    if "://" in text:
        return text, study_name, None
    path = Path(text)
    if path.suffix == ".toml":
        if not path.is_file():
            raise MgsearchError(f"{path}: study file not found")
        from mgsearch.study import load_study_config  # the search's study-file reader

        cfg = load_study_config(path, {"storage": storage} if storage else None)
        return cfg.storage, study_name or cfg.name, str(path)
    if storage:
        return storage, study_name, None
    return f"sqlite:///{path.resolve()}", study_name, None


_float = finite_float


def _int(v: Any) -> int | None:
    f = _float(v)
    return None if f is None else int(f)


_STATE_STATUS = {"PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}


def records_from_trials(trials: Iterable[Any]) -> list[TrialRecord]:
    """Turn Optuna ``FrozenTrial`` objects into :class:`TrialRecord` values."""
    out = []
    for t in trials:
        ua = dict(t.user_attrs)
        state = t.state.name
        status = ua.get("status")
        if state in ("RUNNING", "WAITING"):
            status = _STATE_STATUS[state]
        elif not isinstance(status, str):
            status = _STATE_STATUS.get(state, "trained" if ua.get("val_acc") is not None else "failed")
        cons = ua.get("constraints")
        if cons is None:
            cons = t.system_attrs.get("constraints") if hasattr(t, "system_attrs") else None
        out.append(
            TrialRecord(
                number=t.number,
                state=state,
                status=status,
                val_acc=_float(ua.get("val_acc")),
                test_acc=_float(ua.get("test_acc")),
                params=_int(ua.get("params")),
                macs=_int(ua.get("macs")),
                activations=_int(ua.get("activations")),
                latency_ms=_float(ua.get("latency_ms")),
                spec_json=ua.get("spec"),
                spec_hash=ua.get("spec_hash"),
                knobs=dict(t.params),
                constraints=tuple(float(c) for c in (cons or ()) if _float(c) is not None),
                strategy=ua.get("strategy"),
                parent_spec_json=ua.get("parent_spec"),
                duplicate_of=_int(ua.get("duplicate_of")),
                baseline_name=ua.get("baseline_name"),
                fidelity=ua.get("fidelity"),
                last_report=_float(t.intermediate_values[max(t.intermediate_values)]) if t.intermediate_values else None,
                datetime_start=t.datetime_start,
                datetime_complete=t.datetime_complete,
                user_attrs=ua,
            )
        )
    out.sort(key=lambda r: r.number)
    return out


def _trials(store: Any, study_id: int) -> list[Any]:
    """The trials of ``study_id``: a direct read of Optuna's RDB tables (about 10x faster than the
    ORM for thousands of trials), falling back to Optuna's own reader should the schema differ."""
    try:
        return read_trials_sql(store.engine, study_id)
    except Exception:
        return store.get_all_trials(study_id, deepcopy=False)


def read_trials_sql(engine: Any, study_id: int) -> list[Any]:
    """Read the trials of ``study_id`` with SQLAlchemy Core from Optuna's RDB schema (v3+) as
    objects with the ``FrozenTrial`` attributes :func:`records_from_trials` uses."""
    import types

    import sqlalchemy as sa
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState

    md = sa.MetaData()
    names = ("trials", "trial_user_attributes", "trial_params", "trial_intermediate_values")
    trials_t, attrs_t, params_t, inter_t = (sa.Table(n, md, autoload_with=engine) for n in names)
    out: dict[int, Any] = {}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(trials_t.c.trial_id, trials_t.c.number, trials_t.c.state,
                                      trials_t.c.datetime_start, trials_t.c.datetime_complete)
                            .where(trials_t.c.study_id == study_id)).fetchall()
        for tid, number, state, start, end in rows:
            state_name = state.name if hasattr(state, "name") else str(state)
            out[tid] = types.SimpleNamespace(
                number=number, state=TrialState[state_name], datetime_start=start, datetime_complete=end,
                user_attrs={}, params={}, intermediate_values={}, system_attrs={},
            )
        ids = sa.select(trials_t.c.trial_id).where(trials_t.c.study_id == study_id).scalar_subquery()
        for tid, key, value in conn.execute(
            sa.select(attrs_t.c.trial_id, attrs_t.c.key, attrs_t.c.value_json).where(attrs_t.c.trial_id.in_(ids))
        ):
            out[tid].user_attrs[key] = json.loads(value)
        dists: dict[str, Any] = {}
        for tid, name, value, dist in conn.execute(
            sa.select(params_t.c.trial_id, params_t.c.param_name, params_t.c.param_value,
                      params_t.c.distribution_json).where(params_t.c.trial_id.in_(ids))
        ):
            if dist not in dists:
                dists[dist] = json_to_distribution(dist)
            out[tid].params[name] = dists[dist].to_external_repr(value)
        for tid, step, value, kind in conn.execute(
            sa.select(inter_t.c.trial_id, inter_t.c.step, inter_t.c.intermediate_value,
                      inter_t.c.intermediate_value_type).where(inter_t.c.trial_id.in_(ids))
        ):
            kind_name = kind.name if hasattr(kind, "name") else str(kind)
            out[tid].intermediate_values[step] = value if kind_name == "FINITE" else float("nan")
    return list(out.values())


def load_study(
    study: str | Path, study_name: str | None = None, *, storage: str | None = None
) -> StudyData:
    """Read a study (and its ``<name>.baselines`` study, if present) from storage.

    ``study`` is a study file (``.toml``; its storage and name are used unless ``storage`` /
    ``study_name`` override them), an SQLite database file, or a storage URL. With a database that
    holds one study, ``study_name`` may be omitted. Errors (no database, unknown study) are
    :class:`~mgsearch.errors.StorageError` naming the database and the studies it holds.
    """
    import optuna

    from mgsearch.store import database_error, open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url, name, source = _resolve(study, storage, study_name)
    safe = redact_url(url)
    # an existing study database only, read-only: nothing is created, migrated or written
    store = open_storage(url, mode="read", heartbeat_interval=None, grace_period=None)
    try:
        names = [s.study_name for s in store.get_all_studies()]  # (study summaries would read every trial)
    except Exception as exc:  # SQLAlchemy / driver errors: one line, no credentials
        raise database_error(exc, url, "cannot read the study database") from None
    if name is None:
        main = [n for n in names if not n.endswith(".baselines")]
        if len(main) != 1:
            raise StorageError(f"{safe} holds {len(main)} studies ({', '.join(main) or 'none'}); pass --study-name")
        name = main[0]
    if name not in names:
        raise StorageError(f"{safe} has no study {name!r}; it holds: {', '.join(names) or 'no studies'}")
    # read through the RDB storage itself: optuna.load_study's cache deep-copies every trial
    sid = store.get_study_id_from_name(name)
    baselines: list[TrialRecord] = []
    if f"{name}.baselines" in names:
        bid = store.get_study_id_from_name(f"{name}.baselines")
        baselines = records_from_trials(_trials(store, bid))
        for rec in baselines:
            if rec.baseline_name is None:
                rec.baseline_name = f"baseline #{rec.number}"
    return StudyData(
        name=name,
        storage=safe,
        directions=tuple(d.name.lower() for d in store.get_study_directions(sid)),
        attrs=dict(store.get_study_user_attrs(sid)),
        records=records_from_trials(_trials(store, sid)),
        baselines=baselines,
        source=source,
    )


# --------------------------------------------------------------------------- metrics of a study
def cost_axes() -> tuple[str, ...]:
    """The metrics a front can be drawn over: every registered minimised metric."""
    return tuple(m.name for m in metrics(where=lambda m: m.direction == MINIMIZE))


def _axis(axis: str) -> Metric:
    m = find_metric(axis)
    if m is None or m.direction != MINIMIZE:
        raise MgsearchError(f"cost={axis!r} is unknown; allowed: {', '.join(cost_axes())}")
    return m


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


def feasible(records: Iterable[TrialRecord], cost: str | None = None) -> list[TrialRecord]:
    """Trained, feasible trials (with a value on the ``cost`` axis when given), one per spec.

    Duplicates are excluded (their status is ``duplicate``); should one spec have been trained twice
    (a retry), the earliest trial stands for it.
    """
    axis = _axis(cost).name if cost else None
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
    axis = _axis(cost).name
    cand = feasible(records, axis)
    cand.sort(key=lambda r: (r.value(axis), -r.val_acc, r.number))
    front: list[TrialRecord] = []
    best_acc = -math.inf
    for rec in cand:
        if rec.val_acc > best_acc:
            front.append(rec)
            best_acc = rec.val_acc
    return front


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
    axis = _axis(cost).name
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

    Records without a readable spec are skipped. Columns keep the order in which slot names first
    appear, so networks of equal structure line up slot by slot.
    """
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



def state_counts(records: Iterable[TrialRecord]) -> dict[str, int]:
    """How many trials have each status (every status of :data:`STATUSES` present, 0 if none)."""
    counts = {s: 0 for s in STATUSES}
    for rec in records:
        counts[rec.status] = counts.get(rec.status, 0) + 1
    return counts


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
