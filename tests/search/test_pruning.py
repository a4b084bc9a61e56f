"""The median pruner sees only trials that trained: infeasible and duplicate trials do not count."""

from __future__ import annotations

import optuna
from optuna.distributions import IntDistribution
from optuna.trial import TrialState, create_trial

from mgsearch.search.pruning import TrainedTrialsOnly
from mgsearch.search.samplers import make_pruner
from mgsearch.study import load_study_config


def study_with(infeasible: int, trained: list[dict[int, float]]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    dist = {"w": IntDistribution(1, 10)}
    for _ in range(infeasible):  # what mgsearch records for an over-budget candidate: complete, no epochs
        study.add_trial(create_trial(value=0.0, params={"w": 1}, distributions=dist, state=TrialState.COMPLETE))
    for curve in trained:
        study.add_trial(create_trial(value=curve[max(curve)], params={"w": 2}, distributions=dist,
                                     intermediate_values=curve, state=TrialState.COMPLETE))
    return study


def running_trial_reporting(study: optuna.Study, acc: float) -> optuna.trial.FrozenTrial:
    trial = study.ask()
    trial.report(acc, 1)
    return study.trials[-1]


def test_infeasible_trials_do_not_start_the_median_pruner():
    study = study_with(infeasible=3, trained=[{1: 0.8, 2: 0.9}])
    frozen = running_trial_reporting(study, 0.5)
    # Optuna's own pruner counts the 3 infeasible trials as its start-up and prunes against one result
    assert bool(optuna.pruners.MedianPruner(n_startup_trials=3).prune(study, frozen)) is True
    assert TrainedTrialsOnly(optuna.pruners.MedianPruner(n_startup_trials=3)).prune(study, frozen) is False


def test_the_wrapped_pruner_still_prunes_below_the_median_of_trained_trials():
    study = study_with(infeasible=4, trained=[{1: a, 2: a + 0.1} for a in (0.6, 0.7, 0.8, 0.85, 0.9)])
    pruner = TrainedTrialsOnly(optuna.pruners.MedianPruner(n_startup_trials=5))
    assert pruner.prune(study, running_trial_reporting(study, 0.75)) is True   # median at epoch 1 is 0.8
    assert pruner.prune(study, running_trial_reporting(study, 0.85)) is False


def test_the_study_files_median_pruner_is_wrapped(write_study):
    pruner = make_pruner(load_study_config(write_study(study='pruner = "median"')))
    assert isinstance(pruner, TrainedTrialsOnly)
    assert isinstance(pruner.inner, optuna.pruners.MedianPruner)


def test_pruned_trials_count_at_the_epochs_they_reached():
    # two finished trials at 0.9 would make 0.7 look bad; the three trials pruned at epoch 1 show
    # that 0.7 is the median of everything that reached epoch 1
    study = study_with(infeasible=0, trained=[{1: 0.9, 2: 0.95}, {1: 0.9, 2: 0.95}])
    dist = {"w": IntDistribution(1, 10)}
    for acc in (0.5, 0.6, 0.7):
        study.add_trial(create_trial(params={"w": 3}, distributions=dist, intermediate_values={1: acc},
                                     state=TrialState.PRUNED))
    frozen = running_trial_reporting(study, 0.75)
    assert bool(optuna.pruners.MedianPruner(n_startup_trials=2).prune(study, frozen)) is True
    assert TrainedTrialsOnly(optuna.pruners.MedianPruner(n_startup_trials=2)).prune(study, frozen) is False


# --------------------------------------------------------------------------- the study's trials, as mgsearch records them
DIST = {"w": IntDistribution(1, 10)}


def add(study: optuna.Study, status: str | None, curve: dict[int, float] | None = None, *,
        state: TrialState = TrialState.COMPLETE, rungs: dict[int, float] | None = None) -> None:
    """One finished trial as the objective leaves it: ``status`` attr, reported epochs, SH rung values."""
    attrs = {"status": status} if status else {}
    if curve:
        attrs["val_history"] = [curve[s] for s in sorted(curve)]
    value = None if state != TrialState.COMPLETE else (curve[max(curve)] if curve else 0.0)
    study.add_trial(create_trial(value=value, params={"w": 2}, distributions=DIST, user_attrs=attrs,
                                 intermediate_values=curve or {}, state=state,
                                 system_attrs={f"completed_rung_{r}": v for r, v in (rungs or {}).items()}))


def test_a_duplicate_of_a_pruned_trial_is_not_counted_twice_by_the_median():
    # the duplicate reports its source's epochs (so a single-objective study prunes it at the same
    # step) but it trained nothing: the median of what trained at epoch 1 is 0.7, not 0.6
    study = optuna.create_study(direction="maximize")
    for acc in (0.9, 0.7):
        add(study, "trained", {1: acc, 2: acc})
    add(study, "pruned", {1: 0.5}, state=TrialState.PRUNED)
    for _ in range(2):
        add(study, "duplicate", {1: 0.5}, state=TrialState.PRUNED)  # duplicates of the pruned trial
    add(study, "infeasible")
    pruner = TrainedTrialsOnly(optuna.pruners.MedianPruner(n_startup_trials=3))
    assert pruner.prune(study, running_trial_reporting(study, 0.65)) is True  # with the copies the median is 0.5
    assert pruner.prune(study, running_trial_reporting(study, 0.75)) is False


def test_a_duplicate_does_not_count_towards_the_median_start_up():
    study = optuna.create_study(direction="maximize")
    add(study, "trained", {1: 0.9, 2: 0.9})
    add(study, "pruned", {1: 0.8}, state=TrialState.PRUNED)
    for _ in range(3):
        add(study, "duplicate", {1: 0.8}, state=TrialState.PRUNED)
    add(study, "infeasible")
    frozen = running_trial_reporting(study, 0.5)
    assert TrainedTrialsOnly(optuna.pruners.MedianPruner(n_startup_trials=3)).prune(study, frozen) is False


def _rung_study(extra: list[tuple[str | None, TrialState, float]]) -> optuna.Study:
    """Five trials that trained epoch 1 (rung 0 values 0.9 .. 0.4), plus ``extra`` (status, state, rung 0 value)."""
    study = optuna.create_study(direction="maximize")
    for acc in (0.9, 0.7, 0.6, 0.5, 0.4):
        add(study, "trained", {1: acc, 2: acc}, rungs={0: acc})
    for status, state, value in extra:
        add(study, status, {1: value} if status != "infeasible" else None, state=state, rungs={0: value})
    for _ in range(3):
        add(study, "infeasible")
    add(study, "duplicate")  # a duplicate of a completed trial: no epochs of its own
    return study


def _sh() -> optuna.pruners.BasePruner:
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)


def test_successive_halving_compares_with_the_trained_trials_only():
    # 6 values at rung 0 with the new one (0.8): the top third (2) go on, 0.8 is second: promoted
    clean = _rung_study([])
    assert bool(_sh().prune(clean, running_trial_reporting(clean, 0.8))) is False
    assert TrainedTrialsOnly(_sh()).prune(clean, running_trial_reporting(clean, 0.8)) is False
    # a trial that failed after epoch 1, and a retry of it that then turned out a duplicate (a retry
    # inherits its failed run's system attrs, rung values included): neither is a trained result
    noisy = _rung_study([("failed", TrialState.FAIL, 0.95), ("duplicate", TrialState.COMPLETE, 0.95)])
    assert bool(_sh().prune(noisy, running_trial_reporting(noisy, 0.8))) is True  # Optuna counts both
    assert TrainedTrialsOnly(_sh()).prune(noisy, running_trial_reporting(noisy, 0.8)) is False
    # and it still prunes what the trained trials beat
    assert TrainedTrialsOnly(_sh()).prune(noisy, running_trial_reporting(noisy, 0.65)) is True


def test_hyperband_brackets_see_the_trained_trials_only():
    from mgsearch.search.pruning import TrainedTrialsHyperband

    # max_resource 2 with factor 3 is one bracket: every trial competes in it, as in the SH test
    noisy = _rung_study([("failed", TrialState.FAIL, 0.95), ("duplicate", TrialState.COMPLETE, 0.95)])
    optuna_hb = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=2, reduction_factor=3)
    assert bool(optuna_hb.prune(noisy, running_trial_reporting(noisy, 0.8))) is True
    ours = TrainedTrialsHyperband(min_resource=1, max_resource=2, reduction_factor=3)
    assert ours.prune(noisy, running_trial_reporting(noisy, 0.8)) is False
    assert ours.prune(noisy, running_trial_reporting(noisy, 0.65)) is True


def test_hyperband_still_shows_the_sampler_every_trial_of_its_bracket():
    from optuna.pruners import _filter_study

    from mgsearch.search.pruning import TrainedTrialsHyperband

    pruner = TrainedTrialsHyperband(min_resource=1, max_resource=2, reduction_factor=3)
    study = _rung_study([("failed", TrialState.FAIL, 0.95)])
    study.pruner = pruner
    frozen = running_trial_reporting(study, 0.8)
    pruner.prune(study, frozen)  # initialises the brackets
    seen = _filter_study(study, frozen).get_trials(deepcopy=False)
    # the sampler learns from infeasible and duplicate trials: they stay in its view of the bracket
    assert sum(t.user_attrs.get("status") == "infeasible" for t in seen) == 3
    assert sum(t.user_attrs.get("status") == "duplicate" for t in seen) == 1


def test_the_study_files_successive_halving_and_hyperband_are_wrapped(write_study):
    from mgsearch.search.pruning import TrainedTrialsHyperband

    sh = make_pruner(load_study_config(write_study(study='pruner = "successive-halving"')))
    assert isinstance(sh, TrainedTrialsOnly) and isinstance(sh.inner, optuna.pruners.SuccessiveHalvingPruner)
    hb = make_pruner(load_study_config(write_study(study='pruner = "hyperband"', fidelity="epochs = 3")))
    assert isinstance(hb, TrainedTrialsHyperband) and isinstance(hb, optuna.pruners.HyperbandPruner)
