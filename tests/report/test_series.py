"""The data of the report's newer figures and table columns (mgsearch.report.series), without a browser."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from mgsearch.pareto import front_axis, pareto_front
from mgsearch.report.analysis import StudyData, TrialRecord, load_study, width_profiles
from mgsearch.report.series import (
    HV_MARGIN,
    baseline_points,
    best_so_far,
    compare_to_baseline,
    export_command,
    feasible_view,
    hypervolume_reference,
    knob_labels,
    layer_profiles,
    learning_curves,
    readable_knob,
    short_hash,
    slot_order_key,
    trial_seconds,
)
from mgsearch.search.progress import pareto_rows
from tests.report.studyfactory import T, resnet_spec, write_study

T0 = dt.datetime(2026, 1, 1, 12, 0, 0)


def rec(number, acc, params, status="trained", constraints=(), history=None, start=None, end=None, **kw):
    ua = {"val_history": history} if history is not None else {}
    if "wall_seconds" in kw:
        ua["wall_seconds"] = kw.pop("wall_seconds")
    return TrialRecord(number=number, state="COMPLETE", status=status, val_acc=acc, params=params,
                       macs=kw.pop("macs", None) or (params or 0) * 10, spec_hash=kw.pop("spec_hash", f"h{number:040d}"),
                       constraints=tuple(constraints), user_attrs=ua, datetime_start=start, datetime_complete=end, **kw)


def study(records, baselines=(), budget=None, source="studies/q.toml", objectives=("val_acc",)):
    return StudyData(name="q", storage="sqlite:///q.db", directions=("maximize",),
                     attrs={"budget": budget or {}, "objectives": list(objectives)}, records=list(records),
                     baselines=list(baselines), source=source)


# --------------------------------------------------------------------------- zoomed front
def test_feasible_view_zooms_on_the_budget_and_counts_what_lies_beyond():
    recs = [rec(0, 0.8, 40_000), rec(1, 0.82, 49_000), rec(2, None, 800_000, status="infeasible", constraints=(750_000,)),
            rec(3, None, 600_000, status="infeasible", constraints=(550_000,)), rec(4, 0.5, 30_000, status="pruned")]
    view = feasible_view(study(recs, budget={"max_params": 50_000}), "params")
    assert view.lo < 30_000 and 50_000 < view.hi < 60_000  # budget + a little padding, not 800k
    assert view.hidden == 2 and view.hidden_max == 800_000
    assert view.log_range == pytest.approx([math.log10(view.lo), math.log10(view.hi)])
    # no budget on the axis: up to the costliest feasible point
    view = feasible_view(study(recs[:2] + recs[2:3]), "params")
    assert 49_000 < view.hi < 60_000 and view.hidden == 1
    assert feasible_view(study([rec(0, None, 10, status="infeasible", constraints=(1,))]), "params") is None


def test_baseline_points_are_named_and_sorted_by_cost():
    base = [rec(1, 0.80, 36_770, baseline_name="uniform-1x"), rec(0, 0.70, 13_186, baseline_name="uniform-0.5x"),
            rec(2, None, 70_000, status="failed", baseline_name="uniform-1.5x")]
    pts = baseline_points(study([], base), "params")
    assert [(p.name, p.cost, p.val_acc) for p in pts] == [("uniform-0.5x", 13_186, 0.70), ("uniform-1x", 36_770, 0.80)]


# --------------------------------------------------------------------------- curves and best so far
def test_learning_curves_from_val_history():
    recs = [rec(0, 0.7, 100, history=[0.5, 0.6, 0.7]), rec(1, 0.8, 200, history=[0.6, 0.8]),
            rec(2, None, 50, status="pruned", history=[0.3]), rec(3, None, 10, status="infeasible"),
            rec(4, 0.1, 90, history=[0.2, float("nan"), 0.1]), rec(5, 0.7, 300)]  # no history: left out
    curves = learning_curves(recs)
    assert [c.number for c in curves] == [0, 1, 2, 4]
    assert curves[0].epochs == [1, 2, 3] and curves[0].accs == [0.5, 0.6, 0.7]
    assert curves[3].accs == [0.2]  # a non-finite epoch ends the curve
    front = {r.number for r in pareto_front(recs)}
    assert {c.number for c in curves if c.on_front} == front & {0, 1, 2, 4}
    assert curves[2].status == "pruned" and not curves[2].on_front


def test_best_so_far_over_trials_and_time():
    t = [T0 + dt.timedelta(minutes=m) for m in range(10)]
    recs = [rec(0, None, 10, status="infeasible", constraints=(1,), start=t[0], end=t[0]),
            rec(1, 0.6, 10, start=t[0], end=t[3]),
            rec(2, 0.5, 10, start=t[3], end=t[5]),
            rec(3, 0.9, 99, constraints=(5,), start=t[5], end=t[6]),  # infeasible: never the best
            rec(4, 0.7, 10, start=t[6], end=t[9])]
    bsf = best_so_far(recs)
    assert bsf.numbers == [0, 1, 2, 3, 4]
    assert bsf.by_trial == [None, 0.6, 0.6, 0.6, 0.7]
    assert bsf.improved == [1, 4]
    assert bsf.minutes == [0.0, 3.0, 5.0, 6.0, 9.0]
    assert bsf.by_time == [None, 0.6, 0.6, 0.6, 0.7]
    assert best_so_far([]).improved == []


# --------------------------------------------------------------------------- widths per layer
def test_layer_profiles_in_network_order_with_depth():
    shallow = resnet_spec(8, ((8, (4,)), (16, (12,))))
    deep = resnet_spec(8, ((8, (4, 6, 8)), (16, (12, 20))))
    uni = resnet_spec(16, ((16, (16, 16)), (32, (32,))))
    recs = [rec(0, 0.7, 100, spec_json=shallow.to_json()), rec(1, 0.8, 200, spec_json=deep.to_json())]
    profs = layer_profiles(recs, [rec(9, 0.75, 150, spec_json=uni.to_json(), baseline_name="uniform-1x")])
    assert [p.label for p in profs] == ["#0", "#1", "uniform-1x"]
    assert [p.baseline for p in profs] == [False, False, True]
    # stem, then conv1 (inner) and conv2 (stage width) of every block, in forward order
    assert profs[0].widths == [8, 4, 8, 12, 16] and profs[0].depth == 5
    assert profs[1].widths == [8, 4, 8, 6, 8, 8, 8, 12, 16, 20, 16] and profs[1].depth == 11
    assert profs[1].layers[:3] == ["stem.conv", "stages.0.blocks.0.conv1", "stages.0.blocks.0.conv2"]
    assert profs[1].stage == [-1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert profs[2].widths == [16, 16, 16, 16, 16, 32, 32]


def test_width_slots_sort_in_network_order():
    names = ["stages[2].width", "stages[0].blocks[2:4].inner", "stem", "stages[0].width", "stages[0].blocks[0].inner",
             "stages[1].f", "stages[1].width", "stages[0].blocks[1].inner"]
    assert sorted(names, key=slot_order_key) == [
        "stem", "stages[0].width", "stages[0].blocks[0].inner", "stages[0].blocks[1].inner",
        "stages[0].blocks[2:4].inner", "stages[1].width", "stages[1].f", "stages[2].width"]
    # the heat map's columns follow it: stages[0].blocks[2:4] no longer comes after stages[2]
    a = resnet_spec(8, ((8, (4,)), (16, (12,)), (32, (20,))))
    b = resnet_spec(8, ((8, (4, 4, 6, 6)), (16, (12, 12)), (32, (20, 20))), family="mgic", group_size=2, share=2)
    prof = width_profiles([rec(0, 0.7, 1, spec_json=a.to_json()), rec(1, 0.8, 2, spec_json=b.to_json())])
    assert prof.columns.index("stages[0].blocks[2:4].inner") < prof.columns.index("stages[1].width")


# --------------------------------------------------------------------------- knob names
def test_readable_knob_names():
    lab = readable_knob("s1.b2.inner@s16")
    assert lab.short == "S1 B2 inner |s16"
    assert lab.long == "stage 1 · block 2 · inner width (MGIC group size 16)"
    assert readable_knob("s0.width@dense").long == "stage 0 · width (dense convs)"
    assert readable_knob("stem.width").short == "stem"
    assert readable_knob("s2.depth").long == "stage 2 · depth"
    assert readable_knob("mystery").short == "mystery"
    order = [k.name for k in knob_labels(["s1.b0.inner", "s0.width", "width_multiplier", "s0.depth", "stem.width",
                                          "s0.b1.inner", "s0.b0.inner", "s1.group_size"])]
    assert order == ["stem.width", "s0.depth", "s0.width", "s0.b0.inner", "s0.b1.inner", "s1.group_size",
                     "s1.b0.inner", "width_multiplier"]
    assert max(len(k.short) for k in knob_labels(["s12.b14.inner@s16", "s3.group_size"])) <= 18


# --------------------------------------------------------------------------- table columns
def test_table_columns_time_hash_and_export_command():
    r = rec(7, 0.8, 100, wall_seconds=42.5, spec_hash="abcdef0123456789", spec_json=resnet_spec().to_json())
    assert trial_seconds(r) == 42.5 and short_hash(r) == "abcdef01"
    r2 = rec(8, 0.8, 100, start=T0, end=T0 + dt.timedelta(seconds=90))
    assert trial_seconds(r2) == 90.0 and trial_seconds(rec(9, 0.8, 1)) is None
    assert export_command(study([r]), r) == "mgsearch export studies/q.toml --trial 7 --out q-trial-7/"
    from_url = study([r], source=None)
    assert export_command(from_url, r) == "mgsearch export sqlite:///q.db --study-name q --trial 7 --out q-trial-7/"
    spaced = study([r], source="my studies/q.toml")
    assert export_command(spaced, r).startswith("mgsearch export 'my studies/q.toml' --trial 7")
    assert export_command(study([r]), rec(0, 0.7, 1, baseline_name="uniform-1x")) is None
    assert export_command(study([r]), rec(3, None, None, status="failed")) is None  # no architecture to export


def test_hypervolume_reference_leaves_room_beyond_the_budget():
    recs = [rec(0, 0.8, 40_000), rec(1, 0.82, 50_000)]
    assert hypervolume_reference(study(recs, budget={"max_params": 50_000}), "params") == HV_MARGIN * 50_000
    assert hypervolume_reference(study(recs), "params") == HV_MARGIN * 50_000
    assert hypervolume_reference(study([]), "params") == 1.0


def test_compare_to_baseline():
    recs = [rec(0, 0.81, 40_000), rec(1, 0.79, 30_000)]
    base = [rec(0, 0.80, 36_770, baseline_name="uniform-1x"),
            rec(1, 0.85, 70_000, baseline_name="uniform-1.5x", constraints=(20_000,))]  # over budget: not "at the budget"
    cmp = compare_to_baseline(study(recs, base))
    assert cmp.best.number == 0 and cmp.baseline.label == "uniform-1x"
    assert cmp.gain == pytest.approx(0.01)
    assert compare_to_baseline(study(recs)).baseline is None and compare_to_baseline(study(recs)).gain is None


# --------------------------------------------------------------------------- one front for search and report
def test_search_summary_and_report_list_the_same_front(tmp_path):
    """Trial 2 costs more params than trial 1 at lower accuracy but fewer MACs: a 3-D (acc, params, MACs)
    rule kept it (4 rows vs the report's 3, the bug); both now take the accuracy-vs-params front."""
    recs = [rec(0, 0.70, 1_000, macs=50_000), rec(1, 0.80, 2_000, macs=90_000),
            rec(2, 0.75, 3_000, macs=60_000), rec(3, 0.85, 4_000, macs=100_000),
            rec(4, 0.85, 4_000, macs=100_000, spec_hash="h" + "3" * 40, status="duplicate")]
    report_front = [r.number for r in pareto_front(recs, front_axis(["val_acc"]))]
    assert report_front == [0, 1, 3]
    assert [row["trial"] for row in pareto_rows(recs)] == report_front
    # a study whose second objective is MACs: both take the accuracy-vs-MACs front
    assert front_axis(["val_acc", "macs"]) == "macs" and front_axis(["val_acc"]) == "params"


def test_report_table_highlights_the_search_front(tmp_path):
    from mgsearch.report.page import render_report

    specs = [resnet_spec(8, ((8, (w,)), (16, (w2,)))) for w, w2 in ((4, 8), (8, 8), (4, 24), (12, 16))]
    trials = [T(spec=s, val_acc=a) for s, a in zip(specs, (0.6, 0.7, 0.65, 0.8))]
    db = tmp_path / "s.db"
    write_study(db, "s", trials, budget={"max_params": 100_000})
    data = load_study(db)
    html = render_report(data)
    front = [row["trial"] for row in pareto_rows(data.records)]
    assert html.count('<tr class="front">') == len(front) == len(pareto_front(data.records))
    from mgsearch.cli.report_cmd import report_summary

    summary = report_summary(data, tmp_path / "r.html")  # what `report --json` prints
    assert summary["pareto"] == front and summary["front_axis"] == "params"
    assert "No baseline in this database" in html and "mgsearch baseline" in html
