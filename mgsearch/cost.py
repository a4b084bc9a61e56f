"""Exact analytic cost of an :class:`~mgsearch.spec.ArchSpec`, without building the model.

:func:`cost` is the fast path used to reject over-budget candidates (pure Python, no torch);
:func:`fvcore_macs` and :func:`count_params` measure a built model independently (tests and
benchmarks check that they agree exactly); :func:`measure_latency` times a model on a device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mgsearch.families import complexity
from mgsearch.layers.accounting import LayerCost
from mgsearch.spec import ArchSpec

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["Cost", "LayerCost", "cost", "count_params", "fvcore_macs", "fvcore_counts", "measure_latency"]

_STAGE_RE = re.compile(r"^stages\.(\d+)\.")


@dataclass(frozen=True)
class Cost:
    """Params, MACs and activations of one network, with the per-layer rows.

    Conventions (stored with every trial):

    * ``params``: every parameter tensor counted once: a weight shared by several blocks counts
      once; BatchNorm weight and bias count (running statistics do not); convolutions have no bias,
      the classifier has one.
    * ``macs``: multiply-accumulates of the convolution and linear operators for ONE input image,
      counted per application (a kernel shared by 4 blocks costs 4x its MACs, 1x its params).
      BatchNorm, ReLU, additions, padding and pooling are not counted (fvcore's conv + linear count).
    * ``activations``: output elements of the convolution and linear operators for one image
      (fvcore's ``ActivationCountAnalysis`` convention); inside an MGIC conv every sub-conv counts.
    """

    params: int
    macs: int
    activations: int
    layers: tuple[LayerCost, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: integer ``params``, ``macs``, ``activations`` and a ``layers`` list of dicts."""
        return {
            "params": self.params,
            "macs": self.macs,
            "activations": self.activations,
            "layers": [row._asdict() for row in self.layers],
        }

    def per_stage(self) -> list[dict[str, Any]]:
        """Totals per part: ``stem``, ``stages[i]``..., ``head`` (params, macs, activations, layers)."""
        parts: dict[str, dict[str, Any]] = {}
        for row in self.layers:
            m = _STAGE_RE.match(row.name)
            key = f"stages[{m.group(1)}]" if m else row.name.split(".", 1)[0]
            part = parts.setdefault(key, {"part": key, "params": 0, "macs": 0, "activations": 0, "layers": 0})
            part["params"] += row.params
            part["macs"] += row.macs
            part["activations"] += row.activations
            part["layers"] += 1
        return list(parts.values())


def cost(spec: ArchSpec) -> Cost:
    """Analytic params / MACs / activations of ``spec`` (no module is built; well under 1 ms)."""
    rows = tuple(complexity(spec))
    params = macs = acts = 0
    for row in rows:
        params += row.params
        macs += row.macs
        acts += row.activations
    return Cost(params, macs, acts, rows)


def count_params(model: "torch.nn.Module") -> int:
    """Distinct parameter elements of ``model`` (a tensor shared by several modules counts once)."""
    seen: dict[int, int] = {}
    for p in model.parameters():
        seen.setdefault(id(p), p.numel())
    return sum(seen.values())


def _example_input(spec: ArchSpec) -> "torch.Tensor":
    import torch

    return torch.zeros(1, spec.in_channels, spec.input_size, spec.input_size)


def fvcore_counts(model: "torch.nn.Module", spec: ArchSpec) -> dict[str, int]:
    """fvcore's counts on one image: ``macs`` (conv + linear operators) and ``activations``."""
    import warnings

    import torch

    with warnings.catch_warnings():  # fvcore imports torch.jit.script, deprecated upstream
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        x = _example_input(spec)
        with torch.no_grad():
            flops = FlopCountAnalysis(model, x)
            flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            by_op = flops.by_operator()
            acts = ActivationCountAnalysis(model, x)
            acts.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            by_act = acts.by_operator()
    finally:
        model.train(was_training)
    keys = ("conv", "linear", "addmm", "matmul")
    return {
        "macs": int(sum(by_op.get(k, 0) for k in keys)),
        "activations": int(sum(by_act.get(k, 0) for k in keys)),
    }


def fvcore_macs(model: "torch.nn.Module", spec: ArchSpec) -> int:
    """fvcore's conv + linear MAC count of ``model`` on one ``spec``-shaped image (imports fvcore lazily)."""
    return fvcore_counts(model, spec)["macs"]


def measure_latency(
    model: "torch.nn.Module",
    input_size: tuple[int, ...],
    device: str = "cpu",
    *,
    warmup: int = 5,
    repeats: int = 20,
) -> dict[str, Any]:
    """Median forward latency in milliseconds of ``model`` on ``torch.zeros(input_size)``.

    Runs in eval mode under ``torch.inference_mode`` after ``warmup`` untimed passes; on CUDA it
    synchronises around every pass. Returns ``{"median_ms", "device_name", "repeats", "batch"}``.
    """
    import statistics
    import time

    import torch

    dev = torch.device(device)
    model = model.to(dev).eval()
    x = torch.zeros(*input_size, device=dev)
    cuda = dev.type == "cuda"
    if cuda:
        name = torch.cuda.get_device_name(dev)
    else:
        import platform

        name = _cpu_name() or platform.processor() or platform.machine()
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            if cuda:
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            model(x)
            if cuda:
                torch.cuda.synchronize(dev)
            if i >= warmup:
                times.append((time.perf_counter() - t0) * 1000.0)
    return {"median_ms": statistics.median(times), "device_name": name, "repeats": repeats, "batch": input_size[0]}


def _cpu_name() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None
