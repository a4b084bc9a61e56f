"""Optuna samplers and pruners by name, seeded, with settings that suit short budgeted searches."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    import optuna

    from mgsearch.search.pruning import ParetoPruner

__all__ = ["make_sampler", "make_pruner", "make_front_pruner", "seed_per_trial", "trial_seed"]


def make_sampler(config: StudyConfig, seed: int) -> "optuna.samplers.BaseSampler":
    """The study's sampler seeded with ``seed`` (constraints are read from ``trial.set_constraint``).

    TPE is multivariate with the constant liar (several workers do not pile onto one point) and
    starts from ``min(10, n_trials // 3)`` random trials (at least 2). Before each trial the
    sampler's random state is reseeded from ``(seed, trial number)`` (:func:`seed_per_trial`).
    """
    return seed_per_trial(_make_sampler(config, seed), seed)


def trial_seed(seed: int, number: int) -> int:
    """The random seed of trial ``number`` in a study seeded with ``seed`` (32 bits)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{number}".encode()).digest()[:4], "big")


def seed_per_trial(sampler: "optuna.samplers.BaseSampler", seed: int) -> "optuna.samplers.BaseSampler":
    """Reseed ``sampler``'s random states from :func:`trial_seed` before every trial.

    Trial numbers are unique in a study, so two processes that start together with the same seed
    (two ``search`` commands, or workers) draw different candidates, while one process replays the
    same draws for the same history: runs stay reproducible.
    """
    original = sampler.before_trial

    def before_trial(study: "optuna.Study", trial: "optuna.trial.FrozenTrial") -> None:
        _reseed(sampler, trial_seed(seed, trial.number), set())
        original(study, trial)

    sampler.before_trial = before_trial  # type: ignore[method-assign]
    return sampler


def _reseed(obj: Any, seed: int, seen: set[int]) -> None:
    """Seed every random state of a sampler and of the samplers it holds (Optuna keeps them in
    ``LazyRandomState`` / ``RandomState`` attributes)."""
    import numpy as np
    import optuna
    from optuna.samplers._lazy_random_state import LazyRandomState

    seen.add(id(obj))
    for value in vars(obj).values():
        if isinstance(value, LazyRandomState):
            value.rng.seed(seed)
        elif isinstance(value, np.random.RandomState):
            value.seed(seed)
        elif isinstance(value, optuna.samplers.BaseSampler) and id(value) not in seen:
            _reseed(value, seed, seen)


def _make_sampler(config: StudyConfig, seed: int) -> "optuna.samplers.BaseSampler":
    """The sampler named by the study file, seeded with ``seed``."""
    import warnings

    import optuna

    n = config.n_trials or 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if config.sampler == "tpe":
            return optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=True, constant_liar=True,
                n_startup_trials=max(2, min(10, n // 3)),
            )
        if config.sampler == "random":
            return optuna.samplers.RandomSampler(seed=seed)
        if config.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, n // 4)))
        if config.sampler == "gp":
            return optuna.samplers.GPSampler(
                seed=seed, n_startup_trials=max(2, min(10, n // 3)), warn_independent_sampling=False
            )
        if config.sampler == "qmc":
            return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    raise ValueError(f"unknown sampler {config.sampler!r}")  # the study file validation prevents this


def make_pruner(config: StudyConfig) -> "optuna.pruners.BasePruner":
    """The study's Optuna pruner; steps are epochs 1..epochs. Each sees only the trials that trained
    (:mod:`mgsearch.search.pruning`). Multi-objective studies get none from Optuna (their pruner is
    :func:`make_front_pruner`'s)."""
    import optuna

    from mgsearch.search.pruning import TrainedTrialsHyperband, TrainedTrialsOnly

    if config.multi_objective or config.pruner in ("none", "pareto"):
        return optuna.pruners.NopPruner()
    epochs = config.epochs
    if config.pruner == "hyperband":
        return TrainedTrialsHyperband(min_resource=1, max_resource=epochs, reduction_factor=3)
    if config.pruner == "successive-halving":
        return TrainedTrialsOnly(optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3))
    if config.pruner == "median":
        return TrainedTrialsOnly(optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0))
    raise ValueError(f"unknown pruner {config.pruner!r}")


def make_front_pruner(config: StudyConfig) -> "ParetoPruner | None":
    """The multi-objective study's pruner (``pruner = "pareto"`` with its ``[pruning]`` settings), or None."""
    if not config.multi_objective or config.pruner != "pareto":
        return None
    from mgsearch.search.pruning import ParetoPruner

    return ParetoPruner(costs=tuple(config.objectives[1:]), margin=config.pruning_margin,
                        startup_trials=config.pruning_startup_trials)
