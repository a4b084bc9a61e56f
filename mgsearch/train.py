"""Train and evaluate one network on an in-memory :class:`~mgsearch.data.Dataset` at a given fidelity.

::

    ds = mgsearch.load_dataset("fashion-mnist")
    spec = mgsearch.resolve_spec("resnet20", in_channels=1, num_classes=10, input_size=28)
    result = train(spec, ds, fidelity=Fidelity(epochs=5), seed=0)
    result.val_acc, result.history, result.to_dict()

The loop is deliberately bare: batches are gathered from uint8 tensors already on the training
device, augmented as whole batches (random crop with padding, horizontal flip where it suits the
data), normalised in one fused multiply-add, and fed to the model in channels_last layout (faster
with oneDNN on CPU too), on CUDA under bf16 autocast. Recipe and fidelity live in
:mod:`mgsearch.training.recipe`, devices and evaluation in :mod:`mgsearch.training.runtime`. Validation accuracy is measured after every epoch and handed to ``on_epoch``.

``seed`` fixes the initialisation, the training subset, the batch order and the augmentation; the
same seed on the same device (and thread count) gives the same metrics. The caller's global RNG state
is left as it was.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from mgsearch.data import Dataset, Normalizer, random_crop, random_flip, stratified_subset
from mgsearch.errors import ConfigError, MgsearchError, SpecError, TrainingDiverged, clip
from mgsearch.spec import ArchSpec
from mgsearch.training.recipe import Fidelity, Recipe, _positive, lr_at, make_optimizer
from mgsearch.training.runtime import (
    accuracy,
    autocast,
    default_threads,
    deterministic_kernels,
    evaluate,
    resolve_device,
)

if TYPE_CHECKING:  # pragma: no cover
    from tqdm import tqdm

__all__ = ["Fidelity", "Recipe", "TrainResult", "train", "check_training_memory", "evaluate", "resolve_device", "lr_at"]

#: the most CPU threads a training run may ask for
MAX_THREADS = 1024
EpochCallback = Callable[[int, float], None]
BatchCallback = Callable[[int, int, int], None]
LossHook = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], "torch.Tensor | None"]


@dataclass(frozen=True)
class TrainResult:
    """What one training run measured. ``model`` (the trained module) is not serialised."""

    val_acc: float
    test_acc: float | None
    epochs: int
    history: list[dict[str, float]]
    train_seconds: float
    images_per_second: float
    fidelity: Fidelity
    recipe: Recipe
    seed: int
    device: str
    params: int
    macs: int | None
    dataset: str = ""
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field except ``model``."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"}
        out["fidelity"] = self.fidelity.to_dict()
        out["recipe"] = self.recipe.to_dict()
        out["history"] = [dict(h) for h in self.history]
        return out


#: float32 copies of the weights while training: weights, gradients and the optimiser's momentum
TRAINING_COPIES = 3
#: float32 values kept per activation while training: the output saved for backward and its gradient
#: (a low estimate: BatchNorm and ReLU outputs are not counted, so only absurd sizes are refused)
ACTIVATION_COPIES = 2


def check_training_memory(spec: ArchSpec, *, batch_size: int, what: str) -> None:
    """Refuse, before anything is built, a spec that cannot be trained in memory at ``batch_size``.

    From the analytic cost (:func:`mgsearch.cost`): the weights x :data:`TRAINING_COPIES` must fit
    (:func:`mgsearch.memory.check_weights_fit`), and so must they plus the activations of one batch
    (``cost.activations`` x ``batch_size`` x :data:`ACTIVATION_COPIES` float32 values). The limit is
    :func:`mgsearch.memory.memory_limit` (``$MGSEARCH_MEMORY_LIMIT``, else 80 % of the available memory).
    ``what`` names the spec in the one-line :class:`~mgsearch.memory.MemoryLimitError`.
    """
    from mgsearch.cost import cost
    from mgsearch.memory import BYTES_PER_PARAM, ENV_VAR, MemoryLimitError, check_weights_fit, memory_limit

    c = cost(spec)
    check_weights_fit(c.params, what=what, copies=TRAINING_COPIES)
    weights = c.params * BYTES_PER_PARAM * TRAINING_COPIES
    activations = c.activations * batch_size * BYTES_PER_PARAM * ACTIVATION_COPIES
    limit, source = memory_limit()
    if weights + activations > limit:
        raise MemoryLimitError(
            f"{clip(what)}: training needs ~{_gb(weights + activations)} ({c.activations:,} activations per image "
            f"x batch size {batch_size}, plus {_gb(weights)} of weights), more than {_gb(limit)} ({source}); "
            f"lower the batch size or set {ENV_VAR}"
        )


def _gb(n: float) -> str:
    return f"{n / 1e9:,.0f} GB" if n >= 1e10 else f"{n / 1e9:.3g} GB"


def _count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _prepare_model(spec_or_model: ArchSpec | nn.Module, dataset: Dataset) -> tuple[nn.Module, ArchSpec | None]:
    if isinstance(spec_or_model, ArchSpec):
        spec = spec_or_model
        mismatched = [
            f"{k}={getattr(spec, k)} (dataset has {getattr(dataset, k)})"
            for k in ("in_channels", "num_classes", "input_size")
            if getattr(spec, k) != getattr(dataset, k)
        ]
        if mismatched:
            raise SpecError(
                f"spec does not fit dataset {dataset.name}: {', '.join(mismatched)}; adapt it with "
                "resolve_spec(..., in_channels=, num_classes=, input_size=)"
            )
        from mgsearch.families import build

        return build(spec), spec
    if isinstance(spec_or_model, nn.Module):
        spec = getattr(spec_or_model, "spec", None)
        return spec_or_model, spec if isinstance(spec, ArchSpec) else None
    raise TypeError(f"train() needs an ArchSpec or an nn.Module, not {type(spec_or_model).__name__}")


class _Augment:
    """Crop + flip + normalise a uint8 batch on its device, with a seeded generator."""

    def __init__(self, dataset: Dataset, recipe: Recipe, device: torch.device, seed: int, memory_format) -> None:
        self.padding = dataset.input_size // 8 if recipe.crop_padding is None else recipe.crop_padding
        if recipe.pad_mode == "reflect":
            self.padding = min(self.padding, dataset.input_size - 1)
        self.mode = recipe.pad_mode
        self.flip = dataset.flip if recipe.flip is None else recipe.flip
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.normalize = Normalizer(dataset.mean, dataset.std, device, memory_format=memory_format)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding:
            x = random_crop(x, self.padding, self.generator, mode=self.mode)
        if self.flip:
            x = random_flip(x, self.generator)
        return self.normalize(x)


def _progress_bar(enabled: bool, total: int, desc: str) -> "tqdm | None":
    if not enabled:
        return None
    # only ever on a terminal: no carriage returns or escape sequences in logs and pipes
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="batch", file=sys.stderr, leave=True, dynamic_ncols=True,
                mininterval=0.5)


def train(
    spec_or_model: ArchSpec | nn.Module,
    dataset: Dataset,
    *,
    fidelity: Fidelity,
    recipe: Recipe = Recipe(),
    seed: int = 0,
    device: str | torch.device = "cpu",
    on_epoch: EpochCallback | None = None,
    on_batch: BatchCallback | None = None,
    evaluate_test: bool = False,
    loss_hook: LossHook | None = None,
    progress: bool | None = None,
    threads: int | None = None,
    channels_last: bool = True,
) -> TrainResult:
    """Train ``spec_or_model`` on ``dataset`` and measure validation (and optionally test) accuracy.

    Args:
        spec_or_model: an :class:`ArchSpec` (built fresh with ``seed``; its ``in_channels``,
            ``num_classes`` and ``input_size`` must match the dataset) or an ``nn.Module``, which is
            trained in place (moved to ``device``).
        fidelity: epochs, share of the training split (a seeded stratified subset) and batch size.
        recipe: optimiser, schedule, regularisation and augmentation settings.
        seed: fixes initialisation, training subset, batch order and augmentation.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.
        on_epoch: ``on_epoch(epoch, val_acc)`` after each epoch (``epoch`` counts from 1); whatever it
            raises (e.g. ``optuna.TrialPruned``) propagates untouched.
        on_batch: ``on_batch(epoch, batch, batches)`` after each optimiser step (``batch`` counts from 1),
            e.g. for a batch-level progress display; it must be cheap (no GPU sync is done for it).
        evaluate_test: also measure accuracy on the test split at the end (never during training).
        loss_hook: ``loss_hook(model, inputs, logits, targets)`` returns an extra loss term or None.
        progress: progress on stderr: a bar per epoch on a terminal, else one plain line per epoch
            (no carriage returns or escape sequences); ``None``: the bar on a terminal, nothing otherwise;
            ``False``: nothing. Validation accuracy is left out when the validation split is empty.
        threads: CPU threads for torch during this call (default ``$MGSEARCH_THREADS`` or the CPUs
            this process may use); the previous setting is restored afterwards.
        channels_last: run the model and its inputs in channels_last memory layout.

    Returns:
        a :class:`TrainResult`; ``result.model`` is the trained module (left in eval mode).

    Raises:
        TrainingDiverged: the loss became non-finite (``.epoch`` says in which epoch).
        MgsearchError: CUDA ran out of memory; SpecError / ConfigError for bad arguments.
    """
    if not isinstance(fidelity, Fidelity):
        raise TypeError(f"fidelity must be a Fidelity, not {type(fidelity).__name__}")
    dev = resolve_device(device)
    if threads is not None:
        _positive("train", "threads", threads)
        if threads > MAX_THREADS:
            raise ConfigError(f"train.threads={threads} must be <= {MAX_THREADS}")
    if isinstance(spec_or_model, ArchSpec):  # before the model is built
        n = max(1, round(dataset.train_x.shape[0] * fidelity.train_fraction))
        check_training_memory(spec_or_model, batch_size=min(fidelity.batch_size, n),
                              what=f"spec {spec_or_model.short_hash}")
    prev_threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(threads or default_threads())
    fork_devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    tty = sys.stderr.isatty()
    show = ("bar" if tty else "lines") if progress or (progress is None and tty) else None
    try:
        with torch.random.fork_rng(devices=fork_devices), deterministic_kernels(dev):
            torch.manual_seed(seed)
            return _train(spec_or_model, dataset, fidelity, recipe, seed, dev, on_epoch, evaluate_test,
                          loss_hook, show, channels_last, on_batch)
    except torch.OutOfMemoryError:
        if dev.type == "cuda":
            torch.cuda.empty_cache()
        raise MgsearchError(
            f"out of memory on {dev} training with batch size {fidelity.batch_size}; lower the batch size "
            "(--batch-size) or the model's widths"
        ) from None
    finally:
        torch.set_num_threads(prev_threads)


def _train(spec_or_model, dataset: Dataset, fidelity: Fidelity, recipe: Recipe, seed: int, dev: torch.device,
           on_epoch: EpochCallback | None, evaluate_test: bool, loss_hook: LossHook | None,
           show: str | None, channels_last: bool, on_batch: BatchCallback | None = None) -> TrainResult:
    model, spec = _prepare_model(spec_or_model, dataset)
    cuda = dev.type == "cuda"
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device=dev, memory_format=fmt)

    # the training subset and the batch order come from a CPU generator; augmentation draws on the device
    order_gen = torch.Generator().manual_seed(seed)
    n_all = dataset.train_x.shape[0]
    if fidelity.train_fraction < 1.0:
        subset = stratified_subset(dataset.train_y, max(1, round(n_all * fidelity.train_fraction)), order_gen)
        train_x, train_y = dataset.train_x[subset], dataset.train_y[subset]
    else:
        train_x, train_y = dataset.train_x, dataset.train_y
    train_x = train_x.to(dev, non_blocking=True)
    train_y = train_y.to(dev, non_blocking=True)
    n = train_x.shape[0]
    bs = min(fidelity.batch_size, n)
    steps = n // bs + (1 if n % bs >= 2 else 0)  # a final batch of one would break BatchNorm
    augment = _Augment(dataset, recipe, dev, seed + 1, fmt)
    normalize_eval = augment.normalize

    peak = recipe.peak_lr(bs)
    optimizer = make_optimizer(model, recipe, peak)
    total_steps = steps * fidelity.epochs
    warmup_steps = min(round(recipe.warmup_epochs * steps), total_steps // 4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_at(s, total_steps, warmup_steps, recipe)
    )
    check_every = 1 if dev.type == "cpu" else 25  # finiteness checks sync the GPU: batch them there
    smoothing = recipe.label_smoothing
    params = _count_params(model)
    macs = None
    if spec is not None:
        from mgsearch.cost import cost

        c = cost(spec)
        params, macs = c.params, c.macs

    history: list[dict[str, float]] = []
    train_time = 0.0
    images = 0
    val_acc = float("nan")
    wall_start = time.perf_counter()
    for epoch in range(1, fidelity.epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=order_gen).to(dev, non_blocking=True)
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), dtype=torch.long, device=dev)
        seen = 0
        bar = _progress_bar(show == "bar", steps, f"epoch {epoch}/{fidelity.epochs}")
        t0 = time.perf_counter()
        try:
            for i in range(steps):
                idx = perm[i * bs : (i + 1) * bs]
                xb = augment(train_x[idx])
                yb = train_y[idx]
                with autocast(dev):
                    logits = model(xb)
                    loss = F.cross_entropy(logits, yb, label_smoothing=smoothing)
                    if loss_hook is not None:
                        extra = loss_hook(model, xb, logits, yb)
                        if extra is not None:
                            loss = loss + extra
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if recipe.grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
                optimizer.step()
                scheduler.step()
                b = yb.shape[0]
                seen += b
                loss_sum += loss.detach().float() * b
                correct += (logits.detach().argmax(1) == yb).sum()
                if (i + 1) % check_every == 0 or i + 1 == steps:
                    mean_loss = float(loss_sum) / seen
                    if not math.isfinite(mean_loss) or mean_loss > recipe.divergence_loss:
                        raise TrainingDiverged(
                            f"training loss became {mean_loss:.3g} in epoch {epoch} (step {i + 1} of {steps}) with "
                            f"peak lr {peak:g}; lower the learning rate", epoch=epoch,
                        )
                if on_batch is not None:
                    on_batch(epoch, i + 1, steps)
                if bar is not None:
                    bar.update(1)
                    if (i + 1) % 10 == 0 or i + 1 == steps:
                        elapsed = max(time.perf_counter() - t0, 1e-9)
                        bar.set_postfix(loss=f"{float(loss_sum) / seen:.3f}", acc=f"{int(correct) / seen:.3f}",
                                        img_s=f"{seen / elapsed:.0f}", refresh=False)
            if cuda:
                torch.cuda.synchronize(dev)
            epoch_train = time.perf_counter() - t0
            train_time += epoch_train
            images += seen
            val_acc = accuracy(model, dataset.val_x, dataset.val_y, normalize_eval, dev, recipe.eval_batch_size)
            record = {
                "epoch": epoch,
                "images": seen,
                "loss": float(loss_sum) / seen,
                "train_acc": int(correct) / seen,
                "val_acc": val_acc,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - t0,
                "images_per_second": seen / max(epoch_train, 1e-9),
            }
            history.append(record)
            val_text = {"val": f"{val_acc:.4f}"} if math.isfinite(val_acc) else {}  # no val split: retraining
            if bar is not None:
                bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['train_acc']:.3f}",
                                img_s=f"{record['images_per_second']:.0f}", **val_text)
            elif show == "lines":
                val_part = f", val acc {val_acc:.4f}" if val_text else ""
                print(f"epoch {epoch}/{fidelity.epochs}: loss {record['loss']:.3f}, train acc {record['train_acc']:.3f}"
                      f"{val_part}, {record['images_per_second']:,.0f} img/s, {record['seconds']:.1f} s",
                      file=sys.stderr, flush=True)
        finally:
            if bar is not None:
                bar.close()
        if on_epoch is not None:
            on_epoch(epoch, val_acc)
    train_seconds = time.perf_counter() - wall_start
    test_acc = None
    if evaluate_test:
        test_acc = accuracy(model, dataset.test_x, dataset.test_y, normalize_eval, dev, recipe.eval_batch_size)
    return TrainResult(
        val_acc=val_acc, test_acc=test_acc, epochs=len(history), history=history,
        train_seconds=train_seconds, images_per_second=images / max(train_time, 1e-9),
        fidelity=fidelity, recipe=recipe, seed=seed, device=str(dev), params=params, macs=macs,
        dataset=dataset.fingerprint, model=model,
    )


class _CallableModule(types.ModuleType):
    """``mgsearch.train`` names both this module and its :func:`train` function (as for
    ``mgsearch.export``): making the module callable keeps ``mgsearch.train(spec, ds, ...)`` the
    function call users expect, while ``mgsearch.train.Fidelity`` / ``from mgsearch.train import ...``
    keep working."""

    def __call__(self, *args: Any, **kwargs: Any) -> TrainResult:
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
