"""Train and evaluate one network on an in-memory :class:`~mgsearch.data.Dataset` at a given fidelity.

::

    ds = mgsearch.load_dataset("fashion-mnist")
    spec = mgsearch.resolve_spec("resnet20", in_channels=1, num_classes=10, input_size=28)
    result = train(spec, ds, fidelity=Fidelity(epochs=5), seed=0)
    result.val_acc, result.history, result.to_dict()

The loop is deliberately bare: batches are gathered from uint8 tensors already on the training
device, augmented as whole batches (random crop with padding, horizontal flip where it suits the
data), normalised in one fused multiply-add, and fed to the model; on CUDA under bf16 autocast in
channels_last layout. Validation accuracy is measured after every epoch and handed to ``on_epoch``.

``seed`` fixes the initialisation, the training subset, the batch order and the augmentation; the
same seed on the same device (and thread count) gives the same metrics. The caller's global RNG state
is left as it was.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from mgsearch.data import Dataset, Normalizer, random_crop, random_flip, stratified_subset
from mgsearch.errors import ConfigError, MgsearchError, SpecError, TrainingDiverged
from mgsearch.spec import ArchSpec

if TYPE_CHECKING:  # pragma: no cover
    from tqdm import tqdm

__all__ = ["Fidelity", "Recipe", "TrainResult", "train", "evaluate", "resolve_device", "lr_at"]

EpochCallback = Callable[[int, float], None]
LossHook = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], "torch.Tensor | None"]

SCHEDULES = ("cosine", "onecycle", "constant")
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
        _positive("fidelity", "train_fraction", self.train_fraction, kind=float)
        if self.train_fraction > 1.0:
            raise ConfigError(f"fidelity.train_fraction={self.train_fraction} must be in (0, 1]")
        _positive("fidelity", "batch_size", self.batch_size)
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
    ``input_size // 8`` (4 pixels for 32x32); ``flip`` ``None`` follows the dataset.
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


def resolve_device(device: str | torch.device) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when available) as a torch device."""
    text = str(device).strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(text)
    except RuntimeError:
        raise ConfigError(f"device={device!r} is unknown; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={device!r} asked for CUDA but no CUDA device is available; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device={device!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif dev.type != "cpu":
        raise ConfigError(f"device={device!r} is not supported; use cpu, cuda, cuda:N or auto")
    return dev


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


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay, no_decay = [], []
    for p in model.parameters():  # shared tensors appear once
        if not p.requires_grad:
            continue
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _make_optimizer(model: nn.Module, recipe: Recipe, peak_lr: float) -> torch.optim.Optimizer:
    groups = _param_groups(model, recipe.weight_decay)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=peak_lr, momentum=recipe.momentum,
                               nesterov=recipe.nesterov and recipe.momentum > 0)
    return torch.optim.AdamW(groups, lr=peak_lr)


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


def _default_threads() -> int:
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


def _autocast(device: torch.device):
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
    fmt = torch.channels_last if dev.type == "cuda" else torch.contiguous_format
    normalize = Normalizer(dataset.mean, dataset.std, dev, memory_format=fmt)
    return _accuracy(model, getattr(dataset, f"{split}_x"), getattr(dataset, f"{split}_y"), normalize, dev, batch_size)


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, normalize: Normalizer,
              device: torch.device, batch_size: int) -> float:
    if x.shape[0] == 0:
        return float("nan")
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    with torch.inference_mode(), _autocast(device):
        for i in range(0, x.shape[0], batch_size):
            xb = normalize(x[i : i + batch_size].to(device, non_blocking=True))
            yb = y[i : i + batch_size].to(device, non_blocking=True)
            correct += (model(xb).argmax(1) == yb).sum()
    return int(correct) / x.shape[0]


def _progress_bar(enabled: bool, total: int, desc: str) -> "tqdm | None":
    if not enabled:
        return None
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
    evaluate_test: bool = False,
    loss_hook: LossHook | None = None,
    progress: bool | None = None,
    threads: int | None = None,
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
        evaluate_test: also measure accuracy on the test split at the end (never during training).
        loss_hook: ``loss_hook(model, inputs, logits, targets)`` returns an extra loss term or None.
        progress: a per-epoch progress bar on stderr; ``None``: only when stderr is a terminal.
        threads: CPU threads for torch during this call (default ``$MGSEARCH_THREADS`` or the CPUs
            this process may use); the previous setting is restored afterwards.

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
    prev_threads = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(threads or _default_threads())
    fork_devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    show = sys.stderr.isatty() if progress is None else bool(progress)
    try:
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            return _train(spec_or_model, dataset, fidelity, recipe, seed, dev, on_epoch, evaluate_test,
                          loss_hook, show)
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
           show: bool) -> TrainResult:
    model, spec = _prepare_model(spec_or_model, dataset)
    cuda = dev.type == "cuda"
    fmt = torch.channels_last if cuda else torch.contiguous_format
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
    optimizer = _make_optimizer(model, recipe, peak)
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
        bar = _progress_bar(show, steps, f"epoch {epoch}/{fidelity.epochs}")
        t0 = time.perf_counter()
        try:
            for i in range(steps):
                idx = perm[i * bs : (i + 1) * bs]
                xb = augment(train_x[idx])
                yb = train_y[idx]
                with _autocast(dev):
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
                    if not bool(torch.isfinite(loss_sum)):
                        raise TrainingDiverged(
                            f"training loss became non-finite in epoch {epoch} (step {i + 1} of {steps}) with "
                            f"peak lr {peak:g}; lower the learning rate", epoch=epoch,
                        )
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
            val_acc = _accuracy(model, dataset.val_x, dataset.val_y, normalize_eval, dev, recipe.eval_batch_size)
            record = {
                "epoch": epoch,
                "loss": float(loss_sum) / seen,
                "train_acc": int(correct) / seen,
                "val_acc": val_acc,
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": time.perf_counter() - t0,
                "images_per_second": seen / max(epoch_train, 1e-9),
            }
            history.append(record)
            if bar is not None:
                bar.set_postfix(loss=f"{record['loss']:.3f}", acc=f"{record['train_acc']:.3f}",
                                img_s=f"{record['images_per_second']:.0f}", val=f"{val_acc:.4f}")
        finally:
            if bar is not None:
                bar.close()
        if on_epoch is not None:
            on_epoch(epoch, val_acc)
    train_seconds = time.perf_counter() - wall_start
    test_acc = None
    if evaluate_test:
        test_acc = _accuracy(model, dataset.test_x, dataset.test_y, normalize_eval, dev, recipe.eval_batch_size)
    return TrainResult(
        val_acc=val_acc, test_acc=test_acc, epochs=len(history), history=history,
        train_seconds=train_seconds, images_per_second=images / max(train_time, 1e-9),
        fidelity=fidelity, recipe=recipe, seed=seed, device=str(dev), params=params, macs=macs,
        dataset=dataset.fingerprint, model=model,
    )
