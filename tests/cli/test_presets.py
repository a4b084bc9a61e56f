"""`mgsearch presets`: every preset listed with its family, params and MACs."""

from __future__ import annotations

import json

from mgsearch.cli import main
from mgsearch.cost import cost
from mgsearch.presets import PRESETS
from mgsearch.spec import ArchSpec


def test_presets_table(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["name", "family", "params", "MACs"]
    assert len(lines) == len(PRESETS) + 2
    for name, preset in PRESETS.items():
        row = next(line for line in lines if line.split()[0] == name)
        assert row.split()[1] == preset.spec.family
        assert f"{cost(preset.spec).params:,}" in row


def test_presets_json(capsys):
    assert main(["presets", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert [it["name"] for it in items] == list(PRESETS)
    for it in items:
        spec = ArchSpec.from_dict(it["spec"])
        c = cost(spec)
        assert (it["params"], it["macs"], it["family"]) == (c.params, c.macs, spec.family)
        assert isinstance(it["description"], str) and it["description"]
    resnet20 = next(it for it in items if it["name"] == "resnet20")
    assert 0.26e6 < resnet20["params"] < 0.28e6  # He et al.: 0.27M
