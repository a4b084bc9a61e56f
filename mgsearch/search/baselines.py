"""The baselines a user would really build, at the budget: ``mgsearch baseline``.

Each baseline is a candidate of the registered ``baseline`` strategy
(:mod:`mgsearch.strategies.uniform`): per budget fraction ``size`` (``[baselines] sizes``, default
``[1.0]``) and per kind the space offers (:func:`mgsearch.strategies.uniform.reference_networks`:
``dense-resnet``, the He et al. CIFAR ResNet with the space's stage count and depths; a family's own
references; ``uniform``, the space's middle structure with the 1/2/4 stage width profile), the network
scaled onto ``size x`` the analytic limits and filled to at least 97 % of the binding one where the
widths' steps allow. The baselines are trained at the study's protocol (fidelity, recipe, seed)
through the objective's public training path
(:meth:`~mgsearch.search.objective.Objective.train_trial`), and stored as the study
``<name>.baselines`` in the same database, each trial labelled in ONE attribute,
``baseline_name`` (:data:`BASELINE_LABEL_ATTR`: ``dense-resnet@budget``, ``uniform@budget``,
``uniform@0.5x``, ...), with ``strategy = "baseline"`` and its ``budget_use``.
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

__all__ = ["baseline_candidates", "baseline_specs", "baseline_kinds", "run_baselines", "baseline_study_name",
           "BASELINE_STRATEGY", "BASELINE_LABEL_ATTR"]

#: the registered strategy that proposes the baselines (settings: ``{"size": budget fraction, "kind": label}``);
#: also the ``strategy`` attribute of every baseline trial
BASELINE_STRATEGY = "baseline"
#: the one trial attribute holding a baseline's label (``uniform@budget``, ``dense-resnet@0.5x``, ...)
BASELINE_LABEL_ATTR = "baseline_name"


def baseline_study_name(config: StudyConfig) -> str:
    """``<study name>.baselines`` (:func:`mgsearch.store.records.baselines_study_name`)."""
    from mgsearch.store.records import baselines_study_name

    return baselines_study_name(config.name)


def baseline_kinds(space: "SearchSpace") -> list[str]:
    """The baseline kinds ``space`` offers, in training order (``dense-resnet``, ..., ``uniform``):
    the ``baseline`` strategy's :meth:`~mgsearch.strategies.uniform.BaselineStrategy.kinds`."""
    from mgsearch.strategies import get_strategy

    return get_strategy(BASELINE_STRATEGY).kinds(space)


def baseline_candidates(space: "SearchSpace", budget: Budget, sizes: Sequence[float] = (1.0,),
                        kinds: Sequence[str] | None = None) -> list["Candidate"]:
    """One candidate per size (ascending) and kind (default: every kind of :func:`baseline_kinds`),
    each with its ``baseline_name`` attribute.

    Candidates that round to a network already listed are kept once (the first label: for a dense
    ResNet space ``dense-resnet`` and ``uniform`` are the same network); sizes that not even the
    narrowest network of a kind fits are left out. :class:`BudgetError` when the budget has neither
    params nor MACs, or when nothing fits (the message names the largest size).
    """
    from mgsearch.strategies import StrategyContext, get_strategy

    strategy = get_strategy(BASELINE_STRATEGY)
    base = StrategyContext(space=space, limits=dict(budget.limits), fits=budget_check(budget), source="baselines")
    out: list["Candidate"] = []
    seen: set[str] = set()
    error: BudgetError | None = None
    for size in sorted(sizes):
        for kind in kinds or baseline_kinds(space):
            settings = strategy.parse_settings({"size": size, "kind": kind}, source="baselines")
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


def baseline_specs(space: "SearchSpace", budget: Budget, sizes: Sequence[float] = (1.0,),
                   kinds: Sequence[str] | None = None) -> list[tuple[str, ArchSpec]]:
    """``[(baseline_name, spec)]`` of :func:`baseline_candidates`."""
    return [(c.attrs[BASELINE_LABEL_ATTR], c.spec) for c in baseline_candidates(space, budget, sizes, kinds)]


def run_baselines(
    config: StudyConfig,
    *,
    sizes: Sequence[float] | None = None,
    progress: bool = True,
    verbose: bool = False,
    train_fn: Callable[..., Any] | None = None,
    prepared: tuple[Any, "SearchSpace", str] | None = None,
) -> list[dict[str, Any]]:
    """Train the baselines (skipping those already trained) into ``<name>.baselines``.

    Returns one row per baseline: ``baseline_name``, ``trial``, ``status``, ``val_acc``, ``params``,
    ``macs``, ``budget_use`` (the share of the binding analytic limit of the study's budget).
    """
    import optuna

    from mgsearch.cost import cost
    from mgsearch.search.objective import Objective
    from mgsearch.search.runner import open_study, prepare, quiet_optuna
    from mgsearch.store import DatabaseWatch, check_url, open_storage
    from mgsearch.store.records import candidate_attrs

    check_url(config.storage)  # in-memory, unparseable: refused before any data is loaded
    quiet_optuna(verbose)
    # the study's own config with the baselines' protocol; "direct" and fill_budget=false are what the
    # stored config of <name>.baselines has always said (a resumed one must match), the trials store
    # their own strategy, "baseline", and are fitted by it
    base_config = config.replace(pruner="none", objectives=("val_acc",), repair=False, strategy="direct",
                                 fill_budget=False)
    storage = open_storage(config.storage, heartbeat_interval=None, grace_period=None)  # ask/tell: no heartbeat
    database = DatabaseWatch(config.storage, storage)
    dataset, space, device = prepared or prepare(config)
    budget = Budget.from_config(config)
    candidates = baseline_candidates(space, budget, sizes or config.baseline_sizes)
    study = open_study(storage, base_config, dataset, create=True, seed=config.seed, name=baseline_study_name(config))
    done = {(t.user_attrs.get(BASELINE_LABEL_ATTR), t.user_attrs.get("spec_hash")): t
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
            spec, name = candidate.spec, candidate.attrs[BASELINE_LABEL_ATTR]
            database.check()  # the file is still the one opened (not deleted or replaced)
            c = cost(spec)
            earlier = done.get((name, spec.hash))
            if earlier is None:
                t0 = time.perf_counter()
                trial = study.ask()
                constraints = budget.analytic_constraints(c, spec)
                for key, value in constraints.items():
                    trial.set_constraint(key, value)
                attrs = {"strategy": BASELINE_STRATEGY, **candidate.trial_attrs(),
                         **candidate_attrs(spec, c, constraints, budget.names)}
                use = budget.use(c, spec)
                if use is not None:
                    attrs["budget_use"] = use
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
                         "params": c.params, "macs": c.macs, "budget_use": budget.use(c, spec)})
            if bar is not None:
                bar.update(1)
            elif lines:
                use = rows[-1]["budget_use"]
                print(f"baseline {name} (trial {number}) {row_status}: val_acc {row_acc:.4f}, {c.params:,} params, "
                      f"{c.macs:,} MACs" + (f", {use:.1%} of the budget" if use is not None else "")
                      + f" | {len(rows)}/{len(candidates)}", file=sys.stderr, flush=True)
    finally:
        if bar is not None:
            bar.close()
    database.check()
    return rows
