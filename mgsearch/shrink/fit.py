"""Budget fitting: choose per-slot widths from channel scores so that a spec meets a budget.

The LW-DNA shrink step (see ``docs/lwdna.md``):

1. **Normalise** each slot's scores by the slot's *mean* score. Ranks would make every slot keep the
   same fraction of its channels (a uniform shrink, the opposite of LW-DNA); raw scores are not
   comparable across layers (gradient magnitudes at initialisation grow towards the output and with
   the number of BatchNorms a residual stream passes through); the slot maximum is a single noisy
   channel. Dividing by the mean makes the score "importance relative to this layer's average", so
   a global threshold removes more channels from layers whose importance is concentrated in few
   channels.
2. **Ladders**: each slot may take the multiples of its ``multiple_of`` from its minimum
   (``keep_ratio`` x its widened width, at least ``min_width``, rounded up) to its widened width,
   except widths that are *dominated*: a wider choice is no dearer in the budgeted metric(s) (with
   the other slots at full width); the minimum itself always stays (next to narrow neighbours, where
   no MGIC hierarchy forms anyway, it can be the cheapest). Dense stages keep every multiple; MGIC stages lose widths whose
   channel hierarchy is shallow (56 = 7 x 8 cannot be halved into groups of 8, so its MGIC conv is
   dense and dearer than 64's three-level one); narrowing below the previous stage's width loses
   the widths where the added projection shortcut costs more than it saves.
3. **Threshold**: keep the channels whose normalised score is >= ``t``; each slot's count is rounded
   *down* onto its ladder (never below the ladder's first rung). ``t`` is found by bisection over
   the distinct score values so that the analytic cost meets the budget.
4. **Greedy fill**: move one rung up the ladder of the slot whose next channel has
   the highest normalised score, as long as the budget holds; slots whose next step would break the
   budget are skipped, and the fill ends only when no slot can grow (checked again over all slots).
   Channels of zero importance are never added back: they are the first to go. So the result uses
   the budget up to less than the cheapest one-step increment of any slot whose next channel has a
   positive score.

Ties are respected because the unit of choice is a :class:`~mgsearch.spec.WidthSlot` (residual
streams, sharing runs and MgNet f-widths are one slot each) and every value is a multiple of the
slot's ``multiple_of`` that the slot accepts (a block form's rule, e.g. vcycle levels); the returned
spec passes ArchSpec validation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from mgsearch.errors import BudgetError, ConfigError
from mgsearch.spec import ArchSpec, WidthSlot, width_slots

__all__ = [
    "FitResult",
    "fit_widths",
    "shrink_to_budget",
    "slot_minimums",
    "minimum_spec",
    "normalise_scores",
    "resolve_budget",
    "NORMALISATIONS",
    "auto_keep_ratio",
    "PAPER_KEEP_RATIO",
    "AUTO_FLOOR_SHARE",
]

#: the paper's keep ratio; ``keep_ratio="auto"`` uses it whenever the budget leaves room for it
PAPER_KEEP_RATIO = 0.4
#: ``keep_ratio="auto"``: the smallest network shrink may produce costs at most this share of every limit
AUTO_FLOOR_SHARE = 0.7

CostFn = Callable[[ArchSpec], Any]


def _default_cost(spec: ArchSpec) -> Any:
    from mgsearch.cost import cost

    return cost(spec)


def _check_keep(keep_ratio: float, min_width: int) -> None:
    if isinstance(keep_ratio, bool) or not isinstance(keep_ratio, (int, float)) or not 0 < keep_ratio <= 1:
        raise ConfigError(f"keep_ratio={keep_ratio!r} must be a number in (0, 1] (the paper uses 0.4)")
    if isinstance(min_width, bool) or not isinstance(min_width, int) or min_width < 1:
        raise ConfigError(f"min_width={min_width!r} must be an integer >= 1")


def slot_minimums(spec: ArchSpec, *, keep_ratio: float = 0.4, min_width: int = 4) -> list[int]:
    """Per slot: the smallest width shrink may give it.

    ``max(keep_ratio * width, min_width)`` rounded up to the slot's ``multiple_of`` (and to a width the
    slot accepts, :attr:`~mgsearch.spec.WidthSlot.allowed`), never above the slot's current width.
    """
    _check_keep(keep_ratio, min_width)
    out = []
    for slot in width_slots(spec):
        m = slot.multiple_of
        low = max(keep_ratio * slot.value, min_width, m)
        value = math.ceil(low / m - 1e-9) * m
        if slot.allowed is not None:  # a block form's rule (vcycle levels): the next width it accepts
            value = slot.round_up(value)
        out.append(min(value, slot.value))
    return out


def minimum_spec(
    spec: ArchSpec,
    *,
    keep_ratio: float = 0.4,
    min_width: int = 4,
    by: Sequence[str] = ("params", "macs"),
    cost_fn: CostFn | None = None,
) -> ArchSpec:
    """The smallest network shrink may produce from ``spec`` (cheapest in the metrics ``by``): every
    slot at its minimum width, or every slot on its first non-dominated rung where that is cheaper."""
    cost_fn = cost_fn or _default_cost
    slots = width_slots(spec)
    mins = slot_minimums(spec, keep_ratio=keep_ratio, min_width=min_width)
    full = [slot.value for slot in slots]

    def cost_of(values: Sequence[int]) -> tuple[int, int]:
        c = cost_fn(spec.with_slot_values(values))
        return int(c.params), int(c.macs)

    metrics = tuple(k for k, name in enumerate(("params", "macs")) if name in by)
    return spec.with_slot_values(_lowest(_ladders(slots, mins, full, cost_of, metrics), cost_of, metrics))


NORMALISATIONS = ("mean", "max", "none")


def normalise_scores(
    slots: Sequence[WidthSlot], scores: Mapping[str, Any], how: str = "mean"
) -> list[list[float]]:
    """Per slot, its scores divided by the slot's mean (``how="mean"``, the default), by its maximum
    (``"max"``) or unchanged (``"none"``: one global scale, as Network Slimming does with BN scales),
    sorted in descending order.

    ``scores[slot.name]`` is any sequence (or 1-d tensor) of ``slot.value`` finite, non-negative
    numbers. A slot whose scores are all zero gets all zeros.
    """
    if how not in NORMALISATIONS:
        raise ConfigError(f"normalise={how!r} is unknown; allowed: {', '.join(NORMALISATIONS)}")
    out = []
    for slot in slots:
        if slot.name not in scores:
            raise ValueError(f"scores has no entry for width slot {slot.name!r}; slots: {[s.name for s in slots]}")
        raw = scores[slot.name]
        values = [float(v) for v in (raw.tolist() if hasattr(raw, "tolist") else raw)]
        if len(values) != slot.value:
            raise ValueError(f"scores[{slot.name!r}] has {len(values)} entries for a width of {slot.value}")
        if any(not math.isfinite(v) or v < 0 for v in values):
            raise ValueError(f"scores[{slot.name!r}] must be finite and >= 0")
        scale = {"mean": sum(values) / len(values), "max": max(values), "none": 1.0}[how]
        norm = [v / scale for v in values] if scale > 0 else [0.0] * len(values)
        out.append(sorted(norm, reverse=True))
    return out


def resolve_budget(
    spec: ArchSpec,
    *,
    max_params: float | None = None,
    max_macs: float | None = None,
    ratio: float | None = None,
    reference: ArchSpec | None = None,
    cost_fn: CostFn | None = None,
) -> tuple[int | None, int | None]:
    """The effective ``(max_params, max_macs)``.

    ``ratio`` R limits both params and MACs to R x the cost of ``reference`` (default: ``spec``),
    combined with explicit limits by taking the smaller one. At least one limit is required.
    """
    cost_fn = cost_fn or _default_cost
    for key, value in (("max_params", max_params), ("max_macs", max_macs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise ConfigError(f"{key}={value!r} must be a positive number")
    if ratio is not None:
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 16:
            raise ConfigError(f"ratio={ratio!r} must be a number in (0, 16] (a fraction of the reference cost)")
        ref = cost_fn(reference if reference is not None else spec)
        rp, rm = int(math.floor(ratio * ref.params)), int(math.floor(ratio * ref.macs))
        max_params = rp if max_params is None else min(int(max_params), rp)
        max_macs = rm if max_macs is None else min(int(max_macs), rm)
    if max_params is None and max_macs is None:
        raise ConfigError("no budget: give max_params, max_macs and/or ratio")
    return (None if max_params is None else int(max_params), None if max_macs is None else int(max_macs))


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_widths` chose: the spec, its slot values, its cost, the threshold and the
    keep ratio it used (the resolved one for ``keep_ratio="auto"``)."""

    spec: ArchSpec
    values: tuple[int, ...]
    params: int
    macs: int
    threshold: float
    max_params: int | None
    max_macs: int | None
    cost_evaluations: int
    keep_ratio: float = PAPER_KEEP_RATIO

    @property
    def utilisation(self) -> float:
        """The largest used fraction over the given limits (1.0 = exactly at the binding limit)."""
        used = []
        if self.max_params is not None:
            used.append(self.params / self.max_params)
        if self.max_macs is not None:
            used.append(self.macs / self.max_macs)
        return max(used)


def _fmt(n: int) -> str:
    return f"{n:,}"


def _ladders(
    slots: Sequence[WidthSlot],
    mins: Sequence[int],
    full: Sequence[int],
    cost_of: Callable[[Sequence[int]], tuple[int, int]],
    metrics: Sequence[int] = (0, 1),
) -> list[list[int]]:
    """Per slot, the widths shrink may choose, ascending: the multiples of ``multiple_of`` between the
    slot's minimum and its full width that are not *dominated* (a wider choice costing no more in the
    budgeted ``metrics`` (0 = params, 1 = MACs), with the other slots at full width). In dense stages that is every multiple; in
    MGIC stages it drops widths whose channel hierarchy is shallow (e.g. 56 = 7 x 8 is a dense conv,
    dearer than 64 = 8 x 8 with three levels), and where a projection shortcut appears."""
    out = []
    for i, slot in enumerate(slots):
        m = slot.multiple_of
        candidates = [w for w in range(mins[i], full[i] + 1, m) if slot.accepts(w)]
        ladder: list[int] = []
        best = [math.inf, math.inf]
        for w in reversed(candidates):
            vals = list(full)
            vals[i] = w
            c = cost_of(vals)
            if any(c[k] < best[k] for k in metrics):
                ladder.append(w)
            best = [min(best[k], c[k]) for k in (0, 1)]
        if mins[i] not in ladder:  # the minimum stays reachable: with narrow neighbours it may be cheapest
            ladder.append(mins[i])
        out.append(sorted(ladder))
    return out


def _lowest(
    ladders: Sequence[Sequence[int]],
    cost_of: Callable[[Sequence[int]], tuple[int, int]],
    metrics: Sequence[int],
) -> list[int]:
    """The cheaper (in ``metrics``, then the other one) of: every slot at its minimum, and every slot
    on its first non-dominated rung (they differ where a minimum is dominated)."""
    at_min = [lad[0] for lad in ladders]
    first = [lad[1] if len(lad) > 1 and _dominated_min(lad, i, ladders, cost_of, metrics) else lad[0]
             for i, lad in enumerate(ladders)]
    if first == at_min:
        return at_min
    key = lambda v: tuple(cost_of(v)[k] for k in (*metrics, *(k for k in (0, 1) if k not in metrics)))  # noqa: E731
    return min((at_min, first), key=key)


def _dominated_min(lad: Sequence[int], i: int, ladders: Sequence[Sequence[int]], cost_of: Callable,
                   metrics: Sequence[int] = (0, 1)) -> bool:
    """Whether slot ``i``'s second rung costs no more than its minimum in the budgeted ``metrics``
    (0 = params, 1 = MACs), the other slots at full width: a narrower width need not be cheaper where
    the channel levels change (MGIC, the V-cycle block)."""
    full = [l[-1] for l in ladders]
    a, b = list(full), list(full)
    a[i], b[i] = lad[0], lad[1]
    ca, cb = cost_of(a), cost_of(b)
    return all(cb[k] <= ca[k] for k in metrics)


def auto_keep_ratio(
    spec: ArchSpec,
    *,
    max_params: float | None = None,
    max_macs: float | None = None,
    ratio: float | None = None,
    reference: ArchSpec | None = None,
    min_width: int = 4,
    cost_fn: CostFn | None = None,
) -> float:
    """The keep ratio ``keep_ratio="auto"`` resolves to for ``spec`` (usually a widened one) and a budget.

    The paper's 0.4 when the smallest network it allows (:func:`minimum_spec`) costs at most
    ``AUTO_FLOOR_SHARE`` (70%) of every limit, so that the fit has room to differentiate the layers;
    otherwise the largest keep ratio in steps of 0.01 whose smallest network does; when even 0.01 leaves
    less room, the largest one whose smallest network fits at all; when none fits, 0.01 (the fit then
    raises :class:`BudgetError` naming that smallest network). Bisection on the analytic cost: ~7
    :func:`minimum_spec` evaluations.
    """
    cost_fn = cost_fn or _default_cost
    _check_keep(PAPER_KEEP_RATIO, min_width)
    max_params, max_macs = resolve_budget(
        spec, max_params=max_params, max_macs=max_macs, ratio=ratio, reference=reference, cost_fn=cost_fn
    )
    limits = [(k, v) for k, v in (("params", max_params), ("macs", max_macs)) if v is not None]
    by = tuple(k for k, _ in limits)
    shares: dict[int, float] = {}

    def share(step: int) -> float:  # step / 100 = keep ratio
        if step not in shares:
            c = cost_fn(minimum_spec(spec, keep_ratio=step / 100, min_width=min_width, by=by, cost_fn=cost_fn))
            shares[step] = max(getattr(c, k) / v for k, v in limits)
        return shares[step]

    top = round(PAPER_KEEP_RATIO * 100)
    for target in (AUTO_FLOOR_SHARE, 1.0):
        if share(top) <= target:
            return PAPER_KEEP_RATIO
        if share(1) > target:
            continue
        lo, hi = 1, top  # share(lo) <= target < share(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if share(mid) <= target:
                lo = mid
            else:
                hi = mid
        return lo / 100
    return 0.01


def fit_widths(
    spec: ArchSpec,
    scores: Mapping[str, Any],
    *,
    max_params: float | None = None,
    max_macs: float | None = None,
    ratio: float | None = None,
    reference: ArchSpec | None = None,
    keep_ratio: float | str = PAPER_KEEP_RATIO,
    min_width: int = 4,
    normalise: str = "mean",
    cost_fn: CostFn | None = None,
) -> FitResult:
    """The full fit (see the module docstring); :func:`shrink_to_budget` returns its ``spec``.
    ``keep_ratio="auto"`` resolves it with :func:`auto_keep_ratio` (``FitResult.keep_ratio`` says
    which); a budget below the smallest network raises :class:`BudgetError` whose ``minimum``
    (``{"params", "macs"}``), ``limits``, ``keep_ratio`` and ``min_width`` attributes say why."""
    cost_fn = cost_fn or _default_cost
    if keep_ratio == "auto":
        keep_ratio = auto_keep_ratio(spec, max_params=max_params, max_macs=max_macs, ratio=ratio,
                                     reference=reference, min_width=min_width, cost_fn=cost_fn)
    _check_keep(keep_ratio, min_width)  # type: ignore[arg-type]
    max_params, max_macs = resolve_budget(
        spec, max_params=max_params, max_macs=max_macs, ratio=ratio, reference=reference, cost_fn=cost_fn
    )
    slots = width_slots(spec)
    for slot in slots:
        if slot.value % slot.multiple_of:
            raise ValueError(f"slot {slot.name}={slot.value} is not a multiple of {slot.multiple_of}")
    norm = normalise_scores(slots, scores, normalise)
    mins = slot_minimums(spec, keep_ratio=keep_ratio, min_width=min_width)
    full = [slot.value for slot in slots]

    cache: dict[tuple[int, ...], tuple[int, int]] = {}

    def cost_of(values: Sequence[int]) -> tuple[int, int]:
        key = tuple(values)
        if key not in cache:
            c = cost_fn(spec.with_slot_values(key))
            cache[key] = (int(c.params), int(c.macs))
        return cache[key]

    def fits(values: Sequence[int]) -> bool:
        p, m = cost_of(values)
        return (max_params is None or p <= max_params) and (max_macs is None or m <= max_macs)

    metrics = tuple(k for k, v in ((0, max_params), (1, max_macs)) if v is not None)
    ladders = _ladders(slots, mins, full, cost_of, metrics)

    def floor_on(ladder: list[int], count: int) -> int:
        below = [w for w in ladder if w <= count]
        return below[-1] if below else ladder[0]

    def at_threshold(t: float) -> list[int]:
        return [floor_on(lad, sum(1 for v in s if v >= t)) for s, lad in zip(norm, ladders)]

    low_values = _lowest(ladders, cost_of, metrics)
    if not fits(low_values):
        p, m = cost_of(low_values)
        limits = ", ".join(
            f"{k}={_fmt(v)}" for k, v in (("max_params", max_params), ("max_macs", max_macs)) if v is not None
        )
        error = BudgetError(
            f"budget {limits} is below the smallest network of this structure "
            f"({_fmt(p)} params, {_fmt(m)} MACs with every width at its smallest allowed value, "
            f"keep_ratio={keep_ratio:g}, min_width={min_width}); raise the budget or lower keep_ratio/min_width"
        )
        error.minimum = {"params": p, "macs": m}  # type: ignore[attr-defined]
        error.limits = {"max_params": max_params, "max_macs": max_macs}  # type: ignore[attr-defined]
        error.keep_ratio, error.min_width = keep_ratio, min_width  # type: ignore[attr-defined]
        raise error
    # candidate thresholds, ascending: keeping more channels = lower threshold = higher cost
    levels = sorted({v for s in norm for v in s})
    if fits(at_threshold(levels[0])):
        values, threshold = at_threshold(levels[0]), levels[0]
    else:
        lo, hi = 0, len(levels)  # levels[lo] fails; index hi (= +inf, the minimums) fits
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(at_threshold(levels[mid])):
                hi = mid
            else:
                lo = mid
        threshold = levels[hi] if hi < len(levels) else math.inf
        values = at_threshold(threshold) if hi < len(levels) else list(low_values)
        if not fits(values):  # rounding onto the ladders can be dearer than the lowest network
            values = list(low_values)
    # greedy fill, highest next-channel score first; stop only when no slot can take one more step
    position = [lad.index(v) for lad, v in zip(ladders, values)]
    while True:
        grown = False
        blocked: set[int] = set()
        while True:
            open_slots = [
                i for i in range(len(slots))
                if position[i] + 1 < len(ladders[i]) and i not in blocked and norm[i][values[i]] > 0
            ]
            if not open_slots:
                break
            i = max(open_slots, key=lambda j: (norm[j][values[j]], -j))
            trial = list(values)
            trial[i] = ladders[i][position[i] + 1]
            if fits(trial):
                values, grown = trial, True
                position[i] += 1
            else:
                blocked.add(i)
        if not grown:
            break
    p, m = cost_of(values)
    return FitResult(
        spec=spec.with_slot_values(values),
        values=tuple(values),
        params=p,
        macs=m,
        threshold=threshold,
        max_params=max_params,
        max_macs=max_macs,
        cost_evaluations=len(cache),
        keep_ratio=float(keep_ratio),  # type: ignore[arg-type]
    )


def shrink_to_budget(
    spec: ArchSpec,
    scores: Mapping[str, Any],
    *,
    max_params: float | None = None,
    max_macs: float | None = None,
    ratio: float | None = None,
    reference: ArchSpec | None = None,
    keep_ratio: float | str = PAPER_KEEP_RATIO,
    min_width: int = 4,
    normalise: str = "mean",
    cost_fn: CostFn | None = None,
) -> ArchSpec:
    """Shrink ``spec`` (usually a widened one) to the budget, keeping its highest-scoring channels.

    ``scores`` maps each width-slot name to one non-negative score per channel (as returned by
    :func:`~mgsearch.shrink.channel_importance`). The budget is ``max_params`` and/or ``max_macs``,
    or ``ratio`` x the cost of ``reference`` (default ``spec``) for both. Every slot keeps at least
    ``keep_ratio`` of its width and ``min_width`` channels, rounded up to its ``multiple_of``
    (``keep_ratio="auto"``: see :func:`auto_keep_ratio`).
    ``normalise`` is how scores are made comparable across slots (``mean``, ``max`` or ``none``).

    The result meets the budget, passes validation, and cannot move any single slot whose next
    channel has a positive score one rung up its ladder (the next non-dominated multiple of its
    ``multiple_of``) without breaking the budget, so it uses >= 97% of the binding limit whenever the
    cheapest such step costs <= 3% of it; zero-score channels are removed first and never added back. When ``spec`` itself fits, it is returned unchanged.
    Raises :class:`~mgsearch.errors.BudgetError` naming the minimum cost when even the all-minimum
    network is over budget.
    """
    return fit_widths(
        spec,
        scores,
        max_params=max_params,
        max_macs=max_macs,
        ratio=ratio,
        reference=reference,
        keep_ratio=keep_ratio,
        min_width=min_width,
        normalise=normalise,
        cost_fn=cost_fn,
    ).spec
