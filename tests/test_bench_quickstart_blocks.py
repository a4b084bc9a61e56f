"""benchmarks/bench_quickstart_blocks.py: the two study files it writes (the shipped quickstart word for
word on the conv side, the V-cycle space on the other) and the comparison it prints."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

from mgsearch.space import SearchSpace
from mgsearch.study import load_study_config

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_quickstart_blocks",
                                                  REPO / "benchmarks" / "bench_quickstart_blocks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_quickstart_blocks"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_quickstart_blocks", None)


def test_study_files(bench, tmp_path):
    conv = bench.study_file(tmp_path / "conv", bench.SPACES["conv"])
    vcycle = bench.study_file(tmp_path / "vcycle", bench.SPACES["vcycle"])
    shipped = (REPO / "studies" / "quickstart.toml").read_text()
    assert conv.read_text() == shipped  # so a copied quickstart database resumes in it
    assert (tmp_path / "search_spaces").resolve() == (REPO / "search_spaces").resolve()
    a, b = load_study_config(conv), load_study_config(vcycle)
    assert a.space_path.resolve() == bench.SPACES["conv"].resolve() and b.space_path == bench.SPACES["vcycle"]
    for key in ("dataset", "val_fraction", "train_fraction", "epochs", "n_trials", "seed", "sampler", "pruner",
                "confirm_epochs", "confirm_train_fraction"):
        assert getattr(a, key) == getattr(b, key), key
    SearchSpace.from_file(b.space_path)  # a valid space
    stages = tomllib.loads(b.space_path.read_text())["stages"]
    assert {stage["block"] for stage in stages} == {"vcycle"}


def test_summary_compares_the_confirmed_top_networks(bench):
    def side(name, accs):
        return {"side": name, "found": {"label": "#1", "params": 49_000, "macs": 9_000_000, "test_accs": accs,
                                        "mean": sum(accs) / len(accs), "sd": 0.0}}

    text = bench.summary([side("conv", [0.86, 0.87, 0.86]), side("vcycle", [0.84, 0.85, 0.84])])
    assert "vcycle - conv = -2.00 points (seeds' ranges do not overlap); switch the quickstart: False" in text
    text = bench.summary([side("conv", [0.84, 0.85, 0.84]), side("vcycle", [0.845, 0.86, 0.87])])
    assert "(seeds' ranges overlap); switch the quickstart: False" in text
