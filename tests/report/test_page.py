"""Figures and the HTML page: contents, credentials, atomic writes, and speed with 3000 trials."""

from __future__ import annotations

import random
import re
import time

import pytest

from mgsearch.errors import MgsearchError

from mgsearch.report import analysis, figures, page
from mgsearch.report.analysis import TrialRecord, feasible, load_study, pareto_front
from tests.report.studyfactory import resnet_spec


def _trace(fig, prefix):
    found = [t for t in fig.data if (t.name or "").startswith(prefix)]
    assert len(found) == 1, [t.name for t in fig.data]
    return found[0]


def test_pareto_figure_traces(small_study_db):
    data = load_study(small_study_db)
    fig = figures.pareto_figure(data, "params")
    ok = feasible(data.records, "params")
    front = pareto_front(data.records, "params")
    assert len(_trace(fig, "trained").x) == len(ok) == 8
    assert list(_trace(fig, "Pareto front").x) == [r.params for r in front]
    assert list(_trace(fig, "Pareto front").y) == [r.val_acc for r in front]
    assert len(_trace(fig, "pruned").x) == 2
    assert len(_trace(fig, "infeasible").x) == 2
    assert len(_trace(fig, "duplicate").x) == 1
    assert len(_trace(fig, "diverged").x) == 1
    # one trace per baseline, its name written next to the star and in the legend
    assert [(t.name, list(t.text), t.mode) for t in fig.data if t.name.endswith("(baseline)")] == [
        ("uniform-0.5x (baseline)", ["uniform-0.5x"], "markers+text"),
        ("uniform-1x (baseline)", ["uniform-1x"], "markers+text")]
    assert fig.layout.xaxis.type == "log"
    # the hover data carries trial, status, accuracy, params, MACs and widths
    row = _trace(fig, "trained").customdata[0]
    assert row[0] == "#0" and row[1] == "trained" and "stem 8" in row[5]
    # untrained trials sit below every plotted accuracy
    assert max(_trace(fig, "infeasible").y) < min(r.val_acc for r in ok)


def test_other_figures(small_study_db):
    data = load_study(small_study_db)
    hv = figures.hypervolume_figure(data)
    assert [len(t.x) for t in hv.data] == [len(data.records)] * 2
    heat = figures.width_heatmap(data)
    front = pareto_front(data.records, "params")
    assert list(heat.data[0].y) == [r.label for r in front] + ["uniform-0.5x", "uniform-1x"]
    knobs = figures.knobs_figure(data)
    assert [d.label for d in knobs.data[0].dimensions][:3] == ["family", "w0", "w1"]
    lin = figures.lineage_figure(data)
    child = data.records[-1]
    from mgsearch.cost import cost

    assert list(lin.data[0].x[:2]) == [cost(child.parent_spec).params, child.params]
    anchors = [a for a, _ in figures.report_figures(data)]
    # every network of this study is dense and unshared: no structure figure
    assert figures.structure_figure(data) is None
    assert anchors == ["pareto-params", "pareto-macs", "best-so-far", "learning-curves", "layer-widths",
                       "hypervolume", "widths", "knobs", "lineage"]


def test_structure_figure_shows_groups_and_sharing():
    from tests.report.test_analysis import rec

    a = resnet_spec(8, ((8, (8, 8)), (16, (16, 16))), family="mgic", group_size=4, share=2)
    b = resnet_spec(8, ((8, (8, 8)), (16, (16, 16))), family="mgic")
    data = analysis.StudyData(name="m", storage="", directions=("maximize",), attrs={},
                              records=[rec(0, 0.8, 100, spec_json=b.to_json()), rec(1, 0.9, 200, spec_json=a.to_json())])
    fig = figures.structure_figure(data)
    assert list(fig.data[0].y) == ["#0", "#1"]
    assert fig.data[0].z == ((0, 0), (4, 4)) or [list(r) for r in fig.data[0].z] == [[0, 0], [4, 4]]
    assert [list(r) for r in fig.data[1].z] == [[1, 1], [2, 2]]


def test_page_is_self_contained(small_study_db):
    data = load_study(small_study_db)
    text = page.render_report(data)
    assert text.count("<script") >= 2
    # no external resource of any kind: plotly.js is inlined once
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"?https?:", text)
    assert text.count("Plotly=") + text.count("plotly.js v") >= 1
    assert len(re.findall(r"/\*\*? *\n? *\* plotly\.js v", text)) <= 1
    for needle in ("mgsearch report: small", "fashion-mnist", "params &le; 40,000", "epochs 1", "report date"):
        assert needle in text
    assert text.count("<tr") == 1 + len(data.records) + len(data.baselines)


def test_page_never_writes_credentials(small_study_db):
    data = load_study(small_study_db)
    data.storage = "postgresql+psycopg://alice:s3cr3tpw@db.example:5432/mg"
    data.attrs["config"] = {"storage": "postgresql+psycopg://alice:s3cr3tpw@db.example:5432/mg"}
    text = page.render_report(data)
    assert "s3cr3tpw" not in text
    assert "alice:***@db.example" in text


def test_write_report_is_atomic(small_study_db, tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    out.write_text("old")

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(page, "render_report", boom)
    with pytest.raises(RuntimeError):
        page.write_report(load_study(small_study_db), out)
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_write_report_interrupted_while_writing_leaves_no_temp(small_study_db, tmp_path, monkeypatch):
    out = tmp_path / "r.html"

    def fail_replace(src, dst):
        raise OSError("rename failed")

    monkeypatch.setattr("os.replace", fail_replace)  # (page writes through mgsearch.outputs)
    with pytest.raises(MgsearchError, match="rename failed"):  # one line for the CLI, nothing left behind
        page.write_report(load_study(small_study_db), out)
    assert list(tmp_path.iterdir()) == []


def synthetic_records(n: int, seed: int = 0) -> list[TrialRecord]:
    """``n`` records shaped as the storage contract stores them, with real specs and statuses."""
    from mgsearch.cost import cost

    rng = random.Random(seed)
    recs = []
    for i in range(n):
        w = [rng.randrange(4, 64, 2) for _ in range(4)]
        spec = resnet_spec(w[0], ((w[1], (w[2], w[2])), (32, (w[3],))))
        c = cost(spec)
        status = rng.choices(["trained", "pruned", "infeasible", "duplicate"], [6, 2, 2, 1])[0]
        recs.append(TrialRecord(
            number=i, state="PRUNED" if status == "pruned" else "COMPLETE", status=status,
            val_acc=rng.uniform(0.5, 0.9) if status in ("trained", "duplicate") else None,
            last_report=rng.uniform(0.3, 0.6) if status == "pruned" else None,
            params=c.params, macs=c.macs, spec_json=spec.to_json(), spec_hash=f"{i}",
            knobs={"w0": w[0], "w1": w[1], "w2": w[2], "w3": w[3]},
            constraints=(1.0,) if status == "infeasible" else (-1.0,),
        ))
    return recs


def test_page_with_3000_trials_is_fast():
    recs = synthetic_records(3000)
    data = analysis.StudyData(name="big", storage="sqlite:///x.db", directions=("maximize",),
                              attrs={"dataset": "cifar10", "budget": {"max_params": 60000}}, records=recs)
    start = time.perf_counter()
    text = page.render_report(data)
    elapsed = time.perf_counter() - start
    assert elapsed < 8.0, f"page generation took {elapsed:.1f}s"
    assert text.count("<tr") == 3001
    fig = figures.pareto_figure(data)
    # large clouds are WebGL traces
    assert type(_trace(fig, "trained")).__name__ == "Scattergl"
