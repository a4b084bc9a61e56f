"""The three extension points together, with no change to mgsearch's own files.

A toy family (``toy-plain5``: plain 5x5 convs, tests/test_family_registry.py), a toy metric
(``conv_layers``, tests/test_metric_registry.py) and a toy strategy (``toy-fill``,
tests/test_strategy_registry.py) are registered from the test modules; ONE tiny search uses all
three (the toy strategy proposes networks of the toy family's space, the toy metric is both a budget
limit and the second objective), then ``mgsearch report`` and ``mgsearch export --best`` run on it.
The trials' attributes are also checked against the storage contract (tests/test_storage_contract.py).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Iterator

import optuna
import pytest

from mgsearch.cli import main
from mgsearch.families import register_family, unregister_family
from mgsearch.metrics import metric_names, register_metric, unregister_metric
from mgsearch.spec import ArchSpec
from mgsearch.store.records import TRIAL_ATTRS
from mgsearch.strategies import register_strategy, unregister_strategy
from tests.test_family_registry import SPACE as FAMILY_SPACE
from tests.test_family_registry import TOY as FAMILY
from tests.test_family_registry import PlainFiveFamily
from tests.test_metric_registry import CONV_LAYERS
from tests.test_strategy_registry import TOY as STRATEGY
from tests.test_strategy_registry import ToyFill

METRIC = CONV_LAYERS.name
LIMIT = 6  # the toy strategy proposes the space's smallest depth: 5 conv layers


@pytest.fixture
def toys() -> Iterator[None]:
    register_family(PlainFiveFamily(name=FAMILY, description="plain 5x5 convs (test toy)"))
    register_metric(CONV_LAYERS)
    register_strategy(ToyFill())
    try:
        yield
    finally:
        unregister_strategy(STRATEGY)
        unregister_metric(METRIC)
        unregister_family(FAMILY)


def _run(argv: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(argv) == 0, argv
    return out.getvalue()


def test_a_toy_family_metric_and_strategy_search_report_and_export(toys, tmp_path: Path) -> None:
    from tests.fixtures.datasets import write_image_folder

    folder = write_image_folder(tmp_path / "images", classes=3, train_per_class=12, test_per_class=4, size=16)
    (tmp_path / "space.toml").write_text(FAMILY_SPACE)
    study = tmp_path / "toys.toml"
    study.write_text(
        f'[study]\nspace = "space.toml"\nstrategy = "{STRATEGY}"\nn_trials = 3\nsampler = "random"\n'
        f'pruner = "none"\nobjectives = ["val_acc", "{METRIC}"]\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{folder}"\nval_fraction = 0.25\n'
        f'[fidelity]\nepochs = 1\nbatch_size = 32\n'
        f'[budget]\nmax_params = 20000\nmax_{METRIC} = {LIMIT}\n'
        '[device]\nname = "cpu"\nthreads = 1\n'
        '[toy_fill]\nshares = [0.3, 0.6]\n'
    )
    result = json.loads(_run(["search", str(study), "--no-progress", "--json"]))
    assert result["n_trials"] == 3

    stored = optuna.load_study(study_name="toys", storage=f"sqlite:///{tmp_path / 'toys.db'}")
    assert stored.user_attrs["strategy"] == STRATEGY and stored.user_attrs["objectives"] == ["val_acc", METRIC]
    assert stored.user_attrs["budget"][f"max_{METRIC}"] == LIMIT
    trained = 0
    for t in stored.trials:
        a = t.user_attrs
        spec = ArchSpec.from_json(a["spec"])
        assert spec.family == FAMILY and a["strategy"] == STRATEGY and a["toy_share"] in (0.3, 0.6)
        assert a[METRIC] == 5 and len(a["constraints"]) == 2 and a["constraints"][1] == 5 - LIMIT
        # everything written is the storage contract, a registered metric or the candidate's own attrs
        assert set(a) <= set(TRIAL_ATTRS) | set(metric_names()) | {"toy_share", "toy_extra_cost_epochs"}, a.keys()
        trained += a["status"] == "trained"
        if a["status"] == "trained":
            assert t.values[1] == 5.0  # the toy metric is the second objective
    assert trained >= 1

    report = tmp_path / "report.html"
    _run(["report", str(study), "--out", str(report)])
    page = report.read_text()
    assert f'id="pareto-{METRIC}"' in page and CONV_LAYERS.column in page and FAMILY in page

    found = tmp_path / "found"
    _run(["export", str(study), "--best", f"--max-{METRIC.replace('_', '-')}", str(LIMIT), "--out", str(found)])
    arch = ArchSpec.from_json((found / "arch.json").read_text())
    assert arch.family == FAMILY
