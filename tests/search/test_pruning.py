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
