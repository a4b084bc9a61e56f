"""shrink_to_budget / fit_widths: budget met, structure respected, budget used, clear errors."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mgsearch.cost import cost
from mgsearch.errors import BudgetError, ConfigError
from mgsearch.presets import get_preset
from mgsearch.shrink import fit_widths, minimum_spec, shrink_to_budget, slot_minimums, widen
from mgsearch.spec import ArchSpec, width_slots
from tests.strategies import specs


def random_scores(spec: ArchSpec, seed: int, zero_fraction: float = 0.0) -> dict[str, list[float]]:
    rng = random.Random(seed)
    out = {}
    for slot in width_slots(spec):
        scale = rng.choice((1e-4, 1.0, 50.0))
        out[slot.name] = [0.0 if rng.random() < zero_fraction else rng.random() * scale for _ in range(slot.value)]
    return out


def check_structure(result: ArchSpec, widened: ArchSpec, keep_ratio: float, min_width: int) -> None:
    """Validation passes, every slot is a legal multiple, ties hold, per-slot minimum/maximum hold."""
    again = ArchSpec.from_json(result.to_json())  # full validation again
    assert again == result
    for before, after in zip(width_slots(widened), width_slots(result)):
        assert before.name == after.name and before.paths == after.paths
        m = after.multiple_of
        assert after.value % m == 0
        lowest = math.ceil(max(keep_ratio * before.value, min_width, m) / m - 1e-9) * m
        assert min(lowest, before.value) <= after.value <= before.value
    # ties: every path of one slot carries the same width
    flat = {"stem.width": result.stem.width}
    for i, stage in enumerate(result.stages):
        flat[f"stages[{i}].width"] = stage.width
        for j, b in enumerate(stage.blocks):
            flat[f"stages[{i}].blocks[{j}].inner"] = b.inner
    for slot in width_slots(result):
        assert {flat[p] for p in slot.paths} == {slot.value}


def ladders(widened: ArchSpec, keep: float, metrics) -> list[list[int]]:
    """Independent re-computation of the allowed widths: multiples from the minimum up, minus the
    widths dominated (in ``metrics``) by a wider one with the other slots at full width."""
    slots = width_slots(widened)
    full = [s.value for s in slots]
    out = []
    for i, (slot, low) in enumerate(zip(slots, slot_minimums(widened, keep_ratio=keep, min_width=4))):
        options = [w for w in range(low, slot.value + 1, slot.multiple_of) if slot.accepts(w)]  # a form's width rule
        costs = {}
        for w in options:
            vals = list(full)
            vals[i] = w
            c = cost(widened.with_slot_values(vals))
            costs[w] = (c.params, c.macs)
        out.append([
            w for w in options
            if w == low or not any(all(costs[v][k] <= costs[w][k] for k in metrics) for v in options if v > w)
        ])
    return out


def one_step_increments(spec: ArchSpec, widened: ArchSpec, scores, lads) -> list[tuple[int, int]]:
    """Costs (params, macs) of moving one rung up each non-full slot whose next channel (in
    descending score order) has a positive score."""
    base = list(s.value for s in width_slots(spec))
    out = []
    for i, (slot, lad) in enumerate(zip(width_slots(spec), lads)):
        ranked = sorted(scores[slot.name], reverse=True)
        assert slot.value in lad
        if slot.value < lad[-1] and ranked[slot.value] > 0:
            vals = list(base)
            vals[i] = lad[lad.index(slot.value) + 1]
            c = cost(spec.with_slot_values(vals))
            out.append((c.params, c.macs))
    return out


def run_property(spec: ArchSpec, factor: float, frac: float, which: str, keep: float, seed: int) -> None:
    wide = widen(spec, factor)
    metrics = {"params": (0,), "macs": (1,), "both": (0, 1)}[which]
    by = {"params": ("params",), "macs": ("macs",), "both": ("params", "macs")}[which]
    mins = minimum_spec(wide, keep_ratio=keep, min_width=4, by=by)
    c_min, c_wide = cost(mins), cost(wide)
    # from the smallest network up to the widened one; where narrowing is dearer (the V-cycle's channel
    # levels change with the width) the widened one can be the cheaper: never below the smallest
    limit = lambda lo, hi: int(lo + frac * max(hi - lo, 0))  # noqa: E731
    kw = {}
    if which in ("params", "both"):
        kw["max_params"] = limit(c_min.params, c_wide.params)
    if which in ("macs", "both"):
        kw["max_macs"] = limit(c_min.macs, c_wide.macs)
    scores = random_scores(wide, seed, zero_fraction=0.2)
    fit = fit_widths(wide, scores, keep_ratio=keep, min_width=4, **kw)
    c = cost(fit.spec)
    # 1. the budget holds
    assert c.params <= kw.get("max_params", math.inf) and c.macs <= kw.get("max_macs", math.inf)
    assert (fit.params, fit.macs) == (c.params, c.macs)
    # 2. every structural rule holds
    check_structure(fit.spec, wide, keep, 4)
    # 3. no single slot can grow one step within the budget (local maximality) ...
    incs = one_step_increments(fit.spec, wide, scores, ladders(wide, keep, metrics))
    for p, m in incs:
        assert p > kw.get("max_params", math.inf) or m > kw.get("max_macs", math.inf)
    # ... so >= 97% of the binding limit is used whenever the cheapest step costs <= 3% of it
    steps = [
        max((p - c.params) / kw["max_params"] if "max_params" in kw else 0.0,
            (m - c.macs) / kw["max_macs"] if "max_macs" in kw else 0.0)
        for p, m in incs
    ]
    if steps and min(steps) <= 0.03:
        assert fit.utilisation >= 0.97, (fit.utilisation, min(steps))
    if all(v > 0 for s in scores.values() for v in s) and not incs:
        assert fit.spec == wide  # nothing could grow: everything is at full width


PROPERTY_ARGS = (
    specs(max_width=24, max_stages=3, max_depth=3),
    st.sampled_from((1.0, 1.5, 2.0, 3.0)),
    st.floats(0.0, 1.0),
    st.sampled_from(("params", "macs", "both")),
    st.sampled_from((0.25, 0.4, 0.5, 0.75, 1.0)),
    st.integers(0, 10_000),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(*PROPERTY_ARGS)
def test_shrink_meets_budget_and_structure(spec, factor, frac, which, keep, seed):
    run_property(spec, factor, frac, which, keep, seed)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(*PROPERTY_ARGS)
def test_shrink_meets_budget_and_structure_many(spec, factor, frac, which, keep, seed):
    run_property(spec, factor, frac, which, keep, seed)


@settings(max_examples=25, deadline=None)
@given(specs(max_width=24), st.sampled_from((0.4, 0.6)), st.floats(0.05, 0.99))
def test_budget_below_minimum_names_the_minimum(spec, keep, below):
    wide = widen(spec, 2.0)
    c_min = cost(minimum_spec(wide, keep_ratio=keep, min_width=4, by=("params",)))
    budget = int(c_min.params * below)
    assume(budget >= 1)
    with pytest.raises(BudgetError) as err:
        shrink_to_budget(wide, random_scores(wide, 0), max_params=budget, keep_ratio=keep)
    msg = str(err.value)
    assert f"{c_min.params:,} params" in msg and f"max_params={budget:,}" in msg
    assert "\n" not in msg


def test_resnet20_lands_close_to_budget():
    base = get_preset("resnet20")
    wide = widen(base, 2.0)
    c = cost(base)
    fit = fit_widths(wide, random_scores(wide, 1), max_params=c.params, max_macs=c.macs)
    assert fit.params <= c.params and fit.macs <= c.macs
    assert fit.utilisation >= 0.97
    # ratio of the base gives the same limits
    same = fit_widths(wide, random_scores(wide, 1), ratio=1.0, reference=base)
    assert (same.max_params, same.max_macs) == (c.params, c.macs) and same.spec == fit.spec


def test_zero_importance_channels_go_first():
    base = get_preset("resnet20")
    wide = widen(base, 2.0)
    target = "stages[1].blocks[1].inner"  # 64 channels after widening
    scores = {s.name: [1.0] * s.value for s in width_slots(wide)}
    scores[target] = [1.0] * 40 + [0.0] * 24  # 24 useless channels
    smaller = {s.name: s.value for s in width_slots(wide)}
    smaller[target] = 40
    budget = cost(wide.with_slot_values([smaller[s.name] for s in width_slots(wide)])).params
    got = {s.name: s.value for s in width_slots(shrink_to_budget(wide, scores, max_params=budget))}
    assert got == smaller  # exactly the zero channels were removed, nothing else
    # and with a tighter budget the zero channels are still the first to go (the slot ends at 40 or less)
    tighter = {s.name: s.value for s in width_slots(shrink_to_budget(wide, scores, max_params=budget - 5000))}
    assert tighter[target] <= 40


def test_zero_channels_go_first_in_mgic_multiples():
    base = get_preset("mgiad-small")
    wide = widen(base, 2.0)
    slots = width_slots(wide)
    target = slots[-1]
    scores = {s.name: [1.0] * s.value for s in slots}
    scores[target.name] = [1.0] * (target.value // 2) + [0.0] * (target.value // 2)
    values = [s.value if s.name != target.name else target.value // 2 for s in slots]
    budget = cost(wide.with_slot_values(values)).params
    got = shrink_to_budget(wide, scores, max_params=budget)
    assert [s.value for s in width_slots(got)] == values


def test_widened_spec_returned_when_it_fits():
    wide = widen(get_preset("resnet20"), 2.0)
    c = cost(wide)
    assert shrink_to_budget(wide, random_scores(wide, 0), max_params=c.params) == wide


def test_heterogeneous_scores_give_heterogeneous_widths():
    base = get_preset("resnet20")
    wide = widen(base, 2.0)
    rng = random.Random(3)
    # some layers have importance concentrated in few channels, others spread evenly
    scores = {}
    for k, s in enumerate(width_slots(wide)):
        scores[s.name] = [rng.paretovariate(1.2) for _ in range(s.value)] if k % 2 else [1.0 + 0.01 * rng.random() for _ in range(s.value)]
    got = shrink_to_budget(wide, scores, ratio=1.0, reference=base)
    kept = [a.value / b.value for a, b in zip(width_slots(got), width_slots(wide))]
    assert max(kept) - min(kept) >= 0.2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "no budget"),
        ({"max_params": -5}, "max_params=-5"),
        ({"max_params": 10**6, "keep_ratio": 0.0}, "keep_ratio=0.0"),
        ({"max_params": 10**6, "keep_ratio": 1.5}, "keep_ratio=1.5"),
        ({"max_params": 10**6, "min_width": 0}, "min_width=0"),
        ({"ratio": 0}, "ratio=0"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs, match):
    wide = widen(get_preset("resnet20"), 2.0)
    with pytest.raises(ConfigError, match=match):
        shrink_to_budget(wide, random_scores(wide, 0), **kwargs)


def test_scores_must_match_slots():
    wide = widen(get_preset("resnet20"), 2.0)
    scores = random_scores(wide, 0)
    scores["stem"] = scores["stem"][:-1]
    with pytest.raises(ValueError, match="stem"):
        shrink_to_budget(wide, scores, max_params=10**6)
    del scores["stem"]
    with pytest.raises(ValueError, match="no entry"):
        shrink_to_budget(wide, scores, max_params=10**6)


def test_slot_minimums_round_up_to_multiples():
    wide = widen(get_preset("mgiad-small"), 2.0)  # group size 8
    for slot, low in zip(width_slots(wide), slot_minimums(wide, keep_ratio=0.4, min_width=4)):
        assert low % slot.multiple_of == 0 and low >= 0.4 * slot.value


@pytest.mark.parametrize("how", ["mean", "max", "none"])
def test_normalisations_meet_the_budget(how):
    base = get_preset("resnet20")
    wide = widen(base, 2.0)
    got = shrink_to_budget(wide, random_scores(wide, 4), ratio=1.0, reference=base, normalise=how)
    assert cost(got).params <= cost(base).params and cost(got).macs <= cost(base).macs


def test_normalisation_changes_the_comparison_across_slots():
    """Raw scores 10x larger in one slot keep that slot whole under "none" but not under "mean"."""
    base = get_preset("resnet20")
    wide = widen(base, 2.0)
    rng = random.Random(0)
    scores = {s.name: [rng.random() for _ in range(s.value)] for s in width_slots(wide)}
    loud = "stages[1].blocks[0].inner"
    scores[loud] = [10 * v + 10 for v in scores[loud]]
    kept = {}
    for how in ("none", "mean"):
        got = shrink_to_budget(wide, scores, ratio=1.0, reference=base, normalise=how)
        kept[how] = {s.name: s.value for s in width_slots(got)}[loud]
    assert kept["none"] == 64 and kept["mean"] < 64
    with pytest.raises(ConfigError, match="normalise='rank'"):
        shrink_to_budget(wide, scores, ratio=1.0, reference=base, normalise="rank")


def test_mgic_ladders_skip_shallow_hierarchies():
    """In an MGIC stage with group size 8, 40/48/56 channels cannot be halved down the hierarchy and cost
    more than 64: they are not offered; the minimum (24 here) always is."""
    from mgsearch.shrink.fit import _ladders

    wide = widen(get_preset("mgiad-small"), 2.0)  # slots 64, 64, 128, 128, 256, 256; group size 8
    slots = width_slots(wide)
    full = [s.value for s in slots]

    def cost_of(values):
        c = cost(wide.with_slot_values(values))
        return c.params, c.macs

    lads = _ladders(slots, slot_minimums(wide, keep_ratio=0.3), full, cost_of, (0, 1))
    assert lads[0] == [24, 32, 64]
    assert all(w % 8 == 0 for lad in lads for w in lad)


def test_mgic_half_budget_needs_a_small_keep_ratio():
    base = get_preset("mgiad-small")
    wide = widen(base, 2.0)
    c = cost(base)
    scores = random_scores(wide, 2)
    with pytest.raises(BudgetError, match="below the smallest network"):
        shrink_to_budget(wide, scores, max_params=c.params // 2, keep_ratio=0.3)
    got = shrink_to_budget(wide, scores, max_params=c.params // 2, max_macs=c.macs // 2, keep_ratio=0.125)
    assert cost(got).params <= c.params // 2 and cost(got).macs <= c.macs // 2


def test_auto_keep_ratio_keeps_the_papers_value_where_there_is_room_and_lowers_it_otherwise():
    from mgsearch.shrink.fit import AUTO_FLOOR_SHARE, PAPER_KEEP_RATIO, auto_keep_ratio

    from mgsearch.presets import resolve_spec

    base = resolve_spec("resnet20", in_channels=1, num_classes=10, input_size=28)
    wide = widen(base, 2.0)
    assert auto_keep_ratio(wide, ratio=1.0, reference=base) == PAPER_KEEP_RATIO
    # the README's budget: 0.4 floors the network at 178,201 params; auto lowers it until the
    # smallest network leaves 30% of the budget to differentiate the layers
    keep = auto_keep_ratio(wide, max_params=60_000)
    assert 0.01 <= keep < PAPER_KEEP_RATIO
    floor = cost(minimum_spec(wide, keep_ratio=keep, by=("params",))).params
    above = cost(minimum_spec(wide, keep_ratio=keep + 0.01, by=("params",))).params
    assert floor <= AUTO_FLOOR_SHARE * 60_000 < above
    fit = fit_widths(wide, random_scores(wide, 0), max_params=60_000, keep_ratio="auto")
    assert fit.keep_ratio == keep and fit.params <= 60_000
    with pytest.raises(BudgetError) as err:
        fit_widths(wide, random_scores(wide, 0), max_params=1_000, keep_ratio="auto")
    assert err.value.minimum["params"] > 1_000 and err.value.keep_ratio == 0.01
