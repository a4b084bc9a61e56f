"""A study database written by the version before the metric registry still reads, reports, exports
and resumes.

``tests/fixtures/legacy/`` holds a 4-trial study made by main as of commit 3a292c8 (before ``mgsearch.metrics``):
objectives ``["val_acc", "params"]``, budget ``max_params = 3000`` and ``max_latency_ms = 1000`` (so
every trial stored ``latency_ms`` and two constraints, params then latency), and its ``.baselines``
study with one uniform baseline. The image folder it was trained on is the deterministic
``write_image_folder`` default, re-written here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mgsearch.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "legacy"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    from tests.fixtures.datasets import write_image_folder

    for name in ("legacy.db", "legacy.toml", "space.toml"):
        shutil.copy(FIXTURE / name, tmp_path / name)
    write_image_folder(tmp_path / "imagefolder")
    return tmp_path / "legacy.toml"


def test_legacy_study_reads(legacy):
    from mgsearch.report import best, load_study, report_axes

    data = load_study(legacy)
    assert data.budget == {"max_params": 3000, "max_macs": None, "max_latency_ms": 1000}
    assert data.limits == {"params": 3000, "latency_ms": 1000}
    assert data.directions == ("maximize", "minimize") and data.objectives == ["val_acc", "params"]
    assert [r.status for r in data.records] == ["infeasible", "trained", "trained", "infeasible"]
    assert all(len(r.constraints) == 2 and r.latency_ms is not None for r in data.records)
    assert [r.constraints[0] for r in data.records] == [r.params - 3000 for r in data.records]
    assert report_axes(data) == ["params", "macs", "latency_ms"]
    assert best(data).number == 2 and best(data, max_params=2000).number == 1
    assert best(data, under={"latency": 1000}).number == 2  # the older axis name still reads
    assert [b.baseline_name for b in data.baselines] == ["uniform-1x"]


def test_legacy_study_reports_and_exports(legacy, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", str(legacy), "--out", str(out)]) == 0
    page = out.read_text()
    assert 'id="pareto-latency_ms"' in page and "latency ms" in page
    found = tmp_path / "found"
    assert main(["export", str(tmp_path / "legacy.db"), "--best", "--max-params", "2k", "--max-latency-ms", "1000",
                 "--out", str(found)]) == 0
    assert (found / "arch.json").is_file()


def test_legacy_study_resumes(legacy):
    from mgsearch.report import load_study

    assert main(["search", str(legacy), "--n-trials", "5", "--no-progress"]) == 0
    data = load_study(legacy)
    assert len(data.records) == 5
    new = data.records[4]
    assert new.latency_ms is not None and len(new.constraints) == 2  # params, latency_ms: the same order
    assert new.constraints[0] == new.params - 3000
    assert new.user_attrs["activations"] > 0
