"""Uniform-width baselines: the study family's reference network scaled to several sizes around the budget.

Each baseline is a candidate of the registered ``uniform`` strategy
(:mod:`mgsearch.strategies.uniform`: the space's middle network with the 1/2/4 stage width profile,
scaled by :func:`mgsearch.fitting.scale_to_budget` to ``size x`` the budget, params when
``max_params`` is set, else MACs). The baselines are trained at the study's fidelity with the same
recipe and seed, through the objective's public training path
(:meth:`~mgsearch.search.objective.Objective.train_trial`), and stored as the study
``<name>.baselines`` in the same database, with ``baseline_name`` (e.g. ``uniform-1x``) on each trial.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

from mgsearch.errors import BudgetError
from mgsearch.search.budget import Budget, budget_check
from mgsearch.spec import ArchSpec
from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    from mgsearch.space import SearchSpace
    from mgsearch.strategies import Candidate

__all__ = ["baseline_candidates", "baseline_specs", "run_baselines", "baseline_study_name", "BASELINE_STRATEGY"]

#: the registered strategy that proposes the baselines (settings: ``{"size": fraction of the budget}``)
BASELINE_STRATEGY = "uniform"


def baseline_study_name(config: StudyConfig) -> str:
    """``<study name>.baselines`` (:func:`mgsearch.store.records.baselines_study_name`)."""
    from mgsearch.store.records import baselines_study_name

    return baselines_study_name(config.name)


def baseline_candidates(space: "SearchSpace", budget: Budget, sizes: Sequence[float]) -> list["Candidate"]:
    """One candidate per size (ascending), each with its ``baseline_name`` attribute.

    Sizes whose targets round to the same network are kept once; sizes that not even the narrowest
    uniform network fits are left out. :class:`BudgetError` when the budget has neither params nor
    MACs, or when no size fits (the message names the largest size).
    """
    from mgsearch.strategies import StrategyContext, get_strategy

    strategy = get_strategy(BASELINE_STRATEGY)
    base = StrategyContext(space=space, limits=dict(budget.limits), fits=budget_check(budget), source="baselines")
    out: list["Candidate"] = []
    seen: set[str] = set()
    error: BudgetError | None = None
    for size in sorted(sizes):
        settings = strategy.parse_settings({"size": size}, source="baselines")
        context = dataclasses.replace(base, settings=settings)
        try:
            candidate = strategy.propose(None, context)
        except BudgetError as exc:
            error = exc
            continue
        if candidate.spec.hash not in seen:
            seen.add(candidate.spec.hash)
            out.append(candidate)
    if not out:
        raise error or BudgetError("no baseline sizes given")
    return out


def baseline_specs(space: "SearchSpace", budget: Budget, sizes: Sequence[float]) -> list[tuple[str, ArchSpec]]:
    """``[(baseline_name, spec)]``: the largest uniform network within ``size x`` the budget, per size
    (see :func:`baseline_candidates`)."""
    return [(c.attrs["baseline_name"], c.spec) for c in baseline_candidates(space, budget, sizes)]


def run_baselines(
    config: StudyConfig,
    *,
    sizes: Sequence[float] | None = None,
    progress: bool = True,
    verbose: bool = False,
    train_fn: Callable[..., Any] | None = None,
    prepared: tuple[Any, "SearchSpace", str] | None = None,
) -> list[dict[str, Any]]:
    """Train the uniform baselines (skipping those already trained) into ``<name>.baselines``.

    Returns one row per baseline: ``baseline_name``, ``trial``, ``status``, ``val_acc``, ``params``, ``macs``.
    """
    import optuna

    from mgsearch.cost import cost
    from mgsearch.search.objective import Objective
    from mgsearch.search.runner import open_study, prepare, quiet_optuna
    from mgsearch.store import DatabaseWatch, check_url, open_storage
    from mgsearch.store.records import candidate_attrs

    check_url(config.storage)  # in-memory, unparseable: refused before any data is loaded
    quiet_optuna(verbose)
    base_config = config.replace(pruner="none", objectives=("val_acc",), repair=False, strategy="direct")
    storage = open_storage(config.storage, heartbeat_interval=None, grace_period=None)  # ask/tell: no heartbeat
    database = DatabaseWatch(config.storage, storage)
    dataset, space, device = prepared or prepare(config)
    budget = Budget.from_config(config)
    candidates = baseline_candidates(space, budget, sizes or config.baseline_sizes)
    study = open_study(storage, base_config, dataset, create=True, seed=config.seed, name=baseline_study_name(config))
    done = {(t.user_attrs.get("baseline_name"), t.user_attrs.get("spec_hash")): t
            for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if t.user_attrs.get("status") in ("trained", "diverged")}
    objective = Objective(config=base_config, space=space, dataset=dataset, device=device, train_fn=train_fn)
    rows = []
    bar = None
    lines = progress and not sys.stderr.isatty()  # off a terminal: a plain line per baseline, no escapes
    if progress and not lines:
        from tqdm import tqdm

        bar = tqdm(total=len(candidates), desc=f"{config.name} baselines", unit="net", file=sys.stderr)
    try:
        for candidate in candidates:
            spec, name = candidate.spec, candidate.attrs["baseline_name"]
            database.check()  # the file is still the one opened (not deleted or replaced)
            c = cost(spec)
            earlier = done.get((name, spec.hash))
            if earlier is None:
                t0 = time.perf_counter()
                trial = study.ask()
                constraints = budget.analytic_constraints(c, spec)
                for key, value in constraints.items():
                    trial.set_constraint(key, value)
                # baseline trials keep the stored strategy "direct" of the storage contract
                attrs = {"strategy": base_config.strategy, **candidate.trial_attrs(),
                         **candidate_attrs(spec, c, constraints, budget.names)}
                try:
                    value = objective.train_trial(trial, spec, attrs, t0)
                except BaseException:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    raise
                study.tell(trial, value)
                row_acc, row_status, number = float(value), trial.user_attrs.get("status"), trial.number
            else:
                row_acc, row_status, number = float(earlier.user_attrs["val_acc"]), earlier.user_attrs["status"], earlier.number
            rows.append({"baseline_name": name, "trial": number, "status": row_status, "val_acc": row_acc,
                         "params": c.params, "macs": c.macs})
            if bar is not None:
                bar.update(1)
            elif lines:
                print(f"baseline {name} (trial {number}) {row_status}: val_acc {row_acc:.4f}, {c.params:,} params, "
                      f"{c.macs:,} MACs | {len(rows)}/{len(candidates)}", file=sys.stderr, flush=True)
    finally:
        if bar is not None:
            bar.close()
    database.check()
    return rows
