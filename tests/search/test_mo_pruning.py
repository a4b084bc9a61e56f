"""The multi-objective pruner (``pruner = "pareto"``): a trial that a cheaper trial beat at the same
epoch by the margin stops; trials that never trained (infeasible, duplicate, failed) do not count."""

from __future__ import annotations

import importlib
import math

import optuna
import pytest
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from mgsearch.errors import ConfigError
from mgsearch.pareto import pareto_front, state_counts
from mgsearch.search import run_search
from mgsearch.search.pruning import ParetoPruner, front_points
from mgsearch.search.samplers import make_front_pruner, make_pruner
from mgsearch.store.records import records_from_trials
from mgsearch.study import load_study_config
from tests.search.conftest import CountingTrain, fake_result

DIST = {"w": IntDistribution(1, 10)}
MO = 'objectives = ["val_acc", "params"]\nsampler = "random"\n'


def mo_study() -> optuna.Study:
    return optuna.create_study(directions=["maximize", "minimize"])


def add(study: optuna.Study, status: str, params: int, history: list[float] | None = None, *,
        state: TrialState = TrialState.COMPLETE, macs: int | None = None) -> None:
    """A finished trial as mgsearch's objective records it in a multi-objective study."""
    attrs: dict = {"status": status, "params": params}
    if macs is not None:
        attrs["macs"] = macs
    if history is not None:
        attrs["val_history"] = history
        attrs["val_acc"] = history[-1]
    acc = history[-1] if history and math.isfinite(history[-1]) else 0.0
    values = [acc, float(params)] + ([float(macs)] if macs is not None else []) if state == TrialState.COMPLETE else None
    study.add_trial(create_trial(values=values, params={"w": 2}, distributions=DIST, user_attrs=attrs, state=state))


def running(study: optuna.Study) -> int:
    return study.ask().number


# --------------------------------------------------------------------------- the rule
def test_a_cheaper_trial_ahead_by_the_margin_stops_a_trial():
    study = mo_study()
    for p, acc in ((1000, 0.80), (2000, 0.60), (3000, 0.65)):
        add(study, "trained", p, [acc, acc + 0.05])
    pruner = ParetoPruner(costs=("params",), margin=0.02, startup_trials=3)
    n = running(study)
    assert pruner.prune(study, n, {"params": 1500}, [0.77]) is True     # #0 is cheaper and 3 points ahead
    assert pruner.prune(study, n, {"params": 1500}, [0.79]) is False    # ahead by 1 point only: within the margin
    assert pruner.prune(study, n, {"params": 900}, [0.50]) is False     # nobody is cheaper: a new front point
    assert pruner.prune(study, n, {"params": 1000}, [0.78]) is True     # equal cost counts as no worse
    # at epoch 2 the reference is each trial's second value
    assert pruner.prune(study, n, {"params": 1500}, [0.90, 0.82]) is True   # #0 has 0.85 at epoch 2
    assert pruner.prune(study, n, {"params": 1500}, [0.90, 0.84]) is False


def test_the_dominator_is_named_and_costlier_trials_never_stop_anyone():
    points = front_points([], ("params",))
    assert points == []
    study = mo_study()
    add(study, "trained", 5000, [0.95, 0.96])
    add(study, "trained", 2000, [0.70, 0.75])
    add(study, "trained", 1000, [0.72, 0.74])
    pruner = ParetoPruner(costs=("params",), margin=0.01, startup_trials=1)
    points = front_points(study.get_trials(), ("params",))
    assert pruner.dominator(points, {"params": 3000}, [0.60]) == 1   # #1 and #2 beat it: the earliest is named
    assert pruner.dominator(points, {"params": 4000}, [0.71]) == 2   # #2 is ahead by exactly the margin, #1 is not
    assert pruner.dominator(points, {"params": 4999}, [0.94]) is None  # only #0 beats it, and #0 costs more


def test_every_cost_objective_must_be_no_worse():
    study = optuna.create_study(directions=["maximize", "minimize", "minimize"])
    add(study, "trained", 1000, [0.9], macs=90_000)
    pruner = ParetoPruner(costs=("params", "macs"), margin=0.01, startup_trials=1)
    n = running(study)
    assert pruner.prune(study, n, {"params": 2000, "macs": 100_000}, [0.5]) is True
    assert pruner.prune(study, n, {"params": 2000, "macs": 80_000}, [0.5]) is False  # fewer MACs: not dominated
    assert pruner.prune(study, n, {"params": 2000}, [0.5]) is False  # a cost it cannot judge: never pruned


def test_infeasible_duplicate_and_failed_trials_do_not_count():
    study = mo_study()
    add(study, "trained", 1000, [0.9, 0.9])
    for _ in range(3):
        add(study, "infeasible", 800)                           # over budget: no epochs
        add(study, "duplicate", 1000, [0.9, 0.9])               # copies of #0's result
    add(study, "failed", 500, [0.95], state=TrialState.FAIL)     # trained an epoch, then failed
    add(study, "diverged", 1200, [0.2])                         # trained an epoch itself: it counts
    pruner = ParetoPruner(costs=("params",), margin=0.01, startup_trials=3)
    n = running(study)
    # the start-up needs 3 trials that trained epoch 1: #0 and the diverged one are 2 of them
    assert pruner.prune(study, n, {"params": 2000}, [0.5]) is False
    # the failed trial (cheaper, better) does not stop anyone either, even without a start-up
    assert ParetoPruner(costs=("params",), margin=0.01, startup_trials=1).prune(
        study, n, {"params": 900}, [0.5]) is False
    add(study, "trained", 3000, [0.4, 0.5])
    assert pruner.prune(study, n, {"params": 2000}, [0.5]) is True  # now 3 trained trials reached epoch 1
    # at epoch 2 only #0 and the new trial reached it
    assert pruner.prune(study, n, {"params": 2000}, [0.5, 0.5]) is False


def test_a_pruned_trial_counts_at_the_epochs_it_reached():
    study = mo_study()
    add(study, "trained", 3000, [0.5, 0.6, 0.7])
    add(study, "pruned", 1000, [0.8], state=TrialState.PRUNED)
    add(study, "duplicate", 1000, [0.8], state=TrialState.PRUNED)  # a duplicate of the pruned trial
    pruner = ParetoPruner(costs=("params",), margin=0.01, startup_trials=2)
    n = running(study)
    assert pruner.prune(study, n, {"params": 2000}, [0.7]) is True          # #1 at epoch 1
    assert pruner.prune(study, n, {"params": 2000}, [0.7, 0.5]) is False    # #1 never reached epoch 2
    assert pruner.dominator(front_points(study.get_trials(), ("params",)), {"params": 2000}, [0.7]) == 1


def test_a_trial_never_counts_against_itself_or_with_a_broken_history():
    study = mo_study()
    add(study, "trained", 1000, [0.9])
    add(study, "trained", 1000, [math.nan])
    add(study, "trained", 900)  # no history stored
    assert [p.number for p in front_points(study.get_trials(), ("params",))] == [0]
    assert front_points(study.get_trials(), ("params",), exclude=0) == []


# --------------------------------------------------------------------------- the study file
def test_the_study_file_configures_the_pareto_pruner(write_study):
    config = load_study_config(write_study(study=MO + 'pruner = "pareto"',
                                           extra="[pruning]\nmargin = 0.03\nstartup_trials = 2"))
    assert (config.pruner, config.pruning_margin, config.pruning_startup_trials) == ("pareto", 0.03, 2)
    assert config.to_dict()["pruning"] == {"margin": 0.03, "startup_trials": 2}
    assert make_front_pruner(config) == ParetoPruner(costs=("params",), margin=0.03, startup_trials=2)
    assert isinstance(make_pruner(config), optuna.pruners.NopPruner)
    defaults = load_study_config(write_study(study=MO + 'pruner = "pareto"'))
    assert (defaults.pruning_margin, defaults.pruning_startup_trials) == (0.01, 5)
    # other studies store no [pruning] table (their stored configs stay what they were)
    plain = load_study_config(write_study(study=MO))
    assert plain.pruner == "none" and "pruning" not in plain.to_dict() and make_front_pruner(plain) is None


@pytest.mark.parametrize("study, extra, pattern", [
    ('pruner = "pareto"', "", r"study.pruner='pareto' is not allowed: .*several objectives"),
    (MO + 'pruner = "median"', "", r"study.pruner='median' is not allowed: 'none' or 'pareto' with several objectives"),
    (MO + 'pruner = "pareto"', "[pruning]\nmargin = -0.1", r"pruning.margin=-0.1 is not allowed: a number in \[0, 1\)"),
    (MO + 'pruner = "pareto"', '[pruning]\nmargin = "lots"', r"pruning.margin='lots' is not allowed"),
    (MO + 'pruner = "pareto"', "[pruning]\nstartup_trials = 0", r"pruning.startup_trials=0 is not allowed: an integer in 1..10000"),
    (MO + 'pruner = "pareto"', "[pruning]\nmargins = 0.1", r"pruning.margins is not a known key; allowed: margin, startup_trials"),
    (MO, "[pruning]\nmargin = 0.1", r"\[pruning\] applies to pruner = \"pareto\" only .*study.pruner='none'"),
])
def test_bad_pruning_settings_are_one_clear_line(write_study, study, extra, pattern):
    with pytest.raises(ConfigError, match=pattern) as err:
        load_study_config(write_study(study=study, extra=extra))
    assert "\n" not in str(err.value) and "s.toml" in str(err.value)


# --------------------------------------------------------------------------- searches
def test_a_multi_objective_search_prunes_the_dominated_trials(write_study, monkeypatch):
    # accuracy falls with params: after the start-up every costlier candidate is beaten by a cheaper one
    def fake_train(spec, dataset, *, fidelity, on_epoch, **kwargs):
        from mgsearch.cost import cost

        acc = 0.9 - cost(spec).params / 1e5
        for epoch in range(1, fidelity.epochs + 1):
            on_epoch(epoch, acc)
        return fake_result(acc, fidelity.epochs)

    calls = CountingTrain(fake_train)
    monkeypatch.setattr(importlib.import_module("mgsearch.train"), "train", calls)
    config = load_study_config(write_study(
        study=MO + 'n_trials = 8\npruner = "pareto"', budget="max_params = 4000",
        fidelity="epochs = 3\nbatch_size = 32", extra="[pruning]\nmargin = 0.0\nstartup_trials = 2"))
    run_search(config, progress=False)
    trials = optuna.load_study(study_name="s", storage=config.storage).get_trials()
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.user_attrs["status"] == "pruned"]
    assert pruned, [t.user_attrs.get("status") for t in trials]
    for t in pruned:  # stopped after epoch 1, by a trial that trained and costs no more
        assert t.user_attrs["val_history"] == [pytest.approx(0.9 - t.user_attrs["params"] / 1e5)]
        beaten_by = [o for o in trials if o.number < t.number and o.user_attrs.get("status") in ("trained", "pruned")
                     and o.user_attrs["params"] <= t.user_attrs["params"]]
        assert len([o for o in trials if o.number < t.number and o.user_attrs.get("status") in ("trained", "pruned")]) >= 2
        assert beaten_by
    for t in trials:
        if t.user_attrs.get("status") == "trained":
            assert len(t.user_attrs["val_history"]) == 3
    # the report reads them: counted as pruned, drawn at their last epoch, never on the front
    records = records_from_trials(trials)
    assert state_counts(records)["pruned"] == len(pruned)
    assert all(r.last_report == r.val_acc for r in records if r.status == "pruned")
    assert not {r.number for r in pareto_front(records)} & {t.number for t in pruned}


@pytest.mark.slow  # about 10 s on the shared 2-core machine
def test_a_tiny_real_multi_objective_search_with_pruning(write_study):
    """End to end: real training on the micro image folder, Optuna's TPE, infeasible trials in the study
    (two epochs on the tiny folder stay near chance, so with margin 0 a costlier trial is stopped)."""
    config = load_study_config(write_study(
        study='objectives = ["val_acc", "params"]\nsampler = "tpe"\nn_trials = 8\npruner = "pareto"\nseed = 3',
        budget="max_params = 3000", fidelity="epochs = 2\nbatch_size = 32",
        extra="[pruning]\nmargin = 0.0\nstartup_trials = 1"))
    result = run_search(config, progress=False)
    trials = optuna.load_study(study_name="s", storage=config.storage).get_trials()
    assert result.n_trials == 8 and len(trials) == 8
    statuses = [t.user_attrs.get("status") for t in trials]
    assert set(statuses) <= {"trained", "pruned", "infeasible", "duplicate"}, statuses
    pruner = make_front_pruner(config)
    for t in trials:
        status = t.user_attrs["status"]
        assert (t.state == TrialState.PRUNED) == (status == "pruned" or (status == "duplicate" and t.values is None))
        if status == "pruned":
            # the stored history shows the rule held when it stopped, against the trials finished before it
            history = t.user_attrs["val_history"]
            assert len(history) == 1
            earlier = front_points([o for o in trials if o.number < t.number], ("params",))
            assert pruner.dominator(earlier, t.user_attrs, history) is not None
        if status == "trained":
            assert len(t.user_attrs["val_history"]) == 2 and t.values is not None
    records = records_from_trials(trials)
    assert sum(state_counts(records).values()) == 8
    assert "pruned" in statuses and "infeasible" in statuses, statuses
