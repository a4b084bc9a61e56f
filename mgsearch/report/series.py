"""The data of the report's newer figures and table columns, as plain values (no plotly here).

Each function answers one question of the report and is tested without a browser
(``tests/report/test_series.py``); :mod:`mgsearch.report.figures` only draws what they return::

    data = load_study("studies/quickstart.toml")
    view = feasible_view(data, "params")        # the x range of the zoomed front, trials left out
    curves = learning_curves(data.records)      # val accuracy per epoch of every trained / pruned trial
    bsf = best_so_far(data.records)             # best feasible accuracy over trials and over wall time
    profiles = layer_profiles(pareto_front(data.records), data.baselines)   # width per layer, in order
    export_command(data, data.records[3])       # "mgsearch export studies/quickstart.toml --trial 3 --out ..."
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from mgsearch.metrics.numbers import finite_float
from mgsearch.pareto import feasible, pareto_front
from mgsearch.store.records import StudyData, TrialRecord, cost_axis

if TYPE_CHECKING:  # pragma: no cover
    from mgsearch.evidence import Calibration, ConfirmComparison

__all__ = [
    "AxisView", "feasible_view", "baseline_points", "BaselinePoint",
    "Curve", "learning_curves", "BestSoFar", "best_so_far",
    "LayerProfile", "layer_profiles", "slot_order_key",
    "KnobLabel", "knob_labels", "readable_knob",
    "trial_seconds", "export_command", "short_hash", "hypervolume_reference", "HV_MARGIN",
    "Comparison", "compare_to_baseline", "confirmed_comparison", "current_confirmed", "calibration_of",
]

#: the hypervolume's reference cost is this factor beyond the budget (or the largest feasible cost), so a
#: network at the budget line still adds to it (with the budget itself as reference it would add nothing)
HV_MARGIN = 1.1


# --------------------------------------------------------------------------- the zoomed front
@dataclass
class AxisView:
    """The cost-axis range of a zoomed front: ``lo``..``hi`` in data units (draw a log axis over it).

    ``hidden`` counts the trials (never trained: infeasible, diverged, failed; or costing more than
    ``hi``) whose cost lies beyond ``hi`` and so fall outside the view; ``hidden_max`` is the largest
    of their costs (None when none)."""

    lo: float
    hi: float
    hidden: int
    hidden_max: float | None

    @property
    def log_range(self) -> list[float]:
        """``[log10(lo), log10(hi)]``: the range plotly takes for a log axis."""
        return [math.log10(self.lo), math.log10(self.hi)]


def _shown_points(data: StudyData, axis: str) -> list[float]:
    """Costs of the points the zoomed front shows: feasible trained, duplicates, pruned, feasible baselines."""
    recs = data.records
    xs = [r.value(axis) for r in feasible(recs, axis)]
    xs += [r.value(axis) for r in recs if r.status in ("duplicate", "pruned") and r.feasible]
    xs += [r.value(axis) for r in data.baselines if r.val_acc is not None and r.feasible]
    return [float(x) for x in xs if x is not None and x > 0]


def feasible_view(data: StudyData, cost: str = "params", *, pad: float = 0.06) -> AxisView | None:
    """The feasible region of the accuracy-vs-``cost`` front: from the cheapest shown point to the
    budget on that axis (or the costliest feasible point when the study has no such limit), padded by
    ``pad`` decades on either side. Trials beyond it (infeasible ones at their real cost) are counted
    in ``hidden``. None when nothing feasible has a cost on this axis."""
    axis = cost_axis(cost).name
    xs = _shown_points(data, axis)
    limit = data.limits.get(axis)
    top = [float(limit)] if limit else []
    if not xs and not top:
        return None
    lo = min(xs + top)
    hi = max(xs + top)
    lo, hi = lo / 10 ** pad, hi * 10 ** pad
    beyond = [float(v) for r in data.records if (v := r.value(axis)) is not None and v > hi]
    return AxisView(lo=lo, hi=hi, hidden=len(beyond), hidden_max=max(beyond) if beyond else None)


@dataclass
class BaselinePoint:
    """A baseline (dense-resnet@budget, uniform@budget, ...) drawn on a front: its name (the label next to its marker), cost and accuracy."""

    name: str
    cost: float
    val_acc: float
    feasible: bool


def baseline_points(data: StudyData, cost: str = "params") -> list[BaselinePoint]:
    """The baselines with an accuracy and a cost on ``cost``, cheapest first (their names label them)."""
    axis = cost_axis(cost).name
    out = [BaselinePoint(r.label, float(v), float(r.val_acc), r.feasible) for r in data.baselines
           if r.val_acc is not None and r.status in ("trained", "duplicate") and (v := r.value(axis)) is not None]
    return sorted(out, key=lambda b: (b.cost, b.name))


# --------------------------------------------------------------------------- learning curves
@dataclass
class Curve:
    """Validation accuracy per epoch of one trial (``epochs`` start at 1)."""

    number: int
    label: str
    status: str
    on_front: bool
    epochs: list[int]
    accs: list[float]


def _history(rec: TrialRecord) -> list[float]:
    raw = rec.user_attrs.get("val_history")
    if not isinstance(raw, (list, tuple)):
        return []
    out = []
    for v in raw:
        f = finite_float(v)
        if f is None:
            break  # a diverged epoch ends the curve
        out.append(f)
    return out


def learning_curves(records: Sequence[TrialRecord], cost: str = "params") -> list[Curve]:
    """Every trained or pruned trial's stored ``val_history`` (one value per epoch), in trial order;
    ``on_front`` marks the trials of the accuracy-vs-``cost`` front. Trials without a history are left out."""
    front = {r.number for r in pareto_front(records, cost)}
    out = []
    for rec in sorted(records, key=lambda r: r.number):
        if rec.status not in ("trained", "pruned"):
            continue
        accs = _history(rec)
        if accs:
            out.append(Curve(rec.number, rec.label, rec.status, rec.number in front,
                             list(range(1, len(accs) + 1)), accs))
    return out


# --------------------------------------------------------------------------- best so far
@dataclass
class BestSoFar:
    """The best feasible validation accuracy after each finished trial.

    ``numbers[i]`` / ``by_trial[i]``: trial number and the best so far after it, in trial order (None
    before the first trained feasible trial). ``minutes[i]`` / ``by_time[i]``: wall-clock minutes from
    the study's first trial start to each finish, in finishing order, and the best so far then.
    ``improved`` lists the trial numbers that raised the best."""

    numbers: list[int] = field(default_factory=list)
    by_trial: list[float | None] = field(default_factory=list)
    minutes: list[float] = field(default_factory=list)
    by_time: list[float | None] = field(default_factory=list)
    improved: list[int] = field(default_factory=list)


def best_so_far(records: Sequence[TrialRecord]) -> BestSoFar:
    """See :class:`BestSoFar`. Feasibility and duplicates follow :func:`mgsearch.pareto.feasible`."""
    ok = {id(r) for r in feasible(records)}
    out = BestSoFar()
    best: float | None = None
    for rec in sorted(records, key=lambda r: r.number):
        if id(rec) in ok and (best is None or rec.val_acc > best):
            best = rec.val_acc
            out.improved.append(rec.number)
        out.numbers.append(rec.number)
        out.by_trial.append(best)
    starts = [r.datetime_start for r in records if r.datetime_start is not None]
    done = sorted((r for r in records if r.datetime_complete is not None),
                  key=lambda r: (r.datetime_complete, r.number))
    if starts and done:
        t0 = min(starts)
        best = None
        for rec in done:
            if id(rec) in ok and (best is None or rec.val_acc > best):
                best = rec.val_acc
            out.minutes.append(max((rec.datetime_complete - t0).total_seconds(), 0.0) / 60.0)
            out.by_time.append(best)
    return out


# --------------------------------------------------------------------------- width per layer
@dataclass
class LayerProfile:
    """The output width of every convolution of one network, in network order (x = layer index from 1).

    ``layers`` are the module paths (``stem.conv``, ``stages.0.blocks.1.conv1``...); ``stage`` the
    stage of each layer (-1 for the stem); the number of layers is the network's depth."""

    label: str
    number: int | None
    baseline: bool
    params: int | None
    val_acc: float | None
    layers: list[str]
    widths: list[int]
    stage: list[int]

    @property
    def depth(self) -> int:
        return len(self.widths)


_STAGE = re.compile(r"^stages\.(\d+)\.")


def _conv_layers(rec: TrialRecord) -> tuple[list[str], list[int], list[int]]:
    from mgsearch.families import get_family

    spec = rec.spec
    names, widths, stages = [], [], []
    for row in get_family(spec.family).complexity(spec):
        if row.kind not in ("conv", "mgic") or "shortcut" in row.name or "downsample" in row.name:
            continue
        names.append(row.name)
        widths.append(int(row.out_channels))
        m = _STAGE.match(row.name)
        stages.append(int(m.group(1)) if m else -1)
    return names, widths, stages


def layer_profiles(records: Sequence[TrialRecord], baselines: Sequence[TrialRecord] = ()) -> list[LayerProfile]:
    """The per-layer width profile of each record (e.g. the Pareto front, cheapest first) and then of
    each baseline: the main-path convolutions in forward order (shortcut projections left out), as the
    Heterogeneity Hypothesis paper draws them. Records without a readable spec are skipped."""
    out = []
    for rec, is_base in [(r, False) for r in records] + [(r, True) for r in baselines]:
        if rec.spec is None:
            continue
        names, widths, stages = _conv_layers(rec)
        out.append(LayerProfile(rec.label, None if is_base else rec.number, is_base, rec.params, rec.val_acc,
                                names, widths, stages))
    return out


_SLOT = re.compile(r"stages\[(\d+)\]\.?(?:blocks\[(\d+)(?::(\d+))?\]\.)?(\w+)")


def slot_order_key(name: str) -> tuple[int, int, int, int, str]:
    """Sort key of a width slot name (:func:`mgsearch.spec.width_slots`) in network order: the stem,
    then per stage its blocks' inner widths by block and the stage's (residual) width, then its f-width.
    ``stages[0].blocks[2:4].inner`` sorts after ``stages[0].blocks[0].inner`` and before ``stages[1]...``."""
    if name.startswith("stem"):
        return (-1, 0, 0, 0, name)
    m = _SLOT.match(name)
    if not m:
        return (10**6, 0, 0, 0, name)
    stage, block, stop, kind = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    if block is not None:  # one block before a sharing run starting at the same block
        return (stage, 1, int(block), int(stop) if stop else int(block) + 1, name)
    return (stage, 0 if kind == "width" else 2, 0, 0, name)


# --------------------------------------------------------------------------- knob names
@dataclass
class KnobLabel:
    """A searched knob's stored name, its short axis label and its full readable name."""

    name: str
    short: str
    long: str


_KNOB = re.compile(r"^s(\d+)\.(?:b(\d+)\.)?(\w+?)(?:@(\w+))?$")
_KIND = {"inner": "inner width", "width": "width", "depth": "depth", "group_size": "group size", "share": "sharing run"}
_SHORT_KIND = {"inner": "inner", "width": "width", "depth": "depth", "group_size": "group", "share": "share"}


def _condition(tag: str | None) -> tuple[str, str]:
    if not tag:
        return "", ""
    if tag == "dense":
        return " (dense convs)", " |dense"
    m = re.fullmatch(r"s(\d+)", tag)
    if m:
        return f" (MGIC group size {m.group(1)})", f" |s{m.group(1)}"
    return f" ({tag})", f" |{tag}"


def readable_knob(name: str) -> KnobLabel:
    """``s1.b2.inner@s16`` -> short ``S1 B2 inner |s16``, long ``stage 1 · block 2 · inner width (MGIC
    group size 16)``: the width is sampled for that group-size choice. Unknown shapes stay as they are."""
    if name.startswith("stem.width"):
        long_c, short_c = _condition(name.partition("@")[2] or None)
        return KnobLabel(name, "stem" + short_c, "stem width" + long_c)
    if name == "width_multiplier":
        return KnobLabel(name, "width x", "width multiplier")
    if name == "head.dropout":
        return KnobLabel(name, "dropout", "head dropout")
    m = _KNOB.match(name)
    if not m:
        return KnobLabel(name, name, name)
    stage, block, kind, tag = m.groups()
    long_c, short_c = _condition(tag)
    kind_long, kind_short = _KIND.get(kind, kind), _SHORT_KIND.get(kind, kind)
    if block is not None:
        return KnobLabel(name, f"S{stage} B{block} {kind_short}{short_c}",
                         f"stage {stage} · block {block} · {kind_long}{long_c}")
    return KnobLabel(name, f"S{stage} {kind_short}{short_c}", f"stage {stage} · {kind_long}{long_c}")


def _knob_key(name: str) -> tuple[int, int, int, str]:
    m = _KNOB.match(name)
    if name.startswith("stem"):
        return (-1, 0, 0, name)
    if not m:
        return (10**6, 0, 0, name)
    stage, block, kind, _ = m.groups()
    order = {"group_size": 0, "share": 1, "depth": 2, "width": 3}
    return (int(stage), 4 if block is not None else order.get(kind, 5), int(block or 0), name)


def knob_labels(names: Iterable[str]) -> list[KnobLabel]:
    """Readable labels of knob names, in network order (stem, then stage by stage: structure knobs,
    the stage width, the blocks' inner widths), other knobs last."""
    return [readable_knob(n) for n in sorted(set(names), key=_knob_key)]


# --------------------------------------------------------------------------- table columns
def trial_seconds(rec: TrialRecord) -> float | None:
    """The trial's wall time in seconds: the stored ``wall_seconds``, else finish minus start."""
    v = finite_float(rec.user_attrs.get("wall_seconds"))
    if v is not None and v >= 0:
        return v
    if rec.datetime_start and rec.datetime_complete:
        return max((rec.datetime_complete - rec.datetime_start).total_seconds(), 0.0)
    return None


def short_hash(rec: TrialRecord, n: int = 8) -> str:
    """The first ``n`` hex digits of the trial's spec hash ('' without one)."""
    return (rec.spec_hash or "")[:n]


def export_command(data: StudyData, rec: TrialRecord) -> str | None:
    """The command that exports ``rec``: ``mgsearch export STUDY --trial N --out <study>-trial-N/``, with
    the study file when the report was made from one, else the storage URL (password shown as ``***``)
    and ``--study-name``. None for baselines (they are not trials of the study) and for trials that stored
    no readable architecture (export refuses them)."""
    if rec.baseline_name or rec.spec is None:
        return None
    out = f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', data.name)}-trial-{rec.number}/"
    from mgsearch.store.urls import redact_url

    where = [data.source] if data.source else [redact_url(data.storage), "--study-name", data.name]
    return shlex.join(["mgsearch", "export", *where, "--trial", str(rec.number), "--out", out])


# --------------------------------------------------------------------------- hypervolume
def hypervolume_reference(data: StudyData, cost: str = "params") -> float:
    """The reference cost of the hypervolume on ``cost``: :data:`HV_MARGIN` x the study's budget on that
    axis, or x the largest feasible cost when the study has none (1.0 when nothing is feasible)."""
    axis = cost_axis(cost).name
    limit = data.limits.get(axis)
    if limit:
        return HV_MARGIN * float(limit)
    costs = [r.value(axis) for r in feasible(data.records, axis)]
    return HV_MARGIN * float(max(costs)) if costs else 1.0


# --------------------------------------------------------------------------- the answer
@dataclass
class Comparison:
    """The best feasible trial against the best feasible baseline (either may be None)."""

    best: TrialRecord | None
    baseline: TrialRecord | None

    @property
    def gain(self) -> float | None:
        """Validation accuracy of the best trial minus the baseline's (None unless both exist)."""
        if self.best is None or self.baseline is None:
            return None
        return float(self.best.val_acc) - float(self.baseline.val_acc)


def compare_to_baseline(data: StudyData) -> Comparison:
    """Which network at the budget, and is it better than the obvious one: the most accurate trained
    feasible trial (:func:`mgsearch.pareto.best`) and the most accurate trained baseline within the
    study's budget (ties: fewer params)."""
    from mgsearch.errors import MgsearchError
    from mgsearch.pareto import best

    try:
        top = best(data)
    except MgsearchError:
        top = None
    base = [r for r in data.baselines if r.status == "trained" and r.val_acc is not None and r.feasible]
    ref = max(base, key=lambda r: (r.val_acc, -(r.params or 0)), default=None)
    return Comparison(top, ref)


# --------------------------------------------------------------------------- confirm and calibrate
def confirmed_comparison(data: StudyData) -> "ConfirmComparison":
    """The confirmed networks of the latest confirm protocol (mean ± sd of test accuracy over seeds)
    and the best found one against the best baseline (:func:`mgsearch.evidence.compare_confirmed`)."""
    from mgsearch.evidence import compare_confirmed

    return compare_confirmed(current_confirmed(data))


def current_confirmed(data: StudyData) -> list:
    """The confirm runs whose source is still in the study with the same spec: a found trial, or a
    baseline of ``<name>.baselines`` (baselines trained again later replace the earlier ones)."""
    found = {r.number: r.spec_hash for r in data.records}
    bases = {r.number: r.spec_hash for r in data.baselines}
    return [r for r in data.confirmed
            if (found if r.role == "found" else bases).get(r.source_trial) == r.spec_hash]


def calibration_of(data: StudyData, top_k: int | None = None) -> "Calibration | None":
    """The rank agreement of the study's calibration runs (search fidelity vs the confirm protocol),
    or None when no candidate has both runs. ``top_k`` defaults to the one stored with the study's
    calibrate runs, else 3."""
    from mgsearch.evidence import calibration, calibration_pairs, latest_protocol, protocol_noise

    confirm_runs = [r for r in data.calibration if r.role == "confirm"]
    protocol = latest_protocol(confirm_runs)
    pairs = calibration_pairs(data.calibration, protocol)
    if not pairs:
        return None
    if top_k is None:
        stored = [r.user_attrs.get("top_k") for r in data.calibration if isinstance(r.user_attrs.get("top_k"), int)]
        top_k = stored[-1] if stored else 3
    noise = protocol_noise(data.confirmed, protocol) if protocol is not None else None
    return calibration(pairs, top_k=top_k, noise=noise)
