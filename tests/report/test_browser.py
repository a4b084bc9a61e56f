"""The report in a real headless Chromium: traces, point counts, no JavaScript errors, sorting."""

from __future__ import annotations

import os

import pytest

from mgsearch.report.analysis import feasible, load_study, pareto_front
from mgsearch.report.page import write_report
from mgsearch.report.series import best_so_far, export_command, feasible_view, layer_profiles, learning_curves

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (/usr/bin/chromium)"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

TRACES_JS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  id: gd.id,
  traces: gd.data.map(t => ({name: t.name || '', type: t.type,
                             n: t.x ? t.x.length : (t.dimensions ? t.dimensions[0].values.length : 0)})),
}))
"""


def test_report_in_chromium(small_study_db, tmp_path):
    from playwright.sync_api import sync_playwright

    data = load_study(small_study_db)
    out = write_report(data, tmp_path / "report.html")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1280, "height": 1000})
            pg.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            pg.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
            pg.goto(out.resolve().as_uri())
            pg.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5", timeout=30000)
            plots = {p["id"]: {t["name"].split(" (")[0]: t["n"] for t in p["traces"]} for p in pg.evaluate(TRACES_JS)}
            assert set(plots) == {"fig-pareto-params", "fig-pareto-macs", "fig-best-so-far", "fig-learning-curves",
                                  "fig-layer-widths", "fig-hypervolume", "fig-widths", "fig-knobs", "fig-lineage"}
            pp = plots["fig-pareto-params"]
            assert pp["trained"] == len(feasible(data.records)) == 8
            assert pp["Pareto front"] == len(pareto_front(data.records))
            assert pp["pruned"] == 2 and pp["infeasible"] == 2 and pp["duplicate"] == 1
            assert pp["uniform-0.5x"] == pp["uniform-1x"] == 1  # one labelled trace per baseline

            # the front is zoomed on the feasible region: the x range (log10) ends just past the budget,
            # the infeasible trials (~100k+ params) lie beyond it and a note counts them
            view = feasible_view(data, "params")
            xr = pg.evaluate("document.getElementById('fig-pareto-params')._fullLayout.xaxis.range")
            assert xr == [pytest.approx(v) for v in view.log_range] and 10 ** xr[1] < 1.2 * 40_000
            assert view.hidden == 2
            notes = pg.evaluate("Array.from(document.querySelectorAll('#fig-pareto-params .annotation-text'))"
                                ".map(e => e.textContent)")
            assert any("2 over-budget trials beyond the right edge" in n for n in notes)
            # baselines are labelled by name next to their star (SVG text of the trace) and in the legend
            labels = pg.evaluate("Array.from(document.querySelectorAll('#fig-pareto-params .scatterlayer text'))"
                                 ".map(e => e.textContent)")
            assert "uniform-0.5x" in labels and "uniform-1x" in labels
            legend = pg.evaluate("Array.from(document.querySelectorAll('#fig-pareto-params .legendtext'))"
                                 ".map(e => e.textContent)")
            assert "uniform-1x (baseline)" in legend

            # learning curves: every stored epoch drawn (gaps between trials are nulls)
            curves = learning_curves(data.records)
            drawn_epochs = pg.evaluate("document.getElementById('fig-learning-curves').data"
                                       ".reduce((n, t) => n + t.y.filter(v => v !== null).length, 0)")
            assert drawn_epochs == sum(len(c.accs) for c in curves) > 0
            # best so far over trials and over wall time
            bsf = best_so_far(data.records)
            bs = pg.evaluate("document.getElementById('fig-best-so-far').data.map(t => [t.name, t.y])")
            assert bs[0][0] == "best so far (trials)" and bs[0][1] == bsf.by_trial
            assert any(name == "best so far (minutes)" for name, _ in bs)
            # widths per layer in network order: one line per front network and per baseline, x = 1..depth
            profs = layer_profiles(pareto_front(data.records), data.baselines)
            lines = pg.evaluate("document.getElementById('fig-layer-widths').data.map(t => [t.name, t.x, t.y])")
            assert len(lines) == len(profs)
            for (name, xs, ys), prof in zip(lines, profs):
                assert name.startswith(prof.label) and xs == list(range(1, prof.depth + 1)) and ys == prof.widths
            assert any("baseline" in name for name, _, _ in lines)
            # knob axis labels (rotated) do not overlap one another
            boxes = pg.evaluate("Array.from(document.querySelectorAll('#fig-knobs .axis-title'))"
                                ".map(e => {const r = e.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom];})")
            assert len(boxes) >= 3
            for a, b in zip(boxes, boxes[1:]):
                assert a[1] <= b[0] + 1 or a[3] <= b[2] + 1 or b[3] <= a[2] + 1, (a, b)
            # the answer line compares the best trial with the best uniform baseline
            answer = pg.inner_text("#answer")
            assert "Best at the budget: trial" in answer and "uniform-1x" in answer
            assert plots["fig-hypervolume"]["params"] == len(data.records)
            assert plots["fig-knobs"][""] == 8
            # every point was drawn: plotly renders one path per marker in SVG scatter traces
            drawn = pg.evaluate("document.querySelectorAll('#fig-pareto-params .scatterlayer .trace')[0]"
                                ".querySelectorAll('path.point').length")
            assert drawn == 8

            # sort the table by val acc (ascending, then descending) by clicking its header
            def column(i):
                return pg.evaluate(f"Array.from(document.querySelectorAll('#trials tbody tr'))"
                                   f".map(r => r.cells[{i}].getAttribute('data-v'))")

            pg.click("#trials th:nth-child(3)")
            accs = [float(v) for v in column(2) if v]
            assert accs == sorted(accs) and len(accs) >= 9
            assert column(2)[-1] == ""  # rows without accuracy go last
            pg.click("#trials th:nth-child(3)")
            accs = [float(v) for v in column(2) if v]
            assert accs == sorted(accs, reverse=True)
            pg.click("#trials th:nth-child(5)")
            params = [int(float(v)) for v in column(4) if v]
            assert params == sorted(params)
            assert pg.get_attribute("#trials th:nth-child(5)", "aria-sort") == "ascending"
            # each trial row has its export command and a copy button; a click copies without errors
            cmds = pg.evaluate("Array.from(document.querySelectorAll('#trials tbody tr td.cmd code'))"
                               ".map(e => e.textContent)")
            assert len(cmds) == len(data.records)
            assert set(cmds) == {export_command(data, r) for r in data.records}
            assert all(c.startswith("mgsearch export ") and " --trial " in c for c in cmds)
            pg.click("#trials tbody tr:first-child button.copy")
            pg.wait_for_function("document.querySelector('#trials tbody tr:first-child button.copy')"
                                 ".textContent === 'copied'", timeout=5000)
            hashes = pg.evaluate("Array.from(document.querySelectorAll('#trials tbody td.hash code'))"
                                 ".map(e => e.textContent)")
            assert sum(len(h) == 8 for h in hashes) >= 9
            shot = tmp_path / "report.png"
            pg.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
        finally:
            browser.close()
    assert errors == []
