"""Where and how a network runs: device resolution, CPU threads, autocast, accuracy evaluation."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
from torch import nn

from mgsearch.data import Dataset, Normalizer
from mgsearch.devices import resolve_device  # the one device rule (re-exported for mgsearch.train)
from mgsearch.errors import ConfigError

__all__ = ["resolve_device", "default_threads", "autocast", "deterministic_kernels", "evaluate", "accuracy"]


def default_threads() -> int:
    env = os.environ.get("MGSEARCH_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ConfigError(f"MGSEARCH_THREADS={env!r} must be a positive integer") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def deterministic_kernels(device: torch.device) -> Iterator[None]:
    """On CUDA, make cuDNN pick deterministic convolution algorithms (no autotuning) for the block.

    Same seed + same device must give the same metrics; cuDNN's default backward-weight algorithms
    may accumulate with atomics in a varying order. The previous settings are restored afterwards.
    On CPU this does nothing (oneDNN's kernels are deterministic for a fixed thread count).
    """
    if device.type != "cuda":
        yield
        return
    before = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before


def autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def evaluate(
    model: nn.Module,
    dataset: Dataset,
    split: str = "val",
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 1024,
) -> float:
    """Top-1 accuracy of ``model`` on ``dataset``'s ``split`` (``val``, ``test`` or ``train``)."""
    if split not in ("val", "test", "train"):
        raise ValueError(f"split={split!r} must be val, test or train")
    dev = resolve_device(device)
    normalize = Normalizer(dataset.mean, dataset.std, dev, memory_format=torch.channels_last)
    return accuracy(model, getattr(dataset, f"{split}_x"), getattr(dataset, f"{split}_y"), normalize, dev, batch_size)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, normalize: Normalizer,
              device: torch.device, batch_size: int) -> float:
    if x.shape[0] == 0:
        return float("nan")
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    with torch.inference_mode(), autocast(device):
        for i in range(0, x.shape[0], batch_size):
            xb = normalize(x[i : i + batch_size].to(device, non_blocking=True))
            yb = y[i : i + batch_size].to(device, non_blocking=True)
            correct += (model(xb).argmax(1) == yb).sum()
    return int(correct) / x.shape[0]
