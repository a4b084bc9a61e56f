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

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from mgsearch.data import Dataset, Normalizer
from mgsearch.data.splits import stratified_subset
from mgsearch.oneshot.slicing import Supernet
from mgsearch.spec import ArchSpec
from mgsearch.training.runtime import accuracy

__all__ = ["calibration_images", "recalibrate_bn", "OneShotScore", "score_config"]


def calibration_images(dataset: Dataset, count: int, seed: int) -> torch.Tensor:
    """``count`` training images (uint8), a seeded class-stratified draw: the same for every configuration."""
    count = min(count, dataset.train_x.shape[0])
    idx = stratified_subset(dataset.train_y, count, torch.Generator().manual_seed(seed + 7919))
    return dataset.train_x[idx]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, images: torch.Tensor, normalize: Normalizer, *, batch_size: int,
                   device: torch.device) -> None:
    """Recompute every BatchNorm's running statistics of ``model`` on ``images`` (uint8): reset, then a
    cumulative average over the batches in training mode; ``model`` is left in eval mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average over the calibration batches
    model.train()
    try:
        for i in range(0, images.shape[0], batch_size):
            batch = images[i:i + batch_size]
            if batch.shape[0] < 2:  # a batch of one has no variance
                continue
            model(normalize(batch.to(device)))
    finally:
        for bn, m in zip(bns, momenta):
            bn.momentum = m
        model.eval()


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


def score_config(supernet: Supernet, spec: ArchSpec, dataset: Dataset, calibration: torch.Tensor, *,
                 val_images: int | None = None, batch_size: int = 256, device: torch.device = torch.device("cpu"),
                 eval_batch_size: int = 1000) -> OneShotScore:
    """Validation accuracy of configuration ``spec``: extract its slices, recalibrate BatchNorm on
    ``calibration`` (uint8 training images), evaluate on the first ``val_images`` validation images."""
    t0 = time.perf_counter()
    normalize = Normalizer(dataset.mean, dataset.std, device)
    model = supernet.extract(spec)
    recalibrate_bn(model, calibration, normalize, batch_size=batch_size, device=device)
    n = dataset.val_x.shape[0] if val_images is None else min(val_images, dataset.val_x.shape[0])
    acc = accuracy(model, dataset.val_x[:n], dataset.val_y[:n], normalize, device, eval_batch_size)
    return OneShotScore(val_acc=float(acc), seconds=time.perf_counter() - t0, images=n + calibration.shape[0])
