"""The LW-DNA pipeline: widen, score channels, shrink to the budget, train from scratch.

:func:`shrink` runs it end to end and returns a :class:`ShrinkResult` with the three specs (base,
widened, shrunk), their costs, the pipeline's extra cost (channel scoring and, with distillation,
the teacher) in seconds and in training-epoch units, and, when ``epochs > 0``, the from-scratch
accuracies of the shrunk network (and of the uniform base with ``baseline=True``) under exactly the
same protocol.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from mgsearch.errors import ConfigError
from mgsearch.spec import ArchSpec, width_slots

__all__ = ["ShrinkResult", "shrink", "kd_loss_hook", "KD_WEIGHT", "KD_TEMPERATURE"]

#: knowledge-distillation weight and temperature of LW-DNA's CIFAR runs
KD_WEIGHT = 0.4
KD_TEMPERATURE = 4.0


def kd_loss_hook(teacher: Any, *, weight: float = KD_WEIGHT, temperature: float = KD_TEMPERATURE) -> Callable:
    """A ``loss_hook`` adding ``weight * T^2 * KL(teacher_T || student_T)`` to the training loss.

    The teacher runs in eval mode without gradients on the same (augmented) inputs as the student.
    """
    import torch
    import torch.nn.functional as F

    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    t = float(temperature)

    def hook(model: Any, inputs: Any, logits: Any, targets: Any) -> Any:
        with torch.no_grad():
            t_logits = teacher(inputs).float()
        kl = F.kl_div(F.log_softmax(logits.float() / t, 1), F.log_softmax(t_logits / t, 1),
                      reduction="batchmean", log_target=True)
        return weight * t * t * kl

    return hook


@dataclass
class ShrinkResult:
    """Everything one LW-DNA run produced (``to_dict`` is JSON-ready)."""

    base: ArchSpec
    widened: ArchSpec
    shrunk: ArchSpec
    costs: dict[str, dict[str, int]]
    budget: dict[str, int | None]
    widen: float
    importance: str
    keep_ratio: float
    min_width: int
    threshold: float
    importance_seconds: float
    normalise: str = "mean"
    distill: bool = False
    teacher: dict[str, Any] | None = None
    trained: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    epoch_seconds: float | None = None
    fidelity: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    slimmable: dict[str, Any] | None = None

    def slot_table(self) -> list[tuple[str, int, int, int]]:
        """Per width slot: ``(name, base, widened, shrunk)``."""
        return [
            (a.name, a.value, b.value, c.value)
            for a, b, c in zip(width_slots(self.base), width_slots(self.widened), width_slots(self.shrunk))
        ]

    @property
    def extra_seconds(self) -> float:
        """Wall seconds LW-DNA spends beyond training the final network: scoring (+ teacher)."""
        return self.importance_seconds + (self.teacher["train_seconds"] if self.teacher else 0.0)

    @property
    def extra_cost_epochs(self) -> float | None:
        """:attr:`extra_seconds` in units of one training epoch of the shrunk network (None untrained)."""
        if not self.epoch_seconds:
            return None
        return self.extra_seconds / self.epoch_seconds

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (specs as dicts)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("base", "widened", "shrunk")}
        out.update(
            base=self.base.to_dict(),
            widened=self.widened.to_dict(),
            shrunk=self.shrunk.to_dict(),
            slots=[dict(name=n, base=a, widened=b, shrunk=c) for n, a, b, c in self.slot_table()],
            extra_seconds=self.extra_seconds,
            extra_cost_epochs=self.extra_cost_epochs,
        )
        if out["threshold"] == float("inf"):
            out["threshold"] = None
        return out


def _train_summary(result: Any, seconds: float) -> dict[str, Any]:
    out = {
        "val_acc": getattr(result, "val_acc", None),
        "test_acc": getattr(result, "test_acc", None),
        "train_seconds": getattr(result, "train_seconds", None) or seconds,
        "wall_seconds": seconds,
    }
    history = getattr(result, "history", None)
    if history:
        out["val_history"] = [record.get("val_acc") for record in history]
    return out


def shrink(
    base_spec: ArchSpec,
    dataset: Any,
    *,
    widen: float = 2.0,
    importance: str = "grad-init",
    max_params: float | None = None,
    max_macs: float | None = None,
    ratio: float | None = None,
    keep_ratio: float | str = "auto",
    min_width: int = 4,
    normalise: str = "mean",
    importance_batches: int = 4,
    importance_batch_size: int = 64,
    slimmable_epochs: int | None = None,
    group_fraction: float = 0.1,
    calibration_images: int = 512,
    val_images: int | None = 2000,
    log: Any = "stderr",
    bn_l1_epochs: int = 1,
    bn_l1_strength: float = 1e-4,
    epochs: int = 0,
    train_fraction: float = 1.0,
    batch_size: int = 128,
    recipe: Any = None,
    seed: int = 0,
    device: str = "cpu",
    distill: bool = False,
    baseline: bool = False,
    progress: Any = None,
) -> ShrinkResult:
    """Widen ``base_spec`` by ``widen``, score its channels, shrink it to the budget, train it.

    The budget is ``max_params`` and/or ``max_macs``, or ``ratio`` x the **base** network's params
    and MACs (both; combined with explicit limits by the smaller). ``importance`` is ``grad-init``
    (``importance_batches`` mini-batches at initialisation) or ``bn-l1`` (``bn_l1_epochs`` of
    training the widened network with ``bn_l1_strength`` x L1 on BatchNorm scales). ``keep_ratio``
    (every slot keeps at least this share of its widened width) defaults to ``"auto"``: the paper's 0.4
    where the budget leaves room, else the largest that does (:func:`~mgsearch.shrink.fit.auto_keep_ratio`);
    ``result.keep_ratio`` is the value used.

    ``epochs > 0`` trains the shrunk spec from scratch with ``mgsearch.train.train`` at
    ``epochs``/``train_fraction``/``batch_size``/``recipe``/``seed`` and evaluates on the test split;
    ``baseline=True`` trains ``base_spec`` with exactly the same protocol. ``distill=True`` first trains
    the widened network with the same protocol as a teacher and adds knowledge distillation
    (weight 0.4, T=4) to the shrunk network's training, and to the baseline's when there is one.

    ``importance="slimmable"`` (accuracy-guided LW-DNA, :mod:`mgsearch.shrink.slimmable`) trains the
    widened network as a slimmable network for ``slimmable_epochs`` (default: ``epochs``, or 1 when
    ``epochs`` is 0; never more than ``epochs`` when training: the paper's no-extra-cost rule), then
    narrows it greedily, ``group_fraction`` of a slot's width per step, by the accuracy measured on
    the first ``val_images`` validation images after BatchNorm recalibration on ``calibration_images``
    training images. ``log`` gets its progress lines (``"stderr"``: printed there; None: silent).
    """
    from mgsearch.cost import cost
    from mgsearch.shrink.methods import SHRINK_METHODS, SLIMMABLE
    from mgsearch.shrink.widen import widen as widen_spec
    from mgsearch.train import check_training_memory

    if importance not in SHRINK_METHODS:
        raise ConfigError(f"importance={importance!r} is unknown; allowed: {', '.join(SHRINK_METHODS)}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ConfigError(f"epochs={epochs!r} must be an integer >= 0")
    if (distill or baseline) and epochs == 0:
        raise ConfigError("distill/baseline need training: give epochs >= 1")
    if importance == SLIMMABLE:
        if slimmable_epochs is None:
            slimmable_epochs = max(epochs, 1)
        if isinstance(slimmable_epochs, bool) or not isinstance(slimmable_epochs, int) or slimmable_epochs < 1:
            raise ConfigError(f"slimmable_epochs={slimmable_epochs!r} must be an integer >= 1")
        if epochs and slimmable_epochs > epochs:
            raise ConfigError(f"slimmable_epochs={slimmable_epochs} is more than the network's own training "
                              f"(epochs={epochs}); LW-DNA's rule: finding the widths costs no more training than that")
    widened = widen_spec(base_spec, widen)
    # the widened network is built and trained (scored) next: refuse one that cannot fit in memory
    check_training_memory(widened, batch_size=importance_batch_size if importance == "grad-init" else batch_size,
                          what=f"the network widened x{float(widen):g}")
    slim = None
    if importance == SLIMMABLE:
        from mgsearch.oneshot.training import stderr_progress
        from mgsearch.shrink.slimmable import slimmable_shrink

        slim = slimmable_shrink(
            widened, dataset, max_params=max_params, max_macs=max_macs, ratio=ratio, reference=base_spec,
            keep_ratio=keep_ratio, min_width=min_width, epochs=slimmable_epochs, train_fraction=train_fraction,
            batch_size=batch_size, recipe=recipe, seed=seed, device=device, group_fraction=group_fraction,
            calibration_images=calibration_images, val_images=val_images,
            progress=stderr_progress if log == "stderr" else log)
        fit, importance_seconds = slim.fit, slim.seconds
    else:
        fit, importance_seconds = _score_and_fit(
            widened, base_spec, dataset, importance=importance, importance_batches=importance_batches,
            importance_batch_size=importance_batch_size, batch_size=batch_size, seed=seed, device=device,
            bn_l1_epochs=bn_l1_epochs, bn_l1_strength=bn_l1_strength, train_fraction=train_fraction,
            recipe=recipe, progress=progress, max_params=max_params, max_macs=max_macs, ratio=ratio,
            keep_ratio=keep_ratio, min_width=min_width, normalise=normalise)
    costs = {}
    for name, spec in (("base", base_spec), ("widened", widened), ("shrunk", fit.spec)):
        c = cost(spec)
        costs[name] = {"params": int(c.params), "macs": int(c.macs)}
    result = ShrinkResult(
        base=base_spec,
        widened=widened,
        shrunk=fit.spec,
        costs=costs,
        budget={"max_params": fit.max_params, "max_macs": fit.max_macs},
        widen=float(widen),
        importance=importance,
        keep_ratio=fit.keep_ratio,
        min_width=int(min_width),
        threshold=float(fit.threshold),
        normalise=normalise,
        importance_seconds=importance_seconds,
        distill=bool(distill),
        seed=seed,
    )
    if slim is not None:
        result.slimmable = {
            "epochs": slimmable_epochs, "train_seconds": slim.train_seconds, "greedy_seconds": slim.greedy_seconds,
            "configurations_scored": slim.scored, "group_fraction": group_fraction,
            "calibration_images": calibration_images, "val_images": val_images,
            "steps": [dict(slot=s.slot, before=s.before, after=s.after, val_acc=s.accuracy, loss=s.loss,
                           saved=s.saved, metric=s.metric) for s in slim.steps],
        }
    if epochs == 0:
        return result
    return _train_result(result, base_spec, widened, fit.spec, dataset, epochs=epochs, train_fraction=train_fraction,
                         batch_size=batch_size, recipe=recipe, seed=seed, device=device, distill=distill,
                         baseline=baseline, progress=progress)


def _score_and_fit(widened: ArchSpec, base_spec: ArchSpec, dataset: Any, *, importance: str, importance_batches: int,
                   importance_batch_size: int, batch_size: int, seed: int, device: str, bn_l1_epochs: int,
                   bn_l1_strength: float, train_fraction: float, recipe: Any, progress: Any,
                   max_params: float | None, max_macs: float | None, ratio: float | None, keep_ratio: Any,
                   min_width: int, normalise: str) -> tuple[Any, float]:
    """Per-channel scores (grad-init / bn-l1) and the threshold fit: ``(FitResult, scoring seconds)``."""
    from mgsearch.shrink.fit import fit_widths
    from mgsearch.shrink.importance import channel_importance

    t0 = time.perf_counter()
    scores = channel_importance(
        widened,
        dataset,
        method=importance,
        batches=importance_batches,
        batch_size=importance_batch_size if importance == "grad-init" else batch_size,
        seed=seed,
        device=device,
        epochs=bn_l1_epochs,
        strength=bn_l1_strength,
        train_fraction=train_fraction,
        recipe=recipe,
        progress=progress,
    )
    importance_seconds = time.perf_counter() - t0
    fit = fit_widths(
        widened,
        scores,
        max_params=max_params,
        max_macs=max_macs,
        ratio=ratio,
        reference=base_spec,
        keep_ratio=keep_ratio,
        min_width=min_width,
        normalise=normalise,
    )
    return fit, importance_seconds


def _train_result(result: ShrinkResult, base_spec: ArchSpec, widened: ArchSpec, shrunk: ArchSpec, dataset: Any, *,
                  epochs: int, train_fraction: float, batch_size: int, recipe: Any, seed: int, device: str,
                  distill: bool, baseline: bool, progress: Any) -> ShrinkResult:
    """Train the shrunk network from scratch (and the teacher / the baseline) into ``result``."""
    from mgsearch.train import Fidelity, train

    fidelity = Fidelity(epochs=epochs, train_fraction=train_fraction, batch_size=batch_size)
    result.fidelity = {"epochs": epochs, "train_fraction": train_fraction, "batch_size": batch_size}
    common: dict[str, Any] = {"fidelity": fidelity, "seed": seed, "device": device, "evaluate_test": True}
    if recipe is not None:
        common["recipe"] = recipe
    if progress is not None:
        common["progress"] = progress
    hook = None
    if distill:
        t0 = time.perf_counter()
        teacher_result = train(widened, dataset, **common)
        result.teacher = _train_summary(teacher_result, time.perf_counter() - t0)
        result.teacher["spec"] = "widened"
        hook = kd_loss_hook(teacher_result.model)
    t0 = time.perf_counter()
    trained = train(shrunk, dataset, loss_hook=hook, **common)
    result.trained = _train_summary(trained, time.perf_counter() - t0)
    result.trained["distilled"] = bool(distill)
    result.epoch_seconds = result.trained["train_seconds"] / epochs
    if baseline:
        t0 = time.perf_counter()
        base_result = train(base_spec, dataset, loss_hook=hook, **common)
        result.baseline = _train_summary(base_result, time.perf_counter() - t0)
        result.baseline["distilled"] = bool(distill)
    return result
