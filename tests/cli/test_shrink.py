"""`mgsearch shrink`: tables, JSON, --out written atomically, training flags, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mgsearch.cli import main
from mgsearch.cost import cost
from mgsearch.spec import ArchSpec, width_slots

ROOT = Path(__file__).resolve().parents[2]

SMALL = json.dumps({
    "family": "resnet", "stem": {"width": 8},
    "stages": [{"width": 8, "blocks": [{"inner": 8}, {"inner": 8}]},
               {"width": 16, "blocks": [{"inner": 16}], "stride": 2}],
})


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    from tests.fixtures.datasets import write_image_folder

    return write_image_folder(tmp_path_factory.mktemp("cli-shrink"))


def test_table_and_out_file(capsys, folder, tmp_path):
    out_file = tmp_path / "shrunk.json"
    args = ["shrink", SMALL, "--dataset", f"imagefolder:{folder}", "--widen", "2", "--max-params", "3k",
            "--keep-ratio", "0.3", "--importance-batches", "1", "--out", str(out_file)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "width slot" in out and "widened" in out and "shrunk" in out
    spec = ArchSpec.from_json(out_file.read_text())
    assert cost(spec).params <= 3000
    assert spec.in_channels == 3 and spec.num_classes == 3 and spec.input_size == 16  # shaped to the data
    for slot in width_slots(spec):
        assert f"{slot.name} " in out
    assert f"{cost(spec).params:,}" in out
    assert [p.name for p in tmp_path.iterdir()] == ["shrunk.json"]  # no temporary left behind


def test_json_with_training_and_baseline(capsys, folder):
    args = ["shrink", SMALL, "--dataset", f"imagefolder:{folder}", "--ratio", "0.9", "--keep-ratio", "0.3",
            "--importance-batches", "1", "--epochs", "1", "--batch-size", "16", "--baseline", "--json", "--seed", "2"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    spec = ArchSpec.from_dict(data["spec"])
    assert data["params"] == cost(spec).params and data["macs"] == cost(spec).macs
    assert data["params"] <= 0.9 * data["base"]["params"]
    assert 0.0 <= data["val_acc"] <= 1.0 and 0.0 <= data["test_acc"] <= 1.0
    assert 0.0 <= data["baseline"]["test_acc"] <= 1.0 and data["baseline"]["distilled"] is False
    assert data["fidelity"]["epochs"] == 1 and data["extra_cost_epochs"] > 0
    assert [s["name"] for s in data["slots"]] == [s.name for s in width_slots(spec)]


def test_epochs_zero_json_has_no_accuracy(capsys, folder):
    assert main(["shrink", SMALL, "--dataset", f"imagefolder:{folder}", "--max-params", "2.5k", "--keep-ratio",
                 "0.25", "--importance-batches", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "val_acc" not in data and data["params"] <= 2500 and data["budget"]["max_params"] == 2500


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--max-params", "10"], "--max-params 10 is below the smallest network shrink can reach"),
        (["--max-params", "10", "--keep-ratio", "0.4"], "lower --keep-ratio"),
        (["--max-params", "lots"], "'lots' is not a count"),
        (["--widen", "0"], "--widen='0'"),
        (["--keep-ratio", "2"], "--keep-ratio='2'"),
        (["--distill"], "--epochs >= 1"),
        (["--epochs", "-1"], "--epochs=-1"),
        (["--importance", "slimmable", "--epochs", "1", "--slimmable-epochs", "2"], "more than --epochs=1"),
        (["--importance", "slimmable", "--max-params", "10"], "--max-params 10 is below the smallest network"),
        (["--importance", "slimmable", "--group-fraction", "0"], "--group-fraction='0'"),
    ],
)
def test_errors_are_one_line(capsys, folder, tmp_path, extra, message):
    out_file = tmp_path / "never.json"
    code = main(["shrink", SMALL, "--dataset", f"imagefolder:{folder}", "--importance-batches", "1",
                 "--out", str(out_file), *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mgsearch: error:") and message in lines[0], err
    assert not out_file.exists()


def test_unknown_dataset_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "mgsearch", "shrink", "resnet20", "--dataset", "nope"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("quiet", [False, True], ids=["progress", "no-progress"])
def test_slimmable_importance_trains_shrinks_and_retrains(capsys, folder, monkeypatch, quiet):
    import torch

    monkeypatch.setenv("MGSEARCH_THREADS", "1")  # two threads per process spin against each other on a shared machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        args = ["shrink", SMALL, "--dataset", f"imagefolder:{folder}", "--importance", "slimmable", "--ratio", "0.8",
                "--keep-ratio", "0.3", "--epochs", "1", "--batch-size", "32", "--calibration-images", "32",
                "--val-images", "16", "--group-fraction", "0.25", "--json", *(["--no-progress"] if quiet else [])]
        assert main(args) == 0
    finally:
        torch.set_num_threads(threads)
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["importance"] == "slimmable" and data["params"] <= 0.8 * data["base"]["params"]
    assert data["slimmable"]["epochs"] == 1 and len(data["slimmable"]["steps"]) >= 1
    assert data["extra_cost_epochs"] > 0 and 0.0 <= data["test_acc"] <= 1.0
    if quiet:
        assert captured.err == ""
    else:
        assert "supernet epoch 1/1" in captured.err and "slimmable shrink step 1:" in captured.err
