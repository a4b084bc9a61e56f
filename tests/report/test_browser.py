"""The report in a real headless Chromium: traces, point counts, no JavaScript errors, sorting."""

from __future__ import annotations

import os

import pytest

from mgsearch.report.analysis import feasible, load_study, pareto_front
from mgsearch.report.page import write_report

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
            assert set(plots) == {"fig-pareto-params", "fig-pareto-macs", "fig-hypervolume", "fig-widths",
                                  "fig-knobs", "fig-lineage"}
            pp = plots["fig-pareto-params"]
            assert pp["trained"] == len(feasible(data.records)) == 8
            assert pp["Pareto front"] == len(pareto_front(data.records))
            assert pp["pruned"] == 2 and pp["infeasible"] == 2 and pp["duplicate"] == 1
            assert pp["baselines"] == 2
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
            shot = tmp_path / "report.png"
            pg.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
        finally:
            browser.close()
    assert errors == []
