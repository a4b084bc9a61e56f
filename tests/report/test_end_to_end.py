"""End to end on a real tiny search: mgsearch search writes the study, report reads it in Chromium,
export --retrain trains and exports the best trial, optuna-dashboard serves the same database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mgsearch.cli import main

SPACE = """
family = "resnet"
in_channels = 3
num_classes = 3
input_size = 16

[stem]
width = { min = 4, max = 8, step = 4 }

[[stages]]
stride = 1
depth = { min = 1, max = 2 }
width = { min = 4, max = 8, step = 4 }
inner = { min = 4, max = 12, step = 4, per_layer = true }

[[stages]]
stride = 2
depth = { min = 1, max = 1 }
width = { min = 8, max = 16, step = 8 }
inner = { min = 4, max = 16, step = 4 }
"""
N_TRIALS = 10


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A real study written by `mgsearch search` (random sampler, a budget that rejects some
    candidates) and its uniform baselines from `mgsearch baseline`."""
    from tests.fixtures.datasets import write_image_folder

    root = tmp_path_factory.mktemp("e2e")
    folder = write_image_folder(root / "images", classes=3, train_per_class=24, test_per_class=8, size=16)
    (root / "space.toml").write_text(SPACE)
    study = root / "tiny.toml"
    study.write_text(
        f'[study]\nspace = "space.toml"\nn_trials = {N_TRIALS}\nsampler = "random"\npruner = "none"\nseed = 3\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{folder}"\nval_fraction = 0.25\n'
        '[fidelity]\nepochs = 1\nbatch_size = 32\n[budget]\nmax_params = 3000\n'
        '[device]\nname = "cpu"\nthreads = 1\n'
    )
    assert main(["search", str(study), "--no-progress"]) == 0
    assert main(["baseline", str(study), "--no-progress"]) == 0
    return study


@pytest.mark.slow
def test_report_of_real_search(searched, tmp_path):
    from mgsearch.cost import cost
    from mgsearch.report.analysis import feasible, load_study, pareto_front
    from mgsearch.report.page import render_report

    data = load_study(searched)
    assert data.name == "tiny" and len(data.records) == N_TRIALS
    assert {r.status for r in data.records} <= {"trained", "infeasible", "duplicate", "failed", "diverged"}
    trained = feasible(data.records)
    assert trained and data.baselines
    for rec in trained:  # stored costs are the spec's analytic costs
        c = cost(rec.spec)
        assert (rec.params, rec.macs) == (c.params, c.macs) and rec.params <= 3000
        assert 0.0 <= rec.val_acc <= 1.0 and rec.knobs
    front = pareto_front(data.records)
    assert front and all(r in trained for r in front)
    out = tmp_path / "report.html"
    assert main(["report", str(searched), "--out", str(out)]) == 0
    assert "mgsearch report: tiny" in out.read_text()
    assert render_report(data).count("<tr") == 1 + N_TRIALS + len(data.baselines)
    if os.path.exists("/usr/bin/chromium"):
        from tests.report.test_browser import ARGS, CHROMIUM, TRACES_JS
        from playwright.sync_api import sync_playwright

        errors: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                pg = browser.new_page(viewport={"width": 1280, "height": 1000})
                pg.on("pageerror", lambda exc: errors.append(str(exc)))
                pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                pg.goto(out.resolve().as_uri())
                pg.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4")
                plots = {q["id"]: {t["name"].split(" (")[0]: t["n"] for t in q["traces"]} for q in pg.evaluate(TRACES_JS)}
                assert plots["fig-pareto-params"]["trained"] == len(trained)
                assert plots["fig-pareto-params"]["Pareto front"] == len(front)
                # one labelled trace per trained baseline (named after it)
                assert sum("@" in name for name in plots["fig-pareto-params"]) == len(
                    [b for b in data.baselines if b.val_acc is not None])
                assert "fig-learning-curves" in plots and "fig-best-so-far" in plots and "fig-layer-widths" in plots
                pg.screenshot(path=str(tmp_path / "report.png"), full_page=True)
            finally:
                browser.close()
        assert errors == []


@pytest.mark.slow
def test_export_retrain_of_real_search(searched, tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch

    import mgsearch
    from mgsearch.report.analysis import best, load_study

    data = load_study(searched)
    top = best(data)
    out = tmp_path / "found"
    assert main(["export", str(searched), "--best", "--max-params", "3000", "--out", str(out),
                 "--retrain", "--epochs", "2"]) == 0
    info = json.loads((out / "export.json").read_text())
    assert info["trial"] == top.number and info["trained"] is True
    assert 0.0 <= info["test_acc"] <= 1.0
    assert info["retrain"]["epochs"] == 2 and info["retrain"]["train_images"] == 3 * 24  # train + val, all of it
    card = (out / "MODEL_CARD.md").read_text()
    assert "test accuracy (retrained)" in card and f"{info['test_acc']:.4f}" in card
    model = mgsearch.load(out)
    assert model.spec == top.spec
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        ref = model(x).numpy()
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert np.abs(sess.run(None, {"input": x.numpy()})[0] - ref).max() <= 1e-4
    program = torch.export.load(str(out / "model.pt2"))
    with torch.no_grad():
        assert np.abs(program.module()(x).numpy() - ref).max() <= 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.mark.slow
def test_optuna_dashboard_serves_the_study(searched):
    from mgsearch.report.analysis import load_study

    data = load_study(searched)
    db = Path(str(searched)).with_suffix(".db")
    exe = Path(sys.executable).with_name("optuna-dashboard")
    cmd = [str(exe)] if exe.exists() else ["optuna-dashboard"]
    port = _free_port()
    proc = subprocess.Popen([*cmd, f"sqlite:///{db}", "--port", str(port), "--host", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        studies = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"optuna-dashboard exited: {proc.stderr.read().decode()[-500:]}")
            try:
                studies = _get(f"http://127.0.0.1:{port}/api/studies")
                break
            except OSError:
                time.sleep(0.5)
        assert studies is not None, "optuna-dashboard did not answer within 60 s"
        by_name = {s["study_name"]: s for s in studies["study_summaries"]}
        assert set(by_name) == {"tiny", "tiny.baselines"}
        detail = _get(f"http://127.0.0.1:{port}/api/studies/{by_name['tiny']['study_id']}")
        trials = detail["trials"]
        assert [t["number"] for t in trials] == [r.number for r in data.records]
        for t, rec in zip(trials, data.records):
            attrs = {a["key"]: a["value"] for a in t["user_attrs"]}
            assert attrs["status"] == rec.status and attrs["spec_hash"] == rec.spec_hash
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
