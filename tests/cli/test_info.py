"""`mgsearch info`: the per-layer table, the JSON object, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mgsearch.cli import main
from mgsearch.cost import cost
from mgsearch.presets import get_preset
from mgsearch.spec import ArchSpec

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgsearch", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_info_table(capsys):
    assert main(["info", "resnet20"]) == 0
    out = capsys.readouterr().out
    c = cost(get_preset("resnet20"))
    assert out.startswith("resnet20: family resnet, input 3x32x32, 10 classes, 9 blocks")
    assert "stages.2.blocks.2.conv2" in out and "head.fc" in out
    assert f"total: {c.params:,} params" in out and f"{c.macs:,} MACs" in out
    header = out.splitlines()[1].split()
    assert header[:4] == ["layer", "kind", "in", "out"] and "MACs" in header
    assert len(out.splitlines()) == len(c.layers) + 4


def test_info_json_and_overrides(capsys):
    assert main(["info", "mgiad-small", "--json", "--in-channels", "1", "--num-classes", "100", "--input-size", "28"]) == 0
    data = json.loads(capsys.readouterr().out)
    spec = ArchSpec.from_dict(data["spec"])
    assert (spec.in_channels, spec.num_classes, spec.input_size) == (1, 100, 28)
    c = cost(spec)
    assert (data["params"], data["macs"], data["activations"]) == (c.params, c.macs, c.activations)
    assert all(isinstance(data[k], int) for k in ("params", "macs", "activations"))
    assert len(data["layers"]) == len(c.layers) and data["layers"][0]["name"] == c.layers[0].name
    assert sum(row["params"] for row in data["layers"]) == data["params"]
    assert data["hash"] == spec.hash


def test_info_spec_file_and_inline_json(tmp_path, capsys):
    spec = get_preset("dacnn20")
    path = tmp_path / "arch.json"
    path.write_text(spec.to_json(indent=2))
    assert main(["info", str(path), "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert main(["info", spec.to_json(), "--json"]) == 0
    inline = json.loads(capsys.readouterr().out)
    assert from_file == inline and from_file["params"] == cost(spec).params
    assert main(["info", spec.to_json()]) == 0
    assert capsys.readouterr().out.startswith("inline spec: family dacnn")


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["info", "resnet21"], "preset 'resnet21' is unknown"),
        (["info", "resnet20", "--num-classes", "0"], "--num-classes=0 must be >= 1"),
        (["info", "resnet20", "--input-size", "big"], "--input-size='big' must be a positive integer"),
        (["info", '{"family": "mgic", "stem"'], "inline spec JSON: spec JSON is malformed"),
    ],
)
def test_info_errors_in_process(args, pattern, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("mgsearch: error: ") and pattern in err and err.count("\n") == 1


def test_info_errors_as_cli(tmp_path):
    bad = tmp_path / "bad.json"
    d = get_preset("mgic20").to_dict()
    d["stages"][1]["blocks"][0]["inner"] = 20
    bad.write_text(json.dumps(d))
    for args, pattern in [
        ([str(bad)], f"{bad}: stages[1].blocks[0].inner=20 is not a multiple of stages[1].group_size=8"),
        ([str(tmp_path / "missing.json")], "missing.json: spec file not found"),
        (['{"family": "vgg", "stem": {"width": 8}, "stages": []}'], "family='vgg' is unknown"),
    ]:
        proc = run_cli("info", *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mgsearch: error: ") and pattern in lines[0], proc.stderr
    ok = run_cli("info", "resnet20", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["params"] == cost(get_preset("resnet20")).params
