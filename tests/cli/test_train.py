"""`mgsearch train`: JSON and text output, adaptation to the dataset, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mgsearch.cli import main
from mgsearch.cost import cost
from mgsearch.presets import resolve_spec
from mgsearch.spec import ArchSpec, Block, Stage, Stem

ROOT = Path(__file__).resolve().parents[2]

#: a small resnet; `mgsearch train` adapts in_channels / num_classes / input_size to the dataset
SMALL = ArchSpec(family="resnet", in_channels=3, num_classes=10, input_size=32, stem=Stem(8),
                 stages=(Stage(8, (Block(8),)), Stage(16, (Block(16),), stride=2))).to_json()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    from tests.fixtures.datasets import write_image_folder

    return write_image_folder(tmp_path_factory.mktemp("cli-train"), channels=1, size=12)


def train_json(capsys, *args: str) -> dict:
    assert main(["train", *args, "--json", "--quiet", "--threads", "1"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_result_adapted_to_dataset(capsys, folder):
    data = train_json(capsys, SMALL, "--dataset", "imagefolder", "--data-root", str(folder), "--epochs", "3",
                      "--batch-size", "16", "--lr", "1.0", "--val-fraction", "0.25", "--seed", "3")
    for key in ("val_acc", "test_acc", "epochs", "train_seconds", "images_per_second", "params", "macs",
                "fidelity", "recipe", "seed", "device", "dataset", "history", "spec", "spec_hash"):
        assert key in data, key
    spec = ArchSpec.from_dict(data["spec"])
    assert (spec.in_channels, spec.num_classes, spec.input_size) == (1, 3, 12)
    assert data["params"] == cost(spec).params and data["macs"] == cost(spec).macs
    assert data["fidelity"] == {"epochs": 3, "train_fraction": 1.0, "batch_size": 16}
    assert data["recipe"]["lr"] == 1.0 and data["seed"] == 3 and data["device"] == "cpu"
    assert data["dataset"]["name"] == "imagefolder" and data["dataset"]["val"] == 18
    assert data["epochs"] == 3 and len(data["history"]) == 3
    assert 0.0 <= data["val_acc"] <= 1.0 and 0.0 <= data["test_acc"] <= 1.0


def test_no_test_and_train_fraction(capsys, folder):
    data = train_json(capsys, SMALL, "--dataset", f"imagefolder:{folder}", "--epochs", "1", "--batch-size", "8",
                      "--train-fraction", "0.5", "--no-test")
    assert data["test_acc"] is None and data["fidelity"]["train_fraction"] == 0.5
    assert data["history"][0]["images"] == 32  # half of the 65 training images (72 minus 7 for validation)


def test_preset_text_output(capsys, folder):
    assert main(["train", "resnet20", "--dataset", "imagefolder", "--data-root", str(folder), "--epochs", "1",
                 "--batch-size", "32", "--quiet", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    params = cost(resolve_spec("resnet20", in_channels=1, num_classes=3, input_size=12)).params
    assert out.startswith("resnet20 on imagefolder (imagefolder:")
    assert f"{params:,} params" in out and "trained 1 epochs in" in out and "val acc " in out and "test acc 0." in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "cifar10", "--data-root", "/nonexistent/cifar"], "/nonexistent/cifar: no such file or folder"),
        (["--dataset", "nope"], "dataset 'nope' is unknown"),
        (["--dataset", "imagefolder"], "needs a root"),
        (["--dataset", "fashion-mnist", "--epochs", "0"], "fidelity.epochs=0 must be > 0"),
    ],
)
def test_user_errors_are_one_line_exit_2(capsys, args, message):
    assert main(["train", SMALL, *args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mgsearch: error: ") and message in err and err.count("\n") == 1


def test_corrupt_image_and_divergence_exit_2(capsys, tmp_path):
    from tests.fixtures.datasets import write_image_folder

    root = write_image_folder(tmp_path / "data", size=8)
    bad = root / "test" / "class_00" / "0001.png"
    bad.write_bytes(b"broken")
    assert main(["train", SMALL, "--dataset", "imagefolder", "--data-root", str(root), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and err.count("\n") == 1
    bad.unlink()
    assert main(["train", SMALL, "--dataset", "imagefolder", "--data-root", str(root), "--quiet", "--epochs", "2",
                 "--batch-size", "16", "--lr", "1e9", "--warmup-epochs", "0", "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert "in epoch 1" in err and "lower the learning rate" in err and err.count("\n") == 1


def test_missing_dataset_in_a_real_process(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mgsearch", "train", "resnet20", "--dataset", "cifar10",
                           "--data-root", str(tmp_path / "missing")], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"mgsearch: error: {tmp_path / 'missing'}: no such file or folder; pass an existing data root for cifar10"
    ]
