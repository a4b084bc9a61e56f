"""The typed trial record of the study storage contract and the names of a study's studies.

``search`` writes what this module names (:data:`TRIAL_ATTRS`, :func:`candidate_attrs`); ``report``,
``export``, ``shrink`` and ``worker`` read it back as :class:`TrialRecord` values
(:func:`records_from_trials`, :func:`read_trials`, :func:`read_study`). The "Study storage contract"
of ``docs/architecture.md`` lists the same attribute names; ``tests/test_storage_contract.py`` checks
that the two agree.

Study names: the main study is ``<name>`` (the study file's name); studies derived from it live in
the same database as ``<name>.<role>`` (:data:`DERIVED_ROLES`: the uniform baselines,
``<name>.baselines``; the retrainings of ``mgsearch confirm``, ``<name>.confirm``, and of ``mgsearch
calibrate``, ``<name>.calibrate``, whose runs are read as :class:`mgsearch.store.runs.RunRecord`).

Importing this module imports neither optuna nor SQLAlchemy (they are imported where used).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from mgsearch.errors import MgsearchError, SpecError, StorageError
from mgsearch.metrics import MINIMIZE, Metric, analytic_values, budget_metrics, find_metric, get_metric, metrics
from mgsearch.metrics.numbers import finite_float
from mgsearch.spec import ArchSpec

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.cost import Cost

__all__ = [
    "STATUSES", "RESULT_STATUSES", "TRIAL_ATTRS", "TYPED_METRICS", "RESERVED_ATTRS", "DERIVED_ROLES",
    "TrialRecord", "StudyData", "baselines_study_name", "confirm_study_name", "calibrate_study_name",
    "derived_study_name", "main_study_names",
    "candidate_attrs", "records_from_trials", "read_trials", "read_study", "cost_axes", "cost_axis", "record_attrs",
]

#: trial statuses of the storage contract, plus the states of trials that have not finished
STATUSES = ("trained", "pruned", "infeasible", "duplicate", "diverged", "failed", "running", "waiting")
#: statuses whose objective values are a real (or inherited) training result
RESULT_STATUSES = ("trained", "diverged", "duplicate")
#: metrics with a typed field on :class:`TrialRecord` (stored under their names); any other
#: registered metric is read from ``user_attrs``
TYPED_METRICS = ("val_acc", "test_acc", "params", "macs", "activations", "latency_ms")

#: every trial attribute the engine writes itself, besides the metric values (the analytic metrics
#: under their names, ``val_acc``, ``latency_ms``): name -> meaning. The storage contract of
#: docs/architecture.md lists exactly these (checked by tests/test_storage_contract.py).
TRIAL_ATTRS: dict[str, str] = {
    "status": "trained, infeasible, duplicate, diverged, pruned or failed",
    "spec": "the trial's ArchSpec as canonical JSON",
    "spec_hash": "the spec's hash (duplicates across the study share it)",
    "constraints": "value - limit per budget limit, in the registry's order (<= 0: feasible)",
    "strategy": "the registered strategy that proposed the spec",
    "val_history": "validation accuracy per epoch",
    "fidelity": "{epochs, train_fraction, batch_size}",
    "wall_seconds": "the whole trial",
    "train_seconds": "training alone",
    "images_per_second": "training throughput",
    "seed": "the training seed",
    "device": "the device trained on",
    "versions": "{mgsearch, torch, optuna, python}",
    "duplicate_of": "the trial whose result a duplicate took",
    "parent_spec": "the spec the candidate came from (lwdna: the widened parent)",
    "retry_of": "the trial a retry re-runs (its worker died)",
    "repaired_from": "the sampled spec before repair scaled it onto the budget",
    "sampled_spec": "fill_budget: the strategy's candidate before it was scaled onto the budget (spec: the fitted one)",
    "budget_use": "the share of the binding analytic budget limit the spec uses (max of value / limit)",
    "latency_device": "the device name latency_ms was measured on",
    "diverged_epoch": "the epoch a diverged training stopped at",
    "first_number": "bookkeeping: the trial's own number, inherited by a retry",
    "training": "bookkeeping: true while the spec is being trained",
    "error": "one line, on failed (and diverged) trials",
}
#: names a strategy's candidate may not set as extra attributes (the engine writes them)
RESERVED_ATTRS = frozenset(TRIAL_ATTRS) | frozenset(TYPED_METRICS)

#: roles of the studies derived from a main study, stored as ``<name>.<role>`` in its database
DERIVED_ROLES = ("baselines", "confirm", "calibrate")


def derived_study_name(name: str, role: str) -> str:
    """``<name>.<role>``: the study of ``role`` (one of :data:`DERIVED_ROLES`) derived from study ``name``."""
    if role not in DERIVED_ROLES:
        raise ValueError(f"role={role!r} must be one of {', '.join(DERIVED_ROLES)}")
    return f"{name}.{role}"


def baselines_study_name(name: str) -> str:
    """``<name>.baselines``: where ``mgsearch baseline`` stores the uniform baselines of study ``name``."""
    return derived_study_name(name, "baselines")


def confirm_study_name(name: str) -> str:
    """``<name>.confirm``: where ``mgsearch confirm`` stores its retrainings of study ``name``."""
    return derived_study_name(name, "confirm")


def calibrate_study_name(name: str) -> str:
    """``<name>.calibrate``: where ``mgsearch calibrate`` stores its trainings of study ``name``'s space."""
    return derived_study_name(name, "calibrate")


def main_study_names(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that are main studies (not ``<name>.<role>`` of a derived study)."""
    return [n for n in names if not any(n.endswith(f".{role}") for role in DERIVED_ROLES)]


def _attr(name: str) -> dict[str, str]:
    return {"attr": name}


@dataclass
class TrialRecord:
    """One trial of a study as plain values. Fields with ``metadata["attr"]`` hold that stored
    attribute (see :data:`TRIAL_ATTRS` and the storage contract); the others come from Optuna."""

    number: int
    state: str  # Optuna's state name: COMPLETE, PRUNED, FAIL, RUNNING, WAITING
    status: str = field(metadata=_attr("status"))  # derived from ``state`` where the attribute is missing
    val_acc: float | None = field(default=None, metadata=_attr("val_acc"))
    test_acc: float | None = field(default=None, metadata=_attr("test_acc"))
    params: int | None = field(default=None, metadata=_attr("params"))
    macs: int | None = field(default=None, metadata=_attr("macs"))
    activations: int | None = field(default=None, metadata=_attr("activations"))
    latency_ms: float | None = field(default=None, metadata=_attr("latency_ms"))
    spec_json: str | None = field(default=None, metadata=_attr("spec"))
    spec_hash: str | None = field(default=None, metadata=_attr("spec_hash"))
    knobs: dict[str, Any] = field(default_factory=dict)  # Optuna's params: the sampled knob values
    constraints: tuple[float, ...] = field(default=(), metadata=_attr("constraints"))
    strategy: str | None = field(default=None, metadata=_attr("strategy"))
    parent_spec_json: str | None = field(default=None, metadata=_attr("parent_spec"))
    duplicate_of: int | None = field(default=None, metadata=_attr("duplicate_of"))
    baseline_name: str | None = field(default=None, metadata=_attr("baseline_name"))
    fidelity: dict[str, Any] | None = field(default=None, metadata=_attr("fidelity"))
    last_report: float | None = None  # the last reported (intermediate) val accuracy: pruned trials
    datetime_start: _dt.datetime | None = None
    datetime_complete: _dt.datetime | None = None
    user_attrs: dict[str, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def spec(self) -> ArchSpec | None:
        """The trial's architecture, or None when the trial stored none (or an unreadable one)."""
        return _spec(self.spec_json)

    @cached_property
    def parent_spec(self) -> ArchSpec | None:
        """The parent architecture (LW-DNA: the widened one), where the trial has one."""
        return _spec(self.parent_spec_json)

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
        if metric in TYPED_METRICS:
            return getattr(self, metric)
        m = get_metric(metric)
        return getattr(self, m.name) if m.name in TYPED_METRICS else m.read(self.user_attrs.get(m.name))

    def cost(self, axis: str) -> float | None:
        """The record's cost on ``axis`` (a minimised metric: ``params``, ``macs``, ``latency_ms``...)."""
        return self.value(cost_axis(axis).name)

    @property
    def label(self) -> str:
        """``#12`` for a trial, the baseline's name for a baseline."""
        return self.baseline_name or f"#{self.number}"


def cost_axes() -> tuple[str, ...]:
    """The metrics a front can be drawn over: every registered minimised metric."""
    return tuple(m.name for m in metrics(where=lambda m: m.direction == MINIMIZE))


def cost_axis(axis: str) -> Metric:
    """The minimised metric ``axis`` names (or an alias of); anything else is a :class:`MgsearchError`."""
    m = find_metric(axis)
    if m is None or m.direction != MINIMIZE:
        raise MgsearchError(f"cost={axis!r} is unknown; allowed: {', '.join(cost_axes())}")
    return m


def record_attrs() -> dict[str, str]:
    """``{stored attribute: TrialRecord field}`` of the record's typed fields."""
    return {f.metadata["attr"]: f.name for f in fields(TrialRecord) if "attr" in f.metadata}


def _spec(text: str | None) -> ArchSpec | None:
    if not text:
        return None
    try:
        return ArchSpec.from_json(text)
    except SpecError:
        return None


def candidate_attrs(spec: ArchSpec, cost: "Cost", constraints: Mapping[str, float],
                    order: Sequence[str]) -> dict[str, Any]:
    """The contract attributes of a candidate known before training: ``spec``, ``spec_hash``, every
    registered analytic metric's value and ``constraints`` (the values of ``constraints`` in ``order``,
    the budget's constraint order; names without a value are left out)."""
    return {"spec": spec.to_json(), "spec_hash": spec.hash, **analytic_values(cost, spec),
            "constraints": [constraints[n] for n in order if n in constraints]}


# --------------------------------------------------------------------------- reading
def _int(v: Any) -> int | None:
    f = finite_float(v)
    return None if f is None else int(f)


def _last_report(trial: Any, attrs: Mapping[str, Any]) -> float | None:
    """The trial's last reported val accuracy: its last intermediate value, or for a pruned trial of a
    multi-objective study (Optuna stores no intermediate values there) the last of its ``val_history``."""
    if trial.intermediate_values:
        return finite_float(trial.intermediate_values[max(trial.intermediate_values)])
    history = attrs.get("val_history")
    if trial.state.name == "PRUNED" and isinstance(history, list) and history:
        return finite_float(history[-1])
    return None


_STATE_STATUS = {"PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running", "WAITING": "waiting"}


def records_from_trials(trials: Iterable[Any]) -> list[TrialRecord]:
    """Turn Optuna ``FrozenTrial`` objects (or what :func:`read_trials` returns) into
    :class:`TrialRecord` values, sorted by trial number."""
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
                val_acc=finite_float(ua.get("val_acc")),
                test_acc=finite_float(ua.get("test_acc")),
                params=_int(ua.get("params")),
                macs=_int(ua.get("macs")),
                activations=_int(ua.get("activations")),
                latency_ms=finite_float(ua.get("latency_ms")),
                spec_json=ua.get("spec"),
                spec_hash=ua.get("spec_hash"),
                knobs=dict(t.params),
                constraints=tuple(float(c) for c in (cons or ()) if finite_float(c) is not None),
                strategy=ua.get("strategy"),
                parent_spec_json=ua.get("parent_spec"),
                duplicate_of=_int(ua.get("duplicate_of")),
                baseline_name=ua.get("baseline_name"),
                fidelity=ua.get("fidelity"),
                last_report=_last_report(t, ua),
                datetime_start=t.datetime_start,
                datetime_complete=t.datetime_complete,
                user_attrs=ua,
            )
        )
    out.sort(key=lambda r: r.number)
    return out


#: the tables and columns of Optuna's RDB schema (v3 and later) that :func:`read_trials` reads
_SCHEMA = {
    "trials": ("trial_id", "number", "study_id", "state", "datetime_start", "datetime_complete"),
    "trial_user_attributes": ("trial_id", "key", "value_json"),
    "trial_params": ("trial_id", "param_name", "param_value", "distribution_json"),
    "trial_intermediate_values": ("trial_id", "step", "intermediate_value", "intermediate_value_type"),
}


def read_trials(storage: Any, study_id: int) -> list[Any]:
    """The trials of ``study_id`` in ``storage``, as objects with the ``FrozenTrial`` attributes
    :func:`records_from_trials` reads.

    An Optuna RDB storage is read with four SQLAlchemy Core queries (about 10x faster than Optuna's
    reader for a 1,000-trial study: 0.1 s against 0.9 s). Optuna's own reader is used only where
    that cannot apply: a storage that is not an RDB storage, or a schema without the tables and
    columns read here (:data:`_SCHEMA`). Any other error (a locked or damaged database) is raised.
    """
    engine = getattr(storage, "engine", None)
    tables = _schema_tables(engine) if engine is not None else None
    if tables is None:
        return storage.get_all_trials(study_id, deepcopy=False)
    return _read_rdb(engine, tables, study_id)


def _schema_tables(engine: Any) -> dict[str, Any] | None:
    """The reflected tables of :data:`_SCHEMA`, or None where the database lacks one of them or a column."""
    import sqlalchemy as sa

    md = sa.MetaData()
    try:
        tables = {name: sa.Table(name, md, autoload_with=engine) for name in _SCHEMA}
    except sa.exc.NoSuchTableError:
        return None
    if any(col not in tables[name].c for name, cols in _SCHEMA.items() for col in cols):
        return None
    return tables


def _read_rdb(engine: Any, tables: Mapping[str, Any], study_id: int) -> list[Any]:
    import types

    import sqlalchemy as sa
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState

    trials_t, attrs_t, params_t, inter_t = (tables[n] for n in _SCHEMA)
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


# --------------------------------------------------------------------------- a whole study
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
    #: the runs of ``<name>.confirm`` and ``<name>.calibrate`` (:class:`mgsearch.store.runs.RunRecord`)
    confirmed: list[Any] = field(default_factory=list)
    calibration: list[Any] = field(default_factory=list)

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


def read_study(url: str, name: str | None = None, *, source: str | None = None) -> StudyData:
    """Read study ``name`` (and its ``<name>.baselines``, if present) from the database at ``url``,
    read-only. With a database that holds one main study, ``name`` may be None. Errors (no database,
    unknown study) are one-line :class:`~mgsearch.errors.StorageError` values naming the database and
    the studies it holds."""
    import optuna

    from mgsearch.store.rdb import database_error, open_storage
    from mgsearch.store.urls import redact_url

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    safe = redact_url(url)
    # an existing study database only, read-only: nothing is created, migrated or written
    store = open_storage(url, mode="read", heartbeat_interval=None, grace_period=None)
    try:
        names = [s.study_name for s in store.get_all_studies()]  # (study summaries would read every trial)
    except Exception as exc:  # SQLAlchemy / driver errors: one line, no credentials
        raise database_error(exc, url, "cannot read the study database") from None
    if name is None:
        main = main_study_names(names)
        if len(main) != 1:
            raise StorageError(f"{safe} holds {len(main)} studies ({', '.join(main) or 'none'}); pass --study-name")
        name = main[0]
    if name not in names:
        raise StorageError(f"{safe} has no study {name!r}; it holds: {', '.join(names) or 'no studies'}")
    # read through the RDB storage itself: optuna.load_study's cache deep-copies every trial
    sid = store.get_study_id_from_name(name)
    baselines: list[TrialRecord] = []
    if baselines_study_name(name) in names:
        baselines = records_from_trials(read_trials(store, store.get_study_id_from_name(baselines_study_name(name))))
        for rec in baselines:
            if rec.baseline_name is None:
                rec.baseline_name = f"baseline #{rec.number}"
    from mgsearch.store.runs import runs_from_trials

    derived = {role: runs_from_trials(read_trials(store, store.get_study_id_from_name(n)))
               for role, n in (("confirm", confirm_study_name(name)), ("calibrate", calibrate_study_name(name)))
               if n in names}
    return StudyData(
        name=name,
        storage=safe,
        directions=tuple(d.name.lower() for d in store.get_study_directions(sid)),
        attrs=dict(store.get_study_user_attrs(sid)),
        records=records_from_trials(read_trials(store, sid)),
        baselines=baselines,
        source=source,
        confirmed=derived.get("confirm", []),
        calibration=derived.get("calibrate", []),
    )
