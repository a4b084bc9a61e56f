"""The training recipe (optimiser, schedule, regularisation, augmentation) and the fidelity.

Both are frozen dataclasses with ``to_dict()``; invalid values raise :class:`ConfigError` naming the
field (``recipe.lr=-1 must be > 0``). This module imports no torch (the optimiser is built with a
lazy import), so reading a study file's ``[recipe]`` validates it here without torch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mgsearch.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = ["Fidelity", "Recipe", "lr_at", "make_optimizer", "param_groups", "SCHEDULES", "OPTIMIZERS"]

SCHEDULES = ("cosine", "onecycle", "constant")
#: upper bounds of a fidelity (the same as the study file's): beyond them a value is a typo
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 65_536
OPTIMIZERS = ("sgd", "adamw")


def _positive(owner: str, name: str, value: Any, *, kind: type = int, allow_zero: bool = False) -> None:
    ok_type = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type) or not math.isfinite(value):
        raise ConfigError(f"{owner}.{name}={value!r} must be {'an integer' if kind is int else 'a number'}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{owner}.{name}={value!r} must be {'>= 0' if allow_zero else '> 0'}")


@dataclass(frozen=True)
class Fidelity:
    """How much training one evaluation gets: epochs, share of the training split, batch size."""

    epochs: int
    train_fraction: float = 1.0
    batch_size: int = 128

    def __post_init__(self) -> None:
        _positive("fidelity", "epochs", self.epochs)
        if self.epochs > MAX_EPOCHS:
            raise ConfigError(f"fidelity.epochs={self.epochs} must be <= {MAX_EPOCHS}")
        _positive("fidelity", "train_fraction", self.train_fraction, kind=float)
        if self.train_fraction > 1.0:
            raise ConfigError(f"fidelity.train_fraction={self.train_fraction} must be in (0, 1]")
        _positive("fidelity", "batch_size", self.batch_size)
        if self.batch_size > MAX_BATCH_SIZE:
            raise ConfigError(f"fidelity.batch_size={self.batch_size} must be <= {MAX_BATCH_SIZE}")
        object.__setattr__(self, "train_fraction", float(self.train_fraction))

    def to_dict(self) -> dict[str, Any]:
        """``{"epochs", "train_fraction", "batch_size"}``."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Recipe:
    """The optimisation recipe; the defaults are a strong, fast choice for small CNNs at few epochs.

    ``lr`` is the peak learning rate at ``reference_batch``; the rate used scales linearly with the
    batch size (:meth:`peak_lr`). The schedule warms up linearly from 0 over ``warmup_epochs``
    (at most a quarter of the run), then decays to ``final_lr_fraction * peak`` along a cosine
    (``cosine``) or a straight line (``onecycle``), or stays (``constant``). Weight decay applies to
    conv and linear weights only, never to norm scales or biases. ``crop_padding`` ``None`` means
    ``input_size // 8`` (4 pixels for 32x32); ``flip`` ``None`` follows the dataset. A run whose
    mean training loss in an epoch exceeds ``divergence_loss`` (or becomes non-finite) has diverged:
    its weights have blown up and it could only report chance accuracy.
    """

    optimizer: str = "sgd"
    lr: float = 0.1
    reference_batch: int = 128
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    warmup_epochs: float = 1.0
    schedule: str = "cosine"
    final_lr_fraction: float = 0.0
    crop_padding: int | None = None
    pad_mode: str = "reflect"
    flip: bool | None = None
    grad_clip: float | None = None
    eval_batch_size: int = 1024
    divergence_loss: float = 1e6

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"recipe.optimizer={self.optimizer!r} must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"recipe.schedule={self.schedule!r} must be one of {', '.join(SCHEDULES)}")
        if self.pad_mode not in ("reflect", "zeros"):
            raise ConfigError(f"recipe.pad_mode={self.pad_mode!r} must be 'reflect' or 'zeros'")
        _positive("recipe", "lr", self.lr, kind=float)
        _positive("recipe", "reference_batch", self.reference_batch)
        _positive("recipe", "eval_batch_size", self.eval_batch_size)
        _positive("recipe", "divergence_loss", self.divergence_loss, kind=float)
        for name in ("momentum", "weight_decay", "warmup_epochs", "final_lr_fraction"):
            _positive("recipe", name, getattr(self, name), kind=float, allow_zero=True)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"recipe.label_smoothing={self.label_smoothing!r} must be in [0, 1)")
        if self.momentum >= 1.0:
            raise ConfigError(f"recipe.momentum={self.momentum!r} must be < 1")
        if self.final_lr_fraction > 1.0:
            raise ConfigError(f"recipe.final_lr_fraction={self.final_lr_fraction!r} must be in [0, 1]")
        if self.crop_padding is not None:
            _positive("recipe", "crop_padding", self.crop_padding, allow_zero=True)
        if self.grad_clip is not None:
            _positive("recipe", "grad_clip", self.grad_clip, kind=float)

    def peak_lr(self, batch_size: int) -> float:
        """The peak learning rate for ``batch_size`` (linear scaling from ``reference_batch``)."""
        return self.lr * batch_size / self.reference_batch

    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-ready."""
        return dataclasses.asdict(self)


def lr_at(step: int, total_steps: int, warmup_steps: int, recipe: Recipe) -> float:
    """The learning-rate multiplier (of the peak) before optimiser step ``step`` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if recipe.schedule == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    t = min(1.0, (step - warmup_steps + 1) / span)
    floor = recipe.final_lr_fraction
    if recipe.schedule == "cosine":
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
    return floor + (1.0 - floor) * (1.0 - t)  # onecycle: linear decay after the warm-up


def param_groups(model: "nn.Module", weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for p in model.parameters():  # shared tensors appear once
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def make_optimizer(model: "nn.Module", recipe: Recipe, peak_lr: float) -> "torch.optim.Optimizer":
    import torch

    groups = param_groups(model, recipe.weight_decay)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=peak_lr, momentum=recipe.momentum,
                               nesterov=recipe.nesterov and recipe.momentum > 0)
    return torch.optim.AdamW(groups, lr=peak_lr)
