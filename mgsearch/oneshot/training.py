"""Training a slimmable supernet with the sandwich rule and in-place distillation (Yu & Huang, US-Nets).

Each optimiser step runs, on the same batch, the largest configuration (cross-entropy on the labels,
with the recipe's label smoothing), the smallest and ``random_configs`` random configurations of
the structure (cross-entropy against the largest one's detached softmax: in-place distillation),
accumulates the gradients of all of them and takes one step; as in the authors' ``train.py``
(``universally_slimmable_training`` with ``inplace_distill``). The recipe (optimiser, learning-rate
schedule, weight decay, crop and flip) is the study's, stepped per batch as :func:`mgsearch.train.train`
does. Every epoch ends with ``on_epoch(epoch, state)`` (the checkpoint); a run resumes from any
epoch with the same result, because every epoch's batch order, augmentation and configurations come
from generators seeded with ``(seed, epoch)``.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

from mgsearch.data import Dataset, Normalizer
from mgsearch.data.augment import random_crop, random_flip
from mgsearch.data.splits import stratified_subset
from mgsearch.errors import TrainingDiverged
from mgsearch.oneshot.slicing import Supernet
from mgsearch.oneshot.structure import Structure
from mgsearch.training.recipe import Recipe, lr_at, make_optimizer

__all__ = ["SandwichProtocol", "sandwich_step", "train_supernet"]


@dataclass(frozen=True)
class SandwichProtocol:
    """How a supernet is trained: epochs, share of the training split, batch size, the recipe, the
    seed, how many random configurations join the largest and the smallest per step, and whether
    they learn from the largest one's predictions (in-place distillation) or from the labels."""

    epochs: int
    train_fraction: float
    batch_size: int
    recipe: Recipe
    seed: int = 0
    random_configs: int = 2
    distill: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "train_fraction": self.train_fraction, "batch_size": self.batch_size,
                "recipe": self.recipe.to_dict(), "seed": self.seed, "random_configs": self.random_configs,
                "distill": self.distill}


def sandwich_step(supernet: Supernet, structure: Structure, xb: torch.Tensor, yb: torch.Tensor, *,
                  rng: random.Random, random_configs: int = 2, distill: bool = True,
                  label_smoothing: float = 0.0) -> tuple[float, torch.Tensor]:
    """Accumulate the gradients of one sandwich step on a batch (the caller zeroes and steps the
    optimiser); returns the largest configuration's loss and its logits."""
    largest = structure.largest
    configs = [structure.smallest] + [structure.random(rng) for _ in range(random_configs)]
    supernet.model(largest).train()
    logits = supernet.forward_config(largest, xb)
    loss = F.cross_entropy(logits, yb, label_smoothing=label_smoothing)
    loss.backward()
    soft = F.softmax(logits.detach(), dim=1)
    for spec in configs:
        supernet.model(spec).train()
        out = supernet.forward_config(spec, xb)
        if distill:
            sub_loss = -(soft * F.log_softmax(out, dim=1)).sum(1).mean()
        else:
            sub_loss = F.cross_entropy(out, yb, label_smoothing=label_smoothing)
        sub_loss.backward()
    return float(loss.detach()), logits.detach()


def train_supernet(
    supernet: Supernet,
    structure: Structure,
    dataset: Dataset,
    protocol: SandwichProtocol,
    *,
    device: torch.device,
    start_epoch: int = 0,
    optimizer_state: dict[str, Any] | None = None,
    on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> None:
    """Train ``supernet`` from ``start_epoch`` to ``protocol.epochs`` (see the module docstring).

    ``optimizer_state`` resumes the optimiser (from :meth:`torch.optim.Optimizer.state_dict`);
    ``on_epoch(epoch, optimizer_state)`` after each epoch; ``progress(line)`` gets one line per epoch.
    Raises :class:`~mgsearch.errors.TrainingDiverged` when the loss stops being finite.
    """
    recipe = protocol.recipe
    supernet.to(device)
    n_all = dataset.train_x.shape[0]
    if protocol.train_fraction < 1.0:
        subset = stratified_subset(dataset.train_y, max(1, round(n_all * protocol.train_fraction)),
                                   torch.Generator().manual_seed(protocol.seed))
        train_x, train_y = dataset.train_x[subset], dataset.train_y[subset]
    else:
        train_x, train_y = dataset.train_x, dataset.train_y
    train_x, train_y = train_x.to(device), train_y.to(device)
    n = train_x.shape[0]
    bs = min(protocol.batch_size, n)
    steps = n // bs + (1 if n % bs >= 2 else 0)
    total = steps * protocol.epochs
    warmup = min(round(recipe.warmup_epochs * steps), total // 4)
    peak = recipe.peak_lr(bs)
    optimizer = make_optimizer(supernet, recipe, peak)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    normalize = Normalizer(dataset.mean, dataset.std, device)
    padding = dataset.input_size // 8 if recipe.crop_padding is None else recipe.crop_padding
    if recipe.pad_mode == "reflect":
        padding = min(padding, dataset.input_size - 1)
    flip = dataset.flip if recipe.flip is None else recipe.flip
    for epoch in range(start_epoch + 1, protocol.epochs + 1):
        t0 = time.perf_counter()
        order = torch.Generator().manual_seed(protocol.seed * 100_003 + epoch)
        aug = torch.Generator(device=device).manual_seed(protocol.seed * 100_019 + epoch)
        rng = random.Random(f"{protocol.seed}-{epoch}")
        perm = torch.randperm(n, generator=order).to(device)
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(steps):
            step = (epoch - 1) * steps + i
            for group in optimizer.param_groups:
                group["lr"] = peak * lr_at(step, total, warmup, recipe)
            idx = perm[i * bs:(i + 1) * bs]
            xb = train_x[idx]
            if padding:
                xb = random_crop(xb, padding, aug, mode=recipe.pad_mode)
            if flip:
                xb = random_flip(xb, aug)
            xb, yb = normalize(xb), train_y[idx]
            optimizer.zero_grad(set_to_none=True)
            loss, logits = sandwich_step(supernet, structure, xb, yb, rng=rng, random_configs=protocol.random_configs,
                                         distill=protocol.distill, label_smoothing=recipe.label_smoothing)
            if not math.isfinite(loss) or loss > recipe.divergence_loss:
                raise TrainingDiverged(f"supernet training loss became {loss:.3g} in epoch {epoch} (step {i + 1} "
                                       f"of {steps}) with peak lr {peak:g}; lower the learning rate", epoch=epoch)
            if recipe.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(supernet.parameters(), recipe.grad_clip)
            optimizer.step()
            loss_sum += loss * yb.shape[0]
            correct += int((logits.argmax(1) == yb).sum())
            seen += yb.shape[0]
        if progress is not None:
            progress(f"supernet epoch {epoch}/{protocol.epochs}: largest loss {loss_sum / seen:.3f}, "
                     f"train acc {correct / seen:.3f}, {time.perf_counter() - t0:.1f} s")
        if on_epoch is not None:
            on_epoch(epoch, optimizer.state_dict())


def stderr_progress(line: str) -> None:
    """One plain line on stderr (no carriage returns or escapes: fine in logs)."""
    print(line, file=sys.stderr, flush=True)
