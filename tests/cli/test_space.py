"""`mgsearch space`: sampling output, JSON that rebuilds, summary lines, one-line errors."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from mgsearch.cli import main
from mgsearch.cost import cost
from mgsearch.space import SearchSpace
from mgsearch.spec import ArchSpec

ROOT = Path(__file__).resolve().parents[2]
TINY = str(ROOT / "search_spaces" / "tiny.toml")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mgsearch", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_space_json_rebuilds_and_matches_costs(capsys):
    torch = pytest.importorskip("torch")
    from mgsearch.families import build

    assert main(["space", TINY, "--sample", "30", "--seed", "4", "--json"]) == 0
    captured = capsys.readouterr()
    items = json.loads(captured.out)["samples"]
    assert len(items) == 30
    space = SearchSpace.from_file(TINY)
    assert [ArchSpec.from_dict(it["spec"]) for it in items] == space.sample(30, seed=4)
    for it in items:
        spec = ArchSpec.from_json(json.dumps(it["spec"]))
        c = cost(spec)
        assert (it["params"], it["macs"]) == (c.params, c.macs)
        assert it["hash"] == spec.hash
    for it in items[:3]:
        model = build(ArchSpec.from_json(json.dumps(it["spec"])))
        with torch.no_grad():
            assert tuple(model(torch.zeros(1, 3, 16, 16)).shape) == (1, 10)
    # the summary goes to stderr in --json mode
    params = [it["params"] for it in items]
    err = captured.err
    assert "30 drawn" in err
    assert f"{min(params):,}" in err and f"{int(statistics.median(params)):,}" in err and f"{max(params):,}" in err
    assert f"{cost(space.min_spec()).params:,}" in err and f"{cost(space.max_spec()).params:,}" in err


def test_space_table(capsys):
    assert main(["space", TINY, "--sample", "12", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"{TINY}: family mgic") and "12 architectures drawn with seed 1" in lines[0]
    specs = SearchSpace.from_file(TINY).sample(12, seed=1)
    for spec in specs:
        assert spec.short_hash in out
    for label in ("sample min", "sample median", "sample max", "space minimum", "space maximum"):
        assert label in out


def test_space_overrides(capsys):
    assert main(["space", TINY, "--sample", "3", "--json", "--in-channels", "1", "--num-classes", "7"]) == 0
    items = json.loads(capsys.readouterr().out)["samples"]
    assert all(it["spec"]["in_channels"] == 1 and it["spec"]["num_classes"] == 7 for it in items)


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["--sample", "0"], "--sample=0 must be >= 1"),
        (["--sample", "ten"], "--sample='ten' must be a positive integer"),
        (["--seed", "x"], "--seed='x' must be an integer"),
    ],
)
def test_space_argument_errors(args, pattern, capsys):
    assert main(["space", TINY, *args]) == 2
    err = capsys.readouterr().err
    assert err == f"mgsearch: error: {pattern}\n"


def test_space_file_errors_as_cli(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "search_spaces" / "tiny.toml").read_text().replace("max = 2 }", "max = 0 }", 1))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('family = "mgic"\nstemm = 3\n')
    broken = tmp_path / "broken.toml"
    broken.write_text("family = \n")
    cases = [
        (bad, f"{bad}: stages[0].depth.max=0 must be >= 1"),
        (unknown, f"{unknown}: stemm=3 is not a known key; allowed: family"),
        (broken, f"{broken}: invalid TOML"),
        (tmp_path / "none.toml", "none.toml: no such search-space file"),
    ]
    for path, pattern in cases:
        proc = run_cli("space", str(path), "--sample", "2")
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mgsearch: error: ") and pattern in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr


def test_space_cli_ten_thousand_is_fast():
    import time

    t0 = time.perf_counter()
    proc = run_cli("space", str(ROOT / "search_spaces" / "mgic.toml"), "--sample", "10000", "--json")
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count('"spec"') == 10000
    assert seconds < 60, seconds  # a few seconds on a quiet machine; generous for a shared CI box
