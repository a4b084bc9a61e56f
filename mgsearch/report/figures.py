"""Plotly figures of a study (drawing only: every number comes from :mod:`mgsearch.report.analysis`).

Each function takes a :class:`~mgsearch.report.analysis.StudyData` and returns a
``plotly.graph_objects.Figure`` (or None when the study holds nothing to draw there), so the same
figures serve notebooks and the HTML report. Large studies stay responsive: point clouds switch to
WebGL (``Scattergl``) above :data:`WEBGL_THRESHOLD` trials and nothing is annotated per point.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import plotly.graph_objects as go

from mgsearch.metrics import ANALYTIC, get_metric
from mgsearch.spec import group_size_text
from mgsearch.report.series import (
    baseline_points,
    best_so_far,
    calibration_of,
    confirmed_comparison,
    feasible_view,
    hypervolume_reference,
    knob_labels,
    layer_profiles,
    learning_curves,
)
from mgsearch.report.analysis import (
    StudyData,
    TrialRecord,
    feasible,
    hypervolume_history,
    pareto_front,
    report_axes,
    width_profiles,
    widths_text,
)

__all__ = [
    "WEBGL_THRESHOLD",
    "COLORS",
    "pareto_figure",
    "hypervolume_figure",
    "width_heatmap",
    "structure_figure",
    "knobs_figure",
    "lineage_figure",
    "learning_curves_figure",
    "best_so_far_figure",
    "layer_profile_figure",
    "confirm_figure",
    "calibration_figure",
    "report_figures",
    "FIGURES",
]

#: studies with more trials than this draw their point clouds with WebGL
WEBGL_THRESHOLD = 1500
COLORS = {
    "trained": "#4c78a8",
    "front": "#f58518",
    "pruned": "#9d9d9d",
    "infeasible": "#e45756",
    "duplicate": "#72b7b2",
    "diverged": "#b279a2",
    "failed": "#54a24b",
    "baseline": "#111111",
}
_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50), height=460)
_DASHES = ("solid", "dot", "dash", "dashdot", "longdash")


def _two_line_title(heading: str, sentence: str, *more: str) -> dict[str, Any]:
    """The layout of a figure whose title is a heading and, each on a smaller line below it, sentences
    too long for one line at the report's width (they were clipped at the right edge)."""
    lines = "".join(f"<br><sup>{line}</sup>" for line in (sentence, *more))
    return {**_LAYOUT, "title": f"{heading}{lines}", "margin": {**_LAYOUT["margin"], "t": 70 + 18 * len(more)}}


def _outline(symbol: str, color: str) -> dict[str, Any]:
    """Open and line symbols are drawn by their outline alone: give it the colour and some width."""
    if symbol.endswith("-open") or symbol.startswith(("line-", "x-thin", "cross-thin")):
        return dict(width=2, color=color)
    return dict(width=0.5, color="white")


def _scatter(gl: bool, **kw: Any) -> go.Scatter | go.Scattergl:
    return (go.Scattergl if gl else go.Scatter)(**kw)


_HOVER = (
    "<b>%{customdata[0]}</b> (%{customdata[1]})<br>val acc %{customdata[2]}<br>"
    "params %{customdata[3]}<br>MACs %{customdata[4]}<br>%{customdata[5]}<extra></extra>"
)


def _custom(recs: Sequence[TrialRecord]) -> list[list[str]]:
    def acc(r: TrialRecord) -> str:
        v = r.val_acc if r.val_acc is not None else r.last_report
        return "-" if v is None else f"{v:.4f}"

    return [
        [r.label, r.status, acc(r), f"{r.params:,}" if r.params is not None else "-",
         f"{r.macs:,}" if r.macs is not None else "-", widths_text(r)]
        for r in recs
    ]


def pareto_figure(data: StudyData, cost: str = "params") -> go.Figure:
    """Validation accuracy vs cost (log x): trained, Pareto front, pruned (at their last reported
    accuracy), duplicates, baselines, and untrained trials (infeasible / diverged / failed) as a rug
    along the bottom. The budget is a dashed vertical line. Hover shows trial, cost, accuracy, widths.
    ``cost`` is a minimised metric of the registry (its label titles the axis).
    """
    metric = get_metric(cost)
    axis = metric.name
    recs = data.records
    ok = feasible(recs, cost)
    front = pareto_front(recs, cost)
    accs = [r.val_acc for r in ok] + [r.val_acc for r in data.baselines if r.val_acc is not None]
    accs += [r.last_report for r in recs if r.status == "pruned" and r.last_report is not None]
    floor = (min(accs) if accs else 0.0) - 0.03
    big = len(recs) > WEBGL_THRESHOLD  # point clouds of large studies are drawn with WebGL
    fig = go.Figure()

    def add(name: str, group: list[TrialRecord], y: list[float], color: str, symbol: str, size: int = 7,
            gl: bool = big, **kw: Any) -> None:
        group_y = [(r, v) for r, v in zip(group, y) if r.value(axis) is not None]
        if not group_y:
            return
        g = [r for r, _ in group_y]
        fig.add_trace(_scatter(
            gl, name=f"{name} ({len(g)})", x=[r.value(axis) for r in g], y=[v for _, v in group_y],
            mode=kw.pop("mode", "markers"), customdata=_custom(g), hovertemplate=_HOVER,
            marker=dict(color=color, symbol=symbol, size=size, line=_outline(symbol, color)), **kw))

    add("trained", ok, [r.val_acc for r in ok], COLORS["trained"], "circle", opacity=0.75)
    dup = [r for r in recs if r.status == "duplicate" and r.val_acc is not None]
    add("duplicate", dup, [r.val_acc for r in dup], COLORS["duplicate"], "circle-open", size=10)
    pruned = [r for r in recs if r.status == "pruned" and r.last_report is not None]
    add("pruned (last report)", pruned, [r.last_report for r in pruned], COLORS["pruned"], "x-thin-open", size=8)
    for status, symbol in (("infeasible", "line-ns-open"), ("diverged", "triangle-down"), ("failed", "triangle-down-open")):
        group = [r for r in recs if r.status == status]
        add(f"{status} (not trained)", group, [floor] * len(group), COLORS[status], symbol, size=12)
    add("Pareto front", front, [r.val_acc for r in front], COLORS["front"], "diamond", size=10, gl=False,
        mode="lines+markers", line=dict(shape="hv", color=COLORS["front"], width=2))
    for b in baseline_points(data, axis):  # one labelled trace per baseline: its name by the star and in the legend
        fig.add_trace(go.Scatter(
            name=f"{b.name} (baseline)", x=[b.cost], y=[b.val_acc], mode="markers+text", text=[b.name],
            textposition="top center", textfont=dict(color=COLORS["baseline"], size=12),
            marker=dict(color=COLORS["baseline"], symbol="star", size=15, line=_outline("star", COLORS["baseline"])),
            hovertemplate=f"<b>{b.name}</b> (baseline)<br>val acc %{{y:.4f}}<br>{metric.label} %{{x:,}}"
                          "<extra></extra>"))
    limit = data.limits.get(axis)
    if limit:
        fig.add_vline(x=limit, line=dict(dash="dash", color="#555"))
        # annotations on a log axis take log10 coordinates (shapes take data coordinates)
        fig.add_annotation(x=math.log10(limit), y=1, yref="paper", text=f"budget {limit:,}", showarrow=False,
                           xanchor="right", yanchor="bottom", font=dict(color="#555"))
    top_acc = max(accs, default=None)
    if top_acc is not None:  # the accuracies drawn, the rug of untrained trials just below them
        fig.update_yaxes(range=[floor - 0.02, min(top_acc + 0.03, 1.02)])
    view = feasible_view(data, axis)
    if view is not None:  # zoomed on the feasible region: trials beyond it are counted, not drawn
        fig.update_xaxes(range=view.log_range)
        if view.hidden:
            fig.add_annotation(
                x=1, y=0, xref="paper", yref="paper", xanchor="right", yanchor="bottom", showarrow=False,
                text=f"{view.hidden} over-budget trial{'s' if view.hidden != 1 else ''} beyond the right edge "
                     f"(up to {metric.describe(view.hidden_max)}); autoscale shows them",
                font=dict(color=COLORS["infeasible"], size=11), bgcolor="rgba(255,255,255,0.8)")
    fig.update_layout(title=f"Validation accuracy vs {metric.label} (feasible region)",
                      legend=dict(itemsizing="constant"), meta={"hidden": view.hidden if view else 0}, **_LAYOUT)
    fig.update_xaxes(type="log", title=f"{metric.label} (log scale)")
    fig.update_yaxes(title="validation accuracy")
    return fig


def hypervolume_figure(data: StudyData) -> go.Figure:
    """Hypervolume of the feasible front over trial number, for each analytic cost axis (params, MACs,
    ...). The reference point is (accuracy 0, cost = 1.1 x the study's budget on that axis, else 1.1 x
    the largest feasible cost: :func:`~mgsearch.report.series.hypervolume_reference`); a point at cost
    ``c`` and accuracy ``a`` alone dominates ``a x (1 - c/ref)``, so the hypervolume lies in [0, 1]."""
    fig = go.Figure()
    axes = [a for a in report_axes(data) if get_metric(a).kind == ANALYTIC]
    for i, cost in enumerate(axes):
        dash = _DASHES[i % len(_DASHES)]
        numbers, hv, ref = hypervolume_history(data.records, cost=cost, ref_cost=hypervolume_reference(data, cost))
        if not numbers:
            continue
        fig.add_trace(go.Scatter(x=numbers, y=hv, mode="lines", name=f"{cost} (ref {ref:,.0f})",
                                 line=dict(shape="hv", dash=dash),
                                 hovertemplate="trial %{x}<br>hypervolume %{y:.4f}<extra></extra>"))
    fig.update_layout(title="Hypervolume of the feasible front over trials", **_LAYOUT)
    fig.update_xaxes(title="trial number")
    fig.update_yaxes(title="hypervolume: area of acc x (1 - cost/ref)")
    return fig


def width_heatmap(data: StudyData, cost: str = "params") -> go.Figure | None:
    """Per-layer widths of the Pareto set (cheapest first) next to the baselines: the
    heterogeneity picture. Columns are width slots, rows networks; the number in a cell is the width."""
    front = pareto_front(data.records, cost)
    base = [r for r in data.baselines if r.spec is not None]
    prof = width_profiles(front, base)
    if not prof.labels:
        return None
    z = prof.widths
    text = [["" if math.isnan(v) else str(int(v)) for v in row] for row in z]
    heat = go.Heatmap(
        z=np.where(np.isnan(z), None, z).tolist(), x=prof.columns, y=prof.labels, text=text,
        texttemplate="%{text}" if z.size <= 4000 else None, colorscale="Viridis", colorbar=dict(title="width"),
        hovertemplate="%{y}<br>%{x}: %{z}<extra></extra>",
    )
    fig = go.Figure(heat)
    fig.update_layout(title="Per-layer widths: Pareto set (top, cheapest first) and the baselines",
                      **{**_LAYOUT, "height": max(300, 120 + 24 * len(prof.labels))})
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", tickangle=-45)
    return fig


def structure_figure(data: StudyData, cost: str = "params") -> go.Figure | None:
    """MGIC group size (a dense stage is written dense; 0 in the colour matrix) and weight-sharing run
    length per stage, for the Pareto set and the baselines. None when every network is dense and unshared (nothing to show)."""
    from plotly.subplots import make_subplots

    front = pareto_front(data.records, cost)
    prof = width_profiles(front, [r for r in data.baselines if r.spec is not None])
    if not prof.labels or (np.nan_to_num(prof.group_sizes).max() == 0 and np.nan_to_num(prof.shares).max() <= 1):
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("MGIC group size", "sharing run length"),
                        shared_yaxes=True, horizontal_spacing=0.08)
    for col, (z, scale) in enumerate(((prof.group_sizes, "Blues"), (prof.shares, "Greens")), start=1):
        # group size 0 (the colour of no grouping) is written as the word dense
        text = [["" if math.isnan(v) else group_size_text(int(v) or None) if col == 1 else str(int(v)) for v in row]
                for row in z]
        fig.add_trace(go.Heatmap(z=np.where(np.isnan(z), None, z).tolist(), x=prof.stage_columns, y=prof.labels,
                                 text=text, texttemplate="%{text}", colorscale=scale, showscale=False,
                                 hovertemplate="%{y}<br>%{x}: %{text}<extra></extra>"), row=1, col=col)
    fig.update_layout(title="Multigrid structure of the Pareto set (cheapest first) and the baselines",
                      **{**_LAYOUT, "height": max(260, 120 + 24 * len(prof.labels))})
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def knobs_figure(data: StudyData) -> go.Figure | None:
    """Parallel coordinates of the searched knobs of trained trials, coloured by accuracy;
    categorical knobs become integer axes labelled with their choices."""
    recs = [r for r in feasible(data.records) if r.knobs]
    labels = knob_labels(k for r in recs for k in r.knobs)  # network order, readable short names
    if not recs or not labels:
        return None
    dims = []
    for lab in labels:
        values = [r.knobs.get(lab.name) for r in recs]
        if lab.name.endswith(".group_size"):  # None is a choice (dense), not a missing value
            values = [group_size_text(r.knobs[lab.name]) if lab.name in r.knobs else "-" for r in recs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None):
            dims.append(dict(label=lab.short, values=[np.nan if v is None else float(v) for v in values]))
        else:
            choices = sorted({str(v) for v in values}, key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c))
            code = {c: i for i, c in enumerate(choices)}
            dims.append(dict(label=lab.short, values=[code[str(v)] for v in values],
                             tickvals=list(range(len(choices))), ticktext=choices))
    dims.append(dict(label="val acc", values=[r.val_acc for r in recs]))
    dims.append(dict(label="log10 params", values=[math.log10(max(r.params or 1, 1)) for r in recs]))
    # many axes: rotated labels (plotly draws them above the axes) and the full names in the legend below
    angle = 0 if len(dims) <= 8 else -50
    fig = go.Figure(go.Parcoords(line=dict(color=[r.val_acc for r in recs], colorscale="Viridis", showscale=True,
                                           colorbar=dict(title="val acc")), dimensions=dims,
                                 labelangle=angle, labelside="top", labelfont=dict(size=11)))
    top = 110 if angle == 0 else 90 + 7 * max(len(lab.short) for lab in labels)  # room for rotated labels
    fig.update_layout(title=dict(text="Searched knobs of trained trials (axes in network order)", y=0.99,
                                 yanchor="top"),
                      meta={"legend": [[lab.short, lab.long] for lab in labels if lab.short != lab.long]},
                      **{**_LAYOUT, "margin": dict(l=80, r=40, t=top, b=40), "height": 400 + top})
    return fig


def lineage_figure(data: StudyData) -> go.Figure | None:
    """LW-DNA parent -> child: for each shrunk trial, a segment from its widened parent's params to
    its own params at its accuracy (parents are drawn hollow). None when no trial has a parent."""
    from mgsearch.cost import cost as spec_cost

    recs = [r for r in feasible(data.records) if r.parent_spec is not None]
    if not recs:
        return None
    xs: list[float | None] = []
    ys: list[float | None] = []
    parents = []
    for r in recs:
        p = spec_cost(r.parent_spec).params
        parents.append(p)
        xs += [p, r.params, None]
        ys += [r.val_acc, r.val_acc, None]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="shrink", line=dict(color="#999", width=1),
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=parents, y=[r.val_acc for r in recs], mode="markers", name=f"widened parent ({len(recs)})",
                             marker=dict(symbol="circle-open", size=9, color=COLORS["front"]),
                             hovertemplate="parent of trial %{text}<br>params %{x:,}<extra></extra>",
                             text=[str(r.number) for r in recs]))
    fig.add_trace(go.Scatter(x=[r.params for r in recs], y=[r.val_acc for r in recs], mode="markers",
                             name=f"shrunk child ({len(recs)})", customdata=_custom(recs), hovertemplate=_HOVER,
                             marker=dict(symbol="circle", size=8, color=COLORS["trained"])))
    fig.update_layout(title="LW-DNA: widened parent -> shrunk child (accuracy of the child)", **_LAYOUT)
    fig.update_xaxes(type="log", title="parameters (log scale)")
    fig.update_yaxes(title="validation accuracy")
    return fig


def learning_curves_figure(data: StudyData) -> go.Figure | None:
    """Validation accuracy per epoch (the stored ``val_history``) of every trained and pruned trial: the
    Pareto-front trials (by params) in orange, other trained trials in blue, pruned ones in grey. One
    trace per group, curves separated by gaps. None when no trial stored a history."""
    curves = learning_curves(data.records, "params")
    if not curves:
        return None
    fig = go.Figure()
    groups = (("Pareto front", lambda c: c.on_front, COLORS["front"], 2.5),
              ("trained", lambda c: c.status == "trained" and not c.on_front, COLORS["trained"], 1.2),
              ("pruned", lambda c: c.status == "pruned", COLORS["pruned"], 1.0))
    for name, pick, color, width in groups[::-1]:  # front drawn last, on top
        group = [c for c in curves if pick(c)]
        if not group:
            continue
        xs: list[int | None] = []
        ys: list[float | None] = []
        text: list[str | None] = []
        for c in group:
            xs += c.epochs + [None]
            ys += c.accs + [None]
            text += [c.label] * len(c.epochs) + [None]
        fig.add_trace(go.Scatter(x=xs, y=ys, text=text, mode="lines+markers", name=f"{name} ({len(group)})",
                                 line=dict(color=color, width=width), marker=dict(size=4, color=color),
                                 connectgaps=False,
                                 hovertemplate="<b>%{text}</b><br>epoch %{x}<br>val acc %{y:.4f}<extra></extra>"))
    fig.update_layout(title="Learning curves: validation accuracy per epoch", **_LAYOUT)
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_yaxes(title="validation accuracy")
    return fig


def best_so_far_figure(data: StudyData) -> go.Figure | None:
    """The best feasible validation accuracy so far, over trial number and over wall-clock minutes since
    the first trial started (two panels); trials that raised it are marked. None before any trained
    feasible trial."""
    from plotly.subplots import make_subplots

    bsf = best_so_far(data.records)
    if not bsf.improved:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("over trials", "over wall time"), horizontal_spacing=0.08,
                        shared_yaxes=True)
    fig.add_trace(go.Scatter(x=bsf.numbers, y=bsf.by_trial, mode="lines", name="best so far (trials)",
                             line=dict(shape="hv", color=COLORS["front"], width=2),
                             hovertemplate="after trial %{x}<br>best %{y:.4f}<extra></extra>"), row=1, col=1)
    best_at = dict(zip(bsf.numbers, bsf.by_trial))
    fig.add_trace(go.Scatter(x=bsf.improved, y=[best_at[n] for n in bsf.improved], mode="markers",
                             name="new best", marker=dict(color=COLORS["front"], symbol="diamond", size=9),
                             hovertemplate="trial %{x}: new best %{y:.4f}<extra></extra>"), row=1, col=1)
    if bsf.minutes:
        fig.add_trace(go.Scatter(x=bsf.minutes, y=bsf.by_time, mode="lines", name="best so far (minutes)",
                                 line=dict(shape="hv", color=COLORS["trained"], width=2),
                                 hovertemplate="%{x:.1f} min<br>best %{y:.4f}<extra></extra>"), row=1, col=2)
    fig.update_layout(title="Best feasible validation accuracy so far", **{**_LAYOUT, "height": 380})
    fig.update_xaxes(title_text="trial number", row=1, col=1)
    fig.update_xaxes(title_text="minutes since the first trial started", row=1, col=2)
    fig.update_yaxes(title_text="best val accuracy", row=1, col=1)
    return fig


def layer_profile_figure(data: StudyData, cost: str = "params") -> go.Figure | None:
    """The width profile of each Pareto-front network (by ``cost``) as a line over its convolutions in
    network order (x = layer index, so depth shows as the line's length), beside the baselines
    (black, dashed): the Heterogeneity Hypothesis picture. None when there is nothing to draw."""
    profiles = layer_profiles(pareto_front(data.records, cost), [r for r in data.baselines if r.spec is not None])
    if not profiles:
        return None
    fig = go.Figure()
    found = [p for p in profiles if not p.baseline]
    scale = ["#fdae6b", "#fd8d3c", "#f16913", "#d94801", "#a63603", "#7f2704"]
    for i, p in enumerate(found):  # cheapest light, most expensive dark; a single network in the front's orange
        color = COLORS["front"] if len(found) == 1 else scale[round(i * (len(scale) - 1) / (len(found) - 1))]
        acc = "-" if p.val_acc is None else f"{p.val_acc:.4f}"
        fig.add_trace(go.Scatter(
            x=list(range(1, p.depth + 1)), y=p.widths, mode="lines+markers", name=f"{p.label} ({p.depth} layers)",
            line=dict(color=color, width=2), marker=dict(size=5, color=color), text=p.layers,
            hovertemplate=f"<b>{p.label}</b> val acc {acc}, {p.params or 0:,} params<br>layer %{{x}}: %{{text}}"
                          "<br>width %{y}<extra></extra>"))
    for j, p in enumerate(q for q in profiles if q.baseline):
        fig.add_trace(go.Scatter(
            x=list(range(1, p.depth + 1)), y=p.widths, mode="lines+markers", name=f"{p.label} (baseline, {p.depth} layers)",
            line=dict(color=COLORS["baseline"], width=1.5, dash=_DASHES[(j + 1) % len(_DASHES)]), marker=dict(size=4),
            text=p.layers, hovertemplate=f"<b>{p.label}</b> (baseline)<br>layer %{{x}}: %{{text}}<br>width %{{y}}"
                                         "<extra></extra>"))
    fig.update_layout(title="Width per layer in network order: Pareto front (light = cheapest) vs the baselines",
                      **_LAYOUT)
    fig.update_xaxes(title="convolution layer (network order, stem = 1)")
    fig.update_yaxes(title="output channels", rangemode="tozero")
    return fig


def confirm_figure(data: StudyData) -> go.Figure | None:
    """The confirmed networks (``mgsearch confirm``): mean test accuracy over seeds with ± sd error bars
    against params, found networks in orange beside the baselines in black, each seed as a small dot;
    the title is the comparison sentence. None before any confirm run."""
    cmp = confirmed_comparison(data)
    if not cmp.groups:
        return None
    fig = go.Figure()
    for role, name, color, symbol in (("found", "found (confirmed)", COLORS["front"], "circle"),
                                      ("baseline", "baseline (confirmed)", COLORS["baseline"], "square")):
        groups = [g for g in cmp.groups if g.role == role]
        if not groups:
            continue
        fig.add_trace(go.Scatter(
            x=[g.params for g in groups], y=[100 * g.mean for g in groups], mode="markers", name=f"{name} ({len(groups)})",
            error_y=dict(type="data", array=[100 * g.sd for g in groups], visible=True, color=color),
            marker=dict(color=color, symbol=symbol, size=10), text=[g.label for g in groups],
            customdata=[[len(g.accs), 100 * g.sd] for g in groups],
            hovertemplate="<b>%{text}</b><br>%{x:,} params<br>test acc %{y:.2f} ± %{customdata[1]:.2f} % "
                          "(%{customdata[0]} seeds)<extra></extra>"))
        xs = [g.params for g in groups for _ in g.accs]
        fig.add_trace(go.Scatter(x=xs, y=[100 * a for g in groups for a in g.accs], mode="markers",
                                 name=f"{role}: one seed", showlegend=False, hoverinfo="skip",
                                 marker=dict(color=color, size=4, opacity=0.45)))
    p = cmp.groups[0].protocol
    fig.update_layout(**_two_line_title(f"Confirmed ({p.get('epochs')} epochs on {p.get('train_fraction')} of the "
                                        f"training split, test accuracy)", cmp.sentence()))
    limit = data.limits.get("params")
    if limit:
        fig.add_vline(x=limit, line=dict(color=COLORS["infeasible"], dash="dot"), annotation_text="budget")
    fig.update_xaxes(title="parameters")
    fig.update_yaxes(title="test accuracy % (mean ± sd over seeds)")
    return fig


def calibration_figure(data: StudyData) -> go.Figure | None:
    """``mgsearch calibrate``: each candidate's search-fidelity validation accuracy against its test
    accuracy at the confirm protocol, with Spearman / Kendall (bootstrap intervals) and the top-k
    overlap in the title. None before any candidate has both runs."""
    cal = calibration_of(data)
    if cal is None:
        return None
    oneshot = any((r.protocol or {}).get("kind") == "oneshot" for r in data.calibration if r.role == "search")
    score = "one-shot score (val acc on the supernet)" if oneshot else "search fidelity val acc"
    fig = go.Figure(go.Scatter(
        x=[100 * v for v in cal.cheap], y=[100 * v for v in cal.full], mode="markers", text=list(cal.labels),
        name=f"candidates ({cal.n})", marker=dict(color=COLORS["trained"], size=9),
        hovertemplate=f"<b>%{{text}}</b><br>{score} %{{x:.2f}} %<br>protocol test acc %{{y:.2f}} %"
                      "<extra></extra>"))
    ceiling = cal.ceiling_text()
    fig.update_layout(**_two_line_title("Fidelity calibration", cal.text(ceiling=False), *([ceiling] if ceiling else [])))
    fig.update_xaxes(title="validation accuracy % on the supernet (the one-shot search's score)" if oneshot
                     else "validation accuracy % at the search fidelity (the search's score)")
    fig.update_yaxes(title="test accuracy % at the confirm protocol")
    return fig


def _pareto_figures(data: StudyData) -> list[tuple[str, go.Figure | None]]:
    """One front per cost axis of the study (:func:`~mgsearch.report.analysis.report_axes`)."""
    return [(f"pareto-{axis}", pareto_figure(data, axis)) for axis in report_axes(data)]


def _one(anchor: str, draw: Callable[[StudyData], go.Figure | None]) -> FigureBuilder:
    return lambda data: [(anchor, draw(data))]


#: THE list of the report's figures, in page order: each builder maps a study to ``(anchor, figure
#: or None)`` pairs (None: nothing to draw for this study). Adding a figure is one drawing function
#: and one entry here; the page, its links and the browser tests follow.
FigureBuilder = Callable[[StudyData], "list[tuple[str, go.Figure | None]]"]
FIGURES: list[FigureBuilder] = [
    _pareto_figures,
    _one("best-so-far", best_so_far_figure),
    _one("learning-curves", learning_curves_figure),
    _one("layer-widths", layer_profile_figure),
    _one("hypervolume", hypervolume_figure),
    _one("widths", width_heatmap),
    _one("structure", structure_figure),
    _one("knobs", knobs_figure),
    _one("lineage", lineage_figure),
    _one("confirmed", confirm_figure),
    _one("calibration", calibration_figure),
]


def report_figures(data: StudyData) -> list[tuple[str, go.Figure]]:
    """The report's figures in page order (:data:`FIGURES`) as ``(anchor, figure)``; absent ones are left out."""
    return [(anchor, fig) for build in FIGURES for anchor, fig in build(data) if fig is not None]
