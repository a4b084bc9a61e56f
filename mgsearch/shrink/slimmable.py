"""Accuracy-guided LW-DNA (``importance = "slimmable"``): train the widened parent as a slimmable
network, then shrink it greedily to the budget by measured validation accuracy.

The widened parent is trained once as a slimmable network (:mod:`mgsearch.oneshot`'s supernet, the
sandwich rule with in-place distillation) whose width configurations are the parent's width slots,
each on its ladder (:func:`slot_ladders`: the widths shrink may give it, from its minimum to its
widened width, dominated widths excluded). Then, from the parent, :func:`greedy_shrink` removes one
channel group at a time until the network meets the budget: every slot that can narrow is tried one
group narrower (a ``group_fraction`` share of its widened width, at least one rung of its ladder; the
last step takes only as many rungs as reaching the budget needs), each trial network is scored on the
slimmable parent (BatchNorm recalibrated on a fixed set of training images, accuracy on a fixed
validation subset: :func:`mgsearch.oneshot.evaluation.score_config`), and the removal that costs the
least accuracy per unit of the *binding* cost (the budgeted metric most over its limit, as a share
of that limit) is kept. A removal that costs no accuracy counts as zero loss (ties: the larger
saving, then the first slot).

AutoSlim (Yu & Huang 2019, ``slimming()`` in the authors' ``train.py``) removes, per step, the
``divisor`` channels of the layer whose removal gives the lowest error on one training batch;
mgsearch's variant (named so in ``docs/lwdna.md``): the loss is divided by the cost saved, scored on
a fixed validation subset with BatchNorm recalibrated per trial network, and the unit is the width
slot (ties kept) rather than the conv layer.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from mgsearch.errors import BudgetError, ConfigError
from mgsearch.shrink.fit import FitResult, _ladders, _lowest, resolve_budget, slot_minimums
from mgsearch.spec import ArchSpec, width_slots

__all__ = ["SlotConfigurations", "slot_ladders", "GreedyStep", "greedy_shrink", "check_reachable", "SlimmableShrink",
           "slimmable_shrink", "DEFAULT_GROUP_FRACTION"]

#: the share of a slot's widened width removed per greedy step (AutoSlim's ~10% channel groups)
DEFAULT_GROUP_FRACTION = 0.1

CostFn = Callable[[ArchSpec], Any]


def _default_cost(spec: ArchSpec) -> Any:
    from mgsearch.cost import cost

    return cost(spec)


def slot_ladders(parent: ArchSpec, *, keep_ratio: float, min_width: int, metrics: Sequence[str] = ("params", "macs"),
                 cost_fn: CostFn | None = None) -> list[list[int]]:
    """Per width slot of ``parent``, ascending: the widths it may take (from its minimum,
    :func:`~mgsearch.shrink.fit.slot_minimums`, to its width; widths dominated in ``metrics`` dropped,
    as :func:`~mgsearch.shrink.fit.fit_widths` does)."""
    cost_fn = cost_fn or _default_cost
    slots = width_slots(parent)
    mins = slot_minimums(parent, keep_ratio=keep_ratio, min_width=min_width)
    full = [s.value for s in slots]

    def cost_of(values: Sequence[int]) -> tuple[int, int]:
        c = cost_fn(parent.with_slot_values(values))
        return int(c.params), int(c.macs)

    idx = tuple(k for k, name in enumerate(("params", "macs")) if name in metrics)
    return _ladders(slots, mins, full, cost_of, idx)


class SlotConfigurations:
    """The width configurations of a slimmable parent: each width slot anywhere on its ladder.

    Offers what the sandwich training asks of a structure (:func:`mgsearch.oneshot.training.train_supernet`):
    ``largest`` (the parent), ``smallest`` (every slot at its ladder's first rung) and ``random(rng)``
    (every slot drawn uniformly from its ladder)."""

    def __init__(self, parent: ArchSpec, ladders: Sequence[Sequence[int]]) -> None:
        if len(ladders) != len(width_slots(parent)):
            raise ValueError(f"{len(ladders)} ladders for {len(width_slots(parent))} width slots")
        self.parent = parent
        self.ladders = [list(lad) for lad in ladders]

    def spec(self, values: Sequence[int]) -> ArchSpec:
        return self.parent.with_slot_values(list(values))

    @property
    def largest(self) -> ArchSpec:
        return self.spec([lad[-1] for lad in self.ladders])

    @property
    def smallest(self) -> ArchSpec:
        return self.spec([lad[0] for lad in self.ladders])

    def random(self, rng: random.Random) -> ArchSpec:
        return self.spec([rng.choice(lad) for lad in self.ladders])


@dataclass(frozen=True)
class GreedyStep:
    """One removal of :func:`greedy_shrink`: slot ``slot`` from ``before`` to ``after`` channels, the
    accuracy after it, the accuracy lost, and the binding cost saved (share of its limit)."""

    slot: str
    before: int
    after: int
    accuracy: float
    loss: float
    saved: float
    metric: str
    tried: int


def _binding(cost: tuple[int, int], limits: dict[str, int]) -> str:
    """The budgeted metric most over (or nearest to) its limit."""
    used = {k: (cost[0] if k == "params" else cost[1]) / v for k, v in limits.items()}
    return max(used, key=lambda k: (used[k], k == "params"))


def check_reachable(parent: ArchSpec, ladders: Sequence[Sequence[int]], *, max_params: int | None,
                    max_macs: int | None, keep_ratio: float | None = None, min_width: int | None = None,
                    cost_fn: CostFn | None = None) -> None:
    """Raise :class:`~mgsearch.errors.BudgetError` (with ``minimum``, ``limits``, ``keep_ratio`` and
    ``min_width`` attributes) when the ladders' smallest network is over the budget."""
    cost_fn = cost_fn or _default_cost
    limits = {k: int(v) for k, v in (("params", max_params), ("macs", max_macs)) if v is not None}

    def cost_of(values: Sequence[int]) -> tuple[int, int]:
        c = cost_fn(parent.with_slot_values(list(values)))
        return int(c.params), int(c.macs)

    metrics = tuple(k for k, name in enumerate(("params", "macs")) if name in limits)
    lowest = _lowest(ladders, cost_of, metrics)
    p, m = cost_of(lowest)
    if all((p if k == "params" else m) <= v for k, v in limits.items()):
        return
    text = ", ".join(f"max_{k}={v:,}" for k, v in limits.items())
    error = BudgetError(f"budget {text} is below the smallest network the greedy shrink can reach "
                        f"({p:,} params, {m:,} MACs with every width at its smallest allowed value)")
    error.minimum = {"params": p, "macs": m}  # type: ignore[attr-defined]
    error.limits = {"max_params": max_params, "max_macs": max_macs}  # type: ignore[attr-defined]
    error.keep_ratio, error.min_width = keep_ratio, min_width  # type: ignore[attr-defined]
    raise error


def greedy_shrink(
    parent: ArchSpec,
    ladders: Sequence[Sequence[int]],
    score: Callable[[ArchSpec], float],
    *,
    max_params: int | None = None,
    max_macs: int | None = None,
    group_fraction: float = DEFAULT_GROUP_FRACTION,
    cost_fn: CostFn | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[int], list[GreedyStep]]:
    """Narrow ``parent`` slot by slot until it meets the budget (see the module docstring).

    ``score(spec)`` is the accuracy of a trial network (higher is better). Returns the slot values
    and the steps taken. Raises :class:`~mgsearch.errors.BudgetError` when the ladders' smallest
    network is over the budget."""
    cost_fn = cost_fn or _default_cost
    if not 0 < group_fraction <= 1:
        raise ConfigError(f"group_fraction={group_fraction!r} must be a number in (0, 1]")
    limits = {k: int(v) for k, v in (("params", max_params), ("macs", max_macs)) if v is not None}
    if not limits:
        raise ConfigError("no budget: give max_params and/or max_macs")
    slots = width_slots(parent)
    cache: dict[tuple[int, ...], tuple[int, int]] = {}

    def cost_of(values: Sequence[int]) -> tuple[int, int]:
        key = tuple(values)
        if key not in cache:
            c = cost_fn(parent.with_slot_values(list(key)))
            cache[key] = (int(c.params), int(c.macs))
        return cache[key]

    def fits(values: Sequence[int]) -> bool:
        c = cost_of(values)
        return all((c[0] if k == "params" else c[1]) <= v for k, v in limits.items())

    check_reachable(parent, ladders, max_params=max_params, max_macs=max_macs, cost_fn=cost_fn)
    values = [lad[-1] for lad in ladders]
    steps: list[GreedyStep] = []
    accuracy = float(score(parent.with_slot_values(values)))
    if progress is not None:
        p, m = cost_of(values)
        progress(f"slimmable shrink: parent val acc {accuracy:.4f}, {p:,} params, {m:,} MACs; "
                 f"budget {', '.join(f'{k} {v:,}' for k, v in limits.items())}")
    while not fits(values):
        metric = _binding(cost_of(values), limits)
        k = 0 if metric == "params" else 1
        now = cost_of(values)[k]
        trials: list[tuple[int, list[int], float]] = []  # (slot, values, saved share)
        for i, lad in enumerate(ladders):
            down = [w for w in lad if w < values[i]]
            if not down:
                continue
            target = values[i] - max(1, group_fraction * lad[-1])
            within = [w for w in down if w <= target + 1e-9]
            nxt = within[-1] if within else down[0]
            # the last step: only as many rungs as reaching the budget needs
            for w in reversed(down):
                if w < nxt:
                    break
                trial = list(values)
                trial[i] = w
                if fits(trial):
                    nxt = w
                    break
            trial = list(values)
            trial[i] = nxt
            saved = (now - cost_of(trial)[k]) / limits[metric]
            if saved > 0:
                trials.append((i, trial, saved))
        if not trials:  # cannot happen while the lowest network fits; a guard against an endless loop
            raise BudgetError(f"no width slot can narrow to save {metric}; the budget cannot be met")
        scored = [(i, trial, saved, float(score(parent.with_slot_values(trial)))) for i, trial, saved in trials]
        i, trial, saved, acc = min(scored, key=lambda t: (max(accuracy - t[3], 0.0) / t[2], -t[2], t[0]))
        step = GreedyStep(slot=slots[i].name, before=values[i], after=trial[i], accuracy=acc,
                          loss=accuracy - acc, saved=saved, metric=metric, tried=len(scored))
        steps.append(step)
        values, accuracy = trial, acc
        if progress is not None:
            p, m = cost_of(values)
            progress(f"slimmable shrink step {len(steps)}: {step.slot} {step.before} -> {step.after} "
                     f"(best of {step.tried}), val acc {acc:.4f} ({-step.loss:+.4f}), {p:,} params, {m:,} MACs")
    return values, steps


@dataclass
class SlimmableShrink:
    """What :func:`slimmable_shrink` produced: the fit, the greedy steps, the seconds spent on the
    slimmable training and on the greedy loop, and the protocol of the training."""

    fit: FitResult
    steps: list[GreedyStep]
    train_seconds: float
    greedy_seconds: float
    scored: int
    protocol: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.train_seconds + self.greedy_seconds


def slimmable_shrink(
    parent: ArchSpec,
    dataset: Any,
    *,
    max_params: float | None = None,
    max_macs: float | None = None,
    ratio: float | None = None,
    reference: ArchSpec | None = None,
    keep_ratio: float | str = "auto",
    min_width: int = 4,
    epochs: int = 1,
    train_fraction: float = 1.0,
    batch_size: int = 128,
    recipe: Any = None,
    seed: int = 0,
    device: str = "cpu",
    group_fraction: float = DEFAULT_GROUP_FRACTION,
    calibration_images: int = 512,
    val_images: int | None = 2000,
    random_configs: int = 2,
    progress: Callable[[str], None] | None = None,
) -> SlimmableShrink:
    """Train ``parent`` (the widened network) as a slimmable network for ``epochs`` (sandwich rule,
    in-place distillation, the study's ``recipe`` at ``train_fraction`` / ``batch_size``), then shrink
    it greedily to the budget (:func:`greedy_shrink`, scored with :func:`~mgsearch.oneshot.evaluation.score_config`
    on ``calibration_images`` training images and the first ``val_images`` validation images).

    The budget is as in :func:`~mgsearch.shrink.fit.fit_widths` (``ratio`` of ``reference``;
    ``keep_ratio="auto"`` resolved by :func:`~mgsearch.shrink.fit.auto_keep_ratio`). ``progress`` gets
    one line per supernet epoch and per greedy step (None: silent)."""
    import torch

    from mgsearch.cost import cost
    from mgsearch.devices import resolve_device
    from mgsearch.oneshot.evaluation import calibration_images as draw_calibration
    from mgsearch.oneshot.evaluation import score_config
    from mgsearch.oneshot.slicing import Supernet
    from mgsearch.oneshot.training import SandwichProtocol, train_supernet
    from mgsearch.shrink.fit import auto_keep_ratio
    from mgsearch.training.recipe import Recipe
    from mgsearch.training.runtime import default_threads

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"slimmable epochs={epochs!r} must be an integer >= 1")
    if keep_ratio == "auto":
        keep_ratio = auto_keep_ratio(parent, max_params=max_params, max_macs=max_macs, ratio=ratio,
                                     reference=reference, min_width=min_width)
    max_params, max_macs = resolve_budget(parent, max_params=max_params, max_macs=max_macs, ratio=ratio,
                                          reference=reference)
    by = tuple(k for k, v in (("params", max_params), ("macs", max_macs)) if v is not None)
    ladders = slot_ladders(parent, keep_ratio=float(keep_ratio), min_width=min_width, metrics=by)
    check_reachable(parent, ladders, max_params=max_params, max_macs=max_macs, keep_ratio=float(keep_ratio),
                    min_width=min_width)  # before any training
    configurations = SlotConfigurations(parent, ladders)
    dev = resolve_device(device)
    if recipe is None:
        recipe = Recipe()
    elif not isinstance(recipe, Recipe):
        recipe = Recipe(**dict(recipe))
    protocol = SandwichProtocol(epochs=epochs, train_fraction=float(train_fraction), batch_size=int(batch_size),
                                recipe=recipe, seed=int(seed), random_configs=int(random_configs))
    torch.manual_seed(seed)
    supernet = Supernet(parent)
    previous_threads = torch.get_num_threads()
    if dev.type == "cpu":  # as mgsearch.train does: MGSEARCH_THREADS, else the CPUs this process may use
        torch.set_num_threads(default_threads())
    try:
        t0 = time.perf_counter()
        train_supernet(supernet, configurations, dataset, protocol, device=dev, progress=progress)  # type: ignore[arg-type]
        train_seconds = time.perf_counter() - t0
        supernet.eval()
        calibration = draw_calibration(dataset, calibration_images, int(seed))
        counter = [0]

        def score(spec: ArchSpec) -> float:
            counter[0] += 1
            return score_config(supernet, spec, dataset, calibration, val_images=val_images, device=dev).val_acc

        t0 = time.perf_counter()
        values, steps = greedy_shrink(parent, ladders, score, max_params=max_params, max_macs=max_macs,
                                      group_fraction=group_fraction, progress=progress)
        greedy_seconds = time.perf_counter() - t0
    finally:
        torch.set_num_threads(previous_threads)
    shrunk = parent.with_slot_values(values)
    c = cost(shrunk)
    fit = FitResult(spec=shrunk, values=tuple(values), params=int(c.params), macs=int(c.macs), threshold=math.inf,
                    max_params=max_params, max_macs=max_macs, cost_evaluations=0, keep_ratio=float(keep_ratio))
    return SlimmableShrink(fit=fit, steps=steps, train_seconds=train_seconds, greedy_seconds=greedy_seconds,
                           scored=counter[0], protocol=protocol.to_dict())
