"""Accuracy-guided LW-DNA (importance = "slimmable"): the greedy rule, the budget, the pipeline on tiny data."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mgsearch.cost import cost
from mgsearch.errors import BudgetError, ConfigError
from mgsearch.shrink import shrink
from mgsearch.shrink.slimmable import SlotConfigurations, greedy_shrink, slot_ladders
from mgsearch.spec import ArchSpec, width_slots

SMALL = {
    "family": "resnet", "in_channels": 3, "num_classes": 3, "input_size": 16, "stem": {"width": 8},
    "stages": [{"width": 8, "blocks": [{"inner": 8}, {"inner": 8}]},
               {"width": 16, "blocks": [{"inner": 16}], "stride": 2}],
}


def small() -> ArchSpec:
    return ArchSpec.from_dict(SMALL)


def params(spec: ArchSpec) -> int:
    return int(cost(spec).params)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    from tests.fixtures.datasets import write_image_folder

    return write_image_folder(tmp_path_factory.mktemp("slimmable-data"))


@pytest.fixture()
def one_thread(monkeypatch):
    """One torch thread: on a shared 2-core machine, two threads per process spin against each other."""
    import torch

    monkeypatch.setenv("MGSEARCH_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def dataset(folder):
    from mgsearch.data import load_dataset

    return load_dataset("imagefolder", folder, val_fraction=0.25)


def test_each_step_removes_the_group_with_the_least_accuracy_loss_per_unit_of_cost():
    """A constructed accuracy: every channel of slot k is worth w[k]; the rule must pick, at every step,
    the trial removal whose (accuracy lost) / (params saved) is the smallest among all slots' trials."""
    parent = small()
    slots = width_slots(parent)
    ladders = slot_ladders(parent, keep_ratio=0.25, min_width=2, metrics=("params",))
    worth = {s.name: 0.001 * (k + 1) ** 2 for k, s in enumerate(slots)}

    def accuracy(spec: ArchSpec) -> float:
        return sum(worth[s.name] * s.value for s in width_slots(spec))

    def score(spec: ArchSpec) -> float:
        return accuracy(spec)

    budget = int(0.6 * params(parent))
    values, steps = greedy_shrink(parent, ladders, score, max_params=budget, group_fraction=0.25)
    assert steps and params(parent.with_slot_values(values)) <= budget
    # replay: at each step recompute every slot's trial and check the chosen one is the argmin
    current = [s.value for s in slots]
    for step in steps:
        now_spec = parent.with_slot_values(current)
        before = accuracy(now_spec)
        ratios = {}
        for i, lad in enumerate(ladders):
            down = [w for w in lad if w < current[i]]
            if not down:
                continue
            target = current[i] - max(1, 0.25 * lad[-1])
            within = [w for w in down if w <= target + 1e-9]
            nxt = within[-1] if within else down[0]
            for w in reversed(down):
                if w < nxt:
                    break
                trial = list(current)
                trial[i] = w
                if params(parent.with_slot_values(trial)) <= budget:
                    nxt = w
                    break
            trial = list(current)
            trial[i] = nxt
            saved = (params(now_spec) - params(parent.with_slot_values(trial))) / budget
            if saved > 0:
                ratios[slots[i].name] = (max(before - accuracy(parent.with_slot_values(trial)), 0) / saved, trial)
        best = min(ratios.values(), key=lambda r: r[0])[0]
        assert ratios[step.slot][0] == pytest.approx(best)
        current = ratios[step.slot][1]
    assert current == values
    # the slot worth least per channel (slot 0) was narrowed first, the most valuable one last (or never)
    assert steps[0].slot == slots[0].name


def test_a_removal_that_costs_nothing_wins_and_the_budget_holds_for_two_limits():
    parent = small()
    slots = width_slots(parent)
    ladders = slot_ladders(parent, keep_ratio=0.25, min_width=2)
    free = slots[-1].name  # narrowing this slot costs no accuracy at all

    full = {s.name: s.value for s in width_slots(parent)}

    def score(spec: ArchSpec) -> float:  # every removed channel costs 0.01, except in the free slot
        return 1.0 - sum(0.01 * (full[s.name] - s.value) for s in width_slots(spec) if s.name != free)

    c = cost(parent)
    values, steps = greedy_shrink(parent, ladders, score, max_params=int(0.8 * c.params),
                                  max_macs=int(0.9 * c.macs), group_fraction=0.1)
    out = parent.with_slot_values(values)
    assert cost(out).params <= 0.8 * c.params and cost(out).macs <= 0.9 * c.macs
    assert steps[0].slot == free and steps[0].loss == 0


def test_a_budget_below_the_smallest_network_is_a_budget_error():
    parent = small()
    ladders = slot_ladders(parent, keep_ratio=0.5, min_width=4)
    with pytest.raises(BudgetError, match="below the smallest network"):
        greedy_shrink(parent, ladders, lambda spec: 0.5, max_params=100)


def test_configurations_stay_on_the_ladders():
    parent = small()
    ladders = slot_ladders(parent, keep_ratio=0.5, min_width=4)
    conf = SlotConfigurations(parent, ladders)
    assert conf.largest == parent
    assert [s.value for s in width_slots(conf.smallest)] == [lad[0] for lad in ladders]
    rng = random.Random(0)
    for _ in range(5):
        values = [s.value for s in width_slots(conf.random(rng))]
        assert all(v in lad for v, lad in zip(values, ladders))


@pytest.mark.slow  # ~9 s under load; tests/cli/test_shrink.py runs the same pipeline through the CLI by default
def test_slimmable_shrink_trains_the_parent_and_meets_the_budget(dataset, one_thread):
    lines: list[str] = []
    base = small()
    result = shrink(base, dataset, widen=2.0, importance="slimmable", max_params=int(0.9 * params(base)),
                    keep_ratio=0.3, epochs=1, batch_size=32, calibration_images=32, val_images=16,
                    group_fraction=0.25, log=lines.append)
    assert result.costs["shrunk"]["params"] <= 0.9 * params(base)
    slim = result.slimmable
    assert slim["epochs"] == 1 and slim["steps"] and slim["configurations_scored"] > len(slim["steps"])
    assert any(line.startswith("supernet epoch 1/1") for line in lines)
    assert sum(line.startswith("slimmable shrink step") for line in lines) == len(slim["steps"])
    assert result.trained is not None and result.extra_cost_epochs > 0
    assert result.importance_seconds == pytest.approx(slim["train_seconds"] + slim["greedy_seconds"])
    json.dumps(result.to_dict())


def test_slimmable_training_may_not_exceed_the_networks_own_epochs(dataset):
    with pytest.raises(ConfigError, match="no more training"):
        shrink(small(), dataset, importance="slimmable", ratio=0.9, epochs=1, slimmable_epochs=2)
