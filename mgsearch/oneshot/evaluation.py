"""Scoring a width configuration on a trained supernet: slice, recalibrate BatchNorm, measure accuracy.

BatchNorm statistics gathered while the supernet trained belong to no configuration in particular,
so before a configuration is scored its statistics are recomputed (US-Nets' "BN calibration",
``bn_calibration_init`` in the authors' ``train.py``): running statistics reset, a cumulative average
(``momentum=None``) over a few batches of training images in training mode, no gradients. Then the
configuration is evaluated on the validation split. mgsearch's choices: the calibration images are
one fixed, seeded, class-stratified draw of the training split, un-augmented, the same for every
configuration (so that scores differ by the widths only); ``val_images`` may cap the validation images
(the first ones of the split).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mgsearch.data import Dataset, Normalizer
from mgsearch.data.splits import stratified_subset
from mgsearch.oneshot.slicing import Supernet
from mgsearch.spec import ArchSpec
from mgsearch.training.runtime import autocast

__all__ = ["calibration_images", "recalibrate_bn", "ScoringImages", "scoring_images", "OneShotScore",
           "score_config", "EVAL_BATCH"]


def calibration_images(dataset: Dataset, count: int, seed: int) -> torch.Tensor:
    """``count`` training images (uint8), a seeded class-stratified draw: the same for every configuration."""
    count = min(count, dataset.train_x.shape[0])
    idx = stratified_subset(dataset.train_y, count, torch.Generator().manual_seed(seed + 7919))
    return dataset.train_x[idx]


def recalibrate_bn(model: nn.Module, images: torch.Tensor, normalize: Normalizer | None, *, batch_size: int,
                   device: torch.device, memory_format: torch.memory_format = torch.contiguous_format) -> None:
    """Recompute every BatchNorm's running statistics of ``model`` on ``images``: reset, then a
    cumulative average over the batches of ``batch_size`` in training mode; ``model`` is left in eval
    mode. ``images`` are uint8 (normalised here by ``normalize``) or, with ``normalize=None``, already
    normalised floats on ``device``."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over the calibration batches
    model.train()
    try:
        with torch.inference_mode():
            for i in range(0, images.shape[0], batch_size):
                batch = images[i:i + batch_size]
                if batch.shape[0] < 2:  # a batch of one has no variance
                    continue
                x = batch if normalize is None else normalize(batch.to(device))
                model(x.contiguous(memory_format=memory_format))
    finally:
        for bn, m in zip(bns, momenta):
            bn.momentum = m
        model.eval()


#: the largest normalised image set :func:`scoring_images` keeps in memory (bytes); larger sets are
#: normalised batch by batch
PREPARED_LIMIT_BYTES = 256 * 2**20


@dataclass(frozen=True)
class ScoringImages:
    """The images every configuration is scored on, normalised once: the calibration images
    (``calibration``), the validation images (``val_x``) and labels (``val_y``), on one device in one
    memory format. ``normalized`` False: the uint8 images as given (too large to keep as floats)."""

    calibration: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    normalized: bool


_PREPARED: list[tuple[tuple[Any, ...], ScoringImages]] = []


def scoring_images(dataset: Dataset, calibration: torch.Tensor, val_images: int | None, device: torch.device,
                   memory_format: torch.memory_format = torch.contiguous_format) -> ScoringImages:
    """The normalised calibration and validation images of a score, prepared once and reused while
    the same dataset, calibration tensor, count, device and format come back (one entry kept)."""
    n = dataset.val_x.shape[0] if val_images is None else min(val_images, dataset.val_x.shape[0])
    key = (id(dataset), id(calibration), calibration.shape[0], n, str(device), str(memory_format))
    for k, prepared in _PREPARED:
        if k == key:
            return prepared
    per_image = 4 * max(1, math.prod(dataset.val_x.shape[1:]))
    if per_image * (n + calibration.shape[0]) > PREPARED_LIMIT_BYTES:
        return ScoringImages(calibration, dataset.val_x[:n], dataset.val_y[:n], normalized=False)
    normalize = Normalizer(dataset.mean, dataset.std, device, memory_format=memory_format)
    prepared = ScoringImages(normalize(calibration.to(device)), normalize(dataset.val_x[:n].to(device)),
                             dataset.val_y[:n].to(device), normalized=True)
    _PREPARED[:] = [(key, prepared)]
    # the key holds ids: keep the objects alive as long as the entry so that an id is never reused
    _KEEP[:] = [dataset, calibration]
    return prepared


_KEEP: list[Any] = []


@dataclass
class OneShotScore:
    """A configuration's one-shot score, shaped like a :class:`~mgsearch.train.TrainResult` for the
    objective (``val_acc``, ``history``, ``train_seconds``, ``images_per_second``) plus ``trial_attrs``
    (what the trial stores besides: the one-shot fidelity, the supernet file, the seconds spent)."""

    val_acc: float
    seconds: float
    images: int
    trial_attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def history(self) -> list[dict[str, float]]:
        return [{"epoch": 1, "val_acc": self.val_acc}]

    @property
    def train_seconds(self) -> float:
        return self.seconds

    @property
    def images_per_second(self) -> float:
        return self.images / max(self.seconds, 1e-9)


#: validation batch size: small batches keep a small network's activations in the CPU caches
#: (measured, docs/benchmarks.md "One-shot scoring")
EVAL_BATCH = 100


def score_config(supernet: Supernet, spec: ArchSpec, dataset: Dataset, calibration: torch.Tensor, *,
                 val_images: int | None = None, batch_size: int = 256, device: torch.device = torch.device("cpu"),
                 eval_batch_size: int = EVAL_BATCH) -> OneShotScore:
    """Validation accuracy of configuration ``spec``: extract its slices once (a stand-alone network),
    recalibrate BatchNorm on ``calibration`` (uint8 training images, batches of ``batch_size``),
    evaluate on the first ``val_images`` validation images (batches of ``eval_batch_size``), all
    under :func:`torch.inference_mode`, in channels-last memory format on CPU, with the images
    normalised once per dataset and calibration set (:func:`scoring_images`)."""
    t0 = time.perf_counter()
    fmt = torch.channels_last if device.type == "cpu" else torch.contiguous_format
    images = scoring_images(dataset, calibration, val_images, device, fmt)
    normalize = None if images.normalized else Normalizer(dataset.mean, dataset.std, device, memory_format=fmt)
    model = supernet.extract(spec).to(memory_format=fmt)  # type: ignore[call-overload]
    recalibrate_bn(model, images.calibration, normalize, batch_size=batch_size, device=device, memory_format=fmt)
    n = images.val_x.shape[0]
    if n == 0:
        acc = float("nan")
    else:
        correct = torch.zeros((), dtype=torch.long, device=device)
        with torch.inference_mode(), autocast(device):  # bf16 on CUDA, as the training's evaluation
            for i in range(0, n, eval_batch_size):
                xb = images.val_x[i:i + eval_batch_size]
                xb = xb if normalize is None else normalize(xb.to(device))
                correct += (model(xb).argmax(1) == images.val_y[i:i + eval_batch_size].to(device)).sum()
        acc = int(correct) / n
    return OneShotScore(val_acc=float(acc), seconds=time.perf_counter() - t0, images=n + calibration.shape[0])
