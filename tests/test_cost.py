"""mgsearch.cost: conventions, speed, torch-free import, per-stage summary, latency."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import mgsearch
from mgsearch.cost import Cost, LayerCost, cost, count_params, fvcore_macs, measure_latency
from mgsearch.presets import get_preset
from mgsearch.spec import ArchSpec

torch.set_num_threads(1)


def test_cost_fields_and_to_dict() -> None:
    c = cost(get_preset("resnet20"))
    assert isinstance(c, Cost) and all(isinstance(r, LayerCost) for r in c.layers)
    assert c.params == sum(r.params for r in c.layers)
    assert c.macs == sum(r.macs for r in c.layers)
    assert c.activations == sum(r.activations for r in c.layers)
    d = json.loads(json.dumps(c.to_dict()))
    assert d["params"] == c.params and d["macs"] == c.macs and len(d["layers"]) == len(c.layers)
    assert {"name", "kind", "in_channels", "out_channels", "groups", "kernel", "stride", "out_size", "params",
            "macs", "activations", "shared_with"} <= set(d["layers"][0])
    kinds = {r.kind for r in c.layers}
    assert kinds == {"conv", "bn", "linear"}


def test_resnet20_by_hand() -> None:
    """Independent hand count of CIFAR ResNet-20 (option A): 0.27M params, 40.55M MACs."""
    convs = 3 * 16 * 9  # stem
    macs = convs * 32 * 32
    for w_in, w, size in ((16, 16, 32), (16, 32, 16), (32, 64, 8)):
        for j in range(3):
            c1 = (w_in if j == 0 else w) * w * 9
            c2 = w * w * 9
            convs += c1 + c2
            macs += (c1 + c2) * size * size
    bn = 2 * 16 + sum(2 * 2 * w * 3 for w in (16, 32, 64))  # stem BN + 2 BNs per block
    fc = 64 * 10 + 10
    c = cost(get_preset("resnet20"))
    assert c.params == convs + bn + fc == 269_722
    assert c.macs == macs + 640 == 40_551_040


def test_shared_weights_count_once_for_params_every_time_for_macs() -> None:
    resnet, dacnn = cost(get_preset("resnet56")), cost(get_preset("dacnn56"))
    assert dacnn.macs == resnet.macs
    assert dacnn.params < resnet.params / 6
    shared = [r for r in dacnn.layers if r.shared_with]
    assert shared and all(r.params == 0 and r.macs > 0 for r in shared)
    owners = {r.name for r in dacnn.layers if r.shared_with is None}
    assert all(r.shared_with in owners for r in shared)


def test_cost_is_fast_and_does_not_build() -> None:
    spec = get_preset("resnet20")
    cost(spec)
    n = 200
    t0 = time.perf_counter()
    for _ in range(n):
        cost(spec)
    per_spec = (time.perf_counter() - t0) / n
    assert per_spec < 1e-3, f"cost(resnet20) took {per_spec * 1e3:.3f} ms"


def test_cost_imports_no_torch() -> None:
    """Every registered family's analytic cost is pure Python (one subprocess for all of them)."""
    code = ("import sys, mgsearch; c = mgsearch.cost(mgsearch.preset('mgiad')); "
            "from mgsearch.families import family_names; from tests.strategies import seeded_specs; "
            "assert all(mgsearch.cost(s).params > 0 for f in family_names() for s in seeded_specs(5, family=f)); "
            "assert c.params > 0; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_per_stage_summary() -> None:
    c = cost(get_preset("resnet32"))
    parts = c.per_stage()
    assert [p["part"] for p in parts] == ["stem", "stages[0]", "stages[1]", "stages[2]", "head"]
    assert sum(p["params"] for p in parts) == c.params
    assert sum(p["macs"] for p in parts) == c.macs
    assert sum(p["layers"] for p in parts) == len(c.layers)


def test_fvcore_and_count_params_on_a_plain_module() -> None:
    spec = ArchSpec.from_dict({"family": "resnet", "stem": {"width": 4}, "in_channels": 1, "input_size": 8,
                               "stages": [{"width": 4, "blocks": [{"inner": 4}]}], "num_classes": 3})
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 5, 3, padding=1, bias=False), torch.nn.Flatten(),
                                torch.nn.Linear(5 * 64, 3))
    model.add_module("again", model[0])  # registered twice, counted once
    assert count_params(model) == 45 + 5 * 64 * 3 + 3
    model2 = torch.nn.Sequential(*list(model)[:3])
    assert fvcore_macs(model2, spec) == 45 * 64 + 5 * 64 * 3
    # fvcore leaves the model in its mode
    built = mgsearch.build(spec)
    built.train()
    fvcore_macs(built, spec)
    assert built.training


def test_measure_latency() -> None:
    model = mgsearch.build(get_preset("resnet20"))
    out = measure_latency(model, (1, 3, 32, 32), "cpu", warmup=1, repeats=3)
    assert out["median_ms"] > 0 and isinstance(out["device_name"], str) and out["device_name"]
    assert out["repeats"] == 3 and out["batch"] == 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_presets_run_on_cuda_and_latency_names_the_gpu() -> None:
    from mgsearch.presets import PRESETS

    for preset in PRESETS.values():
        model = mgsearch.build(preset.spec).cuda()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(torch.randn(4, 3, 32, 32, device="cuda"))
        assert out.shape == (4, 10) and torch.isfinite(out.float()).all()
        assert count_params(model) == preset.params
    out = measure_latency(model, (8, 3, 32, 32), "cuda", warmup=2, repeats=5)
    assert out["median_ms"] > 0 and out["device_name"] == torch.cuda.get_device_name(0)
