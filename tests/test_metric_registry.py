"""The metric registry, exercised by a toy metric registered from THIS module (no change to mgsearch).

``conv_layers`` is an analytic metric: the number of convolution rows in a candidate's cost (every
application of a shared kernel counts). The tests use it as a budget limit (``[budget]
max_conv_layers``) and as a second objective of a tiny real search, then check that the trials
store it, that the report draws it, and that ``export --best --max-conv-layers`` respects it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from mgsearch.cli import main
from mgsearch.errors import ConfigError, MgsearchError
from mgsearch.metrics import (
    ANALYTIC,
    MEASURED,
    Metric,
    budget_keys,
    get_metric,
    metric_names,
    register_metric,
    resolve_limits,
    unregister_metric,
)
from mgsearch.search.budget import Budget
from tests.search.conftest import MICRO_SPACE

TOY = "conv_layers"
LIMIT = 6  # the micro space's networks have 5..8 conv layers: some candidates are over


def conv_layers(cost: Any, spec: Any = None) -> int:
    """Convolutions of a candidate, from its cost rows."""
    return sum(1 for row in cost.layers if row.kind == "conv")


CONV_LAYERS = Metric(
    TOY, "minimize", ANALYTIC, label="convolution layers", unit="convs", column="convs", value=conv_layers,
    integer=True, budget=True, max_limit=10_000, description="convolutions per forward pass",
)


@pytest.fixture(scope="module")
def toy() -> Iterator[Metric]:
    register_metric(CONV_LAYERS)
    try:
        yield CONV_LAYERS
    finally:
        unregister_metric(TOY)


# --------------------------------------------------------------------------- registry units
def test_builtins_and_kinds():
    assert metric_names()[:6] == ("val_acc", "test_acc", "params", "macs", "activations", "latency_ms")
    assert metric_names(ANALYTIC) == ("params", "macs", "activations")
    assert set(metric_names(MEASURED)) == {"val_acc", "test_acc", "latency_ms"}
    assert budget_keys() == ("max_params", "max_macs", "max_latency_ms")
    assert get_metric("latency") is get_metric("latency_ms")  # the older name is still read


def test_duplicate_name_or_alias_is_an_error(toy):
    with pytest.raises(ValueError, match="'conv_layers' is already registered"):
        register_metric(CONV_LAYERS)
    clash = Metric("lat2", "minimize", MEASURED, label="x", aliases=("latency",))
    with pytest.raises(ValueError, match=r"'latency' is already registered \(by metric 'latency_ms'\)"):
        register_metric(clash)
    with pytest.raises(TypeError, match="expects a Metric"):
        register_metric("conv_layers")  # type: ignore[arg-type]


def test_unknown_metric_is_one_line_config_error_listing_known(toy):
    with pytest.raises(ConfigError) as err:
        get_metric("flops")
    msg = str(err.value)
    assert "\n" not in msg and "'flops' is unknown" in msg
    assert "params, macs" in msg and TOY in msg


def test_metric_definitions_are_checked():
    with pytest.raises(ValueError, match="needs value"):
        Metric("x", "minimize", ANALYTIC, label="x")
    with pytest.raises(ValueError, match="direction"):
        Metric("x", "down", MEASURED, label="x")
    with pytest.raises(ValueError, match="only a minimised metric"):
        Metric("x", "maximize", MEASURED, label="x", budget=True)
    with pytest.raises(ValueError, match="name"):
        Metric("Bad Name", "minimize", MEASURED, label="x")


def test_formatters_and_limits():
    params, lat, acc = get_metric("params"), get_metric("latency_ms"), get_metric("val_acc")
    assert params.format(12_345) == "12.3k" and params.format(4_100_000) == "4.1M" and params.format(999) == "999"
    assert params.cell(12_345) == "12,345" and params.describe(1000) == "1,000 params"
    assert lat.describe(2.5) == "2.5 ms" and lat.cell(0.123456) == "0.123" and acc.cell(0.5) == "0.5000"
    assert params.parse_limit("50k") == 50_000 and params.parse_limit(1.5e6) == 1_500_000
    assert params.parse_limit(-5) is None and params.parse_limit(1e15) is None and params.parse_limit(True) is None
    assert lat.parse_limit("2.5") == 2.5 and lat.parse_limit(0) is None
    assert (params.budget_key, params.flag, lat.flag) == ("max_params", "--max-params", "--max-latency-ms")
    assert acc.budget_key is None
    assert resolve_limits({"latency": 3}, max_params=5) == {"params": 5, "latency_ms": 3}  # stored order
    with pytest.raises(TypeError, match="unknown budget keyword 'max_flops'"):
        resolve_limits(max_flops=5)
    with pytest.raises(ConfigError, match="'val_acc' cannot be limited"):
        resolve_limits({"val_acc": 0.9})


def test_budget_of_a_toy_metric(toy):
    from mgsearch.cost import cost
    from mgsearch.presets import get_preset

    spec = get_preset("resnet20")
    c = cost(spec)
    assert conv_layers(c) == 19
    budget = Budget(max_latency_ms=1.0, max_conv_layers=18, max_params=10**6)
    assert budget.names == ["params", "latency_ms", TOY]  # built-ins keep their order; new metrics come after
    assert budget.max_conv_layers == 18 and budget.limit(TOY) == 18
    assert budget.analytic_constraints(c, spec) == {"params": c.params - 10**6, TOY: 1.0}
    assert not budget.fits(c, spec) and Budget(max_conv_layers=19).fits(c, spec)
    assert budget.measured_constraints({"latency_ms": 0.5}) == {"latency_ms": -0.5}
    assert budget.describe() == "max_params=1,000,000, max_latency_ms=1, max_conv_layers=18"


# --------------------------------------------------------------------------- study files
def _study(tmp_path: Path, root: Path, *, budget: str, objectives: str = '["val_acc", "conv_layers"]',
           n_trials: int = 6) -> Path:
    (tmp_path / "space.toml").write_text(MICRO_SPACE)
    path = tmp_path / "toy.toml"
    path.write_text(
        f'[study]\nspace = "space.toml"\nn_trials = {n_trials}\nsampler = "random"\nseed = 2\n'
        f"objectives = {objectives}\n"
        f'[data]\ndataset = "imagefolder"\nroot = "{root}"\nval_fraction = 0.25\n'
        f"[fidelity]\nepochs = 1\nbatch_size = 32\n[budget]\n{budget}\n"
        '[device]\nname = "cpu"\nthreads = 1\n'
    )
    return path


def test_study_file_reads_the_toy_budget_and_objective(toy, tmp_path):
    from mgsearch.study import load_study_config

    cfg = load_study_config(_study(tmp_path, tmp_path, budget=f"max_conv_layers = {LIMIT}\nmax_params = '50k'"))
    assert cfg.objectives == ("val_acc", TOY)
    assert cfg.limits == {"params": 50_000, TOY: LIMIT} and cfg.max_conv_layers == LIMIT
    assert cfg.budget() == {"max_params": 50_000, "max_macs": None, "max_latency_ms": None, "max_conv_layers": LIMIT}
    over = load_study_config(cfg.path, {"max_conv_layers": "7"})  # the generated --max-conv-layers override
    assert over.limits[TOY] == 7
    with pytest.raises(ConfigError, match=r"budget.max_conv_layers=-1 is not allowed: a positive count up to 10000"):
        load_study_config(_study(tmp_path, tmp_path, budget="max_conv_layers = -1"))
    with pytest.raises(ConfigError, match=r"study.objectives=\['val_acc', 'flops'\] is not allowed: .*conv_layers"):
        load_study_config(_study(tmp_path, tmp_path, budget="", objectives='["val_acc", "flops"]'))
    with pytest.raises(ConfigError, match="test_acc"):  # never tune on test
        load_study_config(_study(tmp_path, tmp_path, budget="", objectives='["val_acc", "test_acc"]'))


def test_unregistered_metric_key_is_unknown(toy, tmp_path):
    from mgsearch.study import load_study_config

    path = _study(tmp_path, tmp_path, budget=f"max_conv_layers = {LIMIT}", objectives='["val_acc"]')
    unregister_metric(TOY)
    try:
        with pytest.raises(ConfigError, match="budget.max_conv_layers is not a known key; allowed: max_params"):
            load_study_config(path)
    finally:
        register_metric(CONV_LAYERS)


# --------------------------------------------------------------------------- a tiny search with it
@pytest.fixture(scope="module")
def searched(toy, tmp_path_factory) -> dict[str, Any]:
    """A real 6-trial search with ``max_conv_layers`` and ``conv_layers`` as second objective."""
    import contextlib
    import io

    from tests.fixtures.datasets import write_image_folder

    tmp = tmp_path_factory.mktemp("toy-metric")
    folder = write_image_folder(tmp / "images", classes=3, train_per_class=12, test_per_class=4, size=16)
    study = _study(tmp, folder, budget=f"max_conv_layers = {LIMIT}\nmax_params = 100000")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["search", str(study), "--no-progress", "--json"]) == 0
    return {"study": study, "tmp": tmp, "result": json.loads(out.getvalue())}


def test_trials_store_the_toy_metric(searched):
    from mgsearch.report import load_study

    data = load_study(searched["study"])
    assert data.directions == ("maximize", "minimize")
    assert data.objectives == ["val_acc", TOY] and data.limits == {"params": 100000, TOY: LIMIT}
    assert len(data.records) == 6
    for rec in data.records:
        spec_convs = conv_layers(__import__("mgsearch").cost(rec.spec))
        assert rec.user_attrs[TOY] == spec_convs == rec.value(TOY)
        # constraints in the stored order: params, then the toy metric
        assert list(rec.constraints) == [rec.params - 100000, spec_convs - LIMIT]
        assert rec.status == ("infeasible" if spec_convs > LIMIT or rec.params > 100000 else "trained")
    assert any(r.status == "infeasible" for r in data.records) and any(r.trained for r in data.records)
    # the end-of-search JSON has the toy metric in its Pareto rows
    rows = searched["result"]["pareto"]
    assert rows and all(set(r) == {"trial", "val_acc", "params", "macs", TOY, "spec_hash"} for r in rows)
    assert all(r[TOY] <= LIMIT for r in rows)


def test_report_draws_the_toy_metric(searched):
    from mgsearch.report import load_study, pareto_front, report_axes, study_metrics
    from mgsearch.report.figures import report_figures

    data = load_study(searched["study"])
    assert report_axes(data) == ["params", "macs", TOY]
    assert TOY in [m.name for m in study_metrics(data)]
    front = pareto_front(data.records, TOY)
    assert front and [r.value(TOY) for r in front] == sorted(r.value(TOY) for r in front)
    figures = dict(report_figures(data))
    fig = figures[f"pareto-{TOY}"]
    assert fig.layout.xaxis.title.text == "convolution layers (log scale)"
    assert any(s.line.dash == "dash" or s.x0 == LIMIT for s in fig.layout.shapes)  # the budget line
    assert {t.name.split(" (")[0] for t in figures["hypervolume"].data} == {"params", "macs", TOY}
    out = searched["tmp"] / "report.html"
    assert main(["report", str(searched["study"]), "--out", str(out)]) == 0
    page = out.read_text()
    assert f'id="pareto-{TOY}"' in page and '<th data-type="num">convs</th>' in page
    assert "conv_layers &le; 6" in page


def test_export_best_under_the_toy_limit(searched):
    from mgsearch.report import best, load_study

    data = load_study(searched["study"])
    trained = [r for r in data.records if r.trained]
    tight = min(r.value(TOY) for r in trained)
    pick = best(data, under={TOY: tight})
    assert pick.value(TOY) == tight
    assert best(data, max_conv_layers=tight).number == pick.number
    with pytest.raises(MgsearchError, match=rf"has {TOY} <= {tight - 1}; the cheapest \(by {TOY}\)"):
        best(data, under={TOY: tight - 1})
    out = searched["tmp"] / "found"
    assert main(["export", str(searched["study"]), "--best", "--max-conv-layers", str(tight), "--out", str(out)]) == 0
    import mgsearch

    spec = mgsearch.ArchSpec.from_json((out / "arch.json").read_text())
    assert spec == pick.spec and conv_layers(mgsearch.cost(spec)) <= tight
    assert main(["export", str(searched["study"]), "--best", "--max-conv-layers", "0", "--out",
                 str(searched["tmp"] / "none")]) != 0
