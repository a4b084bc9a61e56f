"""``mgsearch calibrate``: does the search's cheap score rank architectures the way the final protocol does?

``n`` candidates are drawn from the study's space (knob by knob, uniformly, seeded by the study's
seed) and each is fitted to the budget with the search's own :func:`mgsearch.search.budget.fit_to_budget`
(:func:`mgsearch.fitting.scale_to_budget` with ``grow=True``, filled slot by slot towards the binding
limit, as ``fill_budget`` candidates are), keeping distinct specs.
Each candidate is trained twice from scratch with the study's seed: at the search fidelity (its
validation accuracy is the score the search ranks by) and at the confirm protocol (test accuracy,
measured once at the end). :func:`mgsearch.evidence.calibration` then gives Spearman's rho and
Kendall's tau-b with 95 % bootstrap intervals and the top-k overlap, and, where ``mgsearch confirm``
trained networks with several seeds at the same protocol (``<name>.confirm``), the noise ceiling: the
Kendall's tau a perfect score would reach against these one-seed accuracies. The runs are stored in
``<name>.calibrate`` (``role`` ``search`` or ``confirm``, ``source_trial`` = the candidate's index)
and resume as :mod:`mgsearch.search.retrain` describes; a candidate already stored keeps its spec.

A study whose strategy scores candidates without training them (its
:meth:`~mgsearch.strategies.Strategy.score_fidelity` is not None; the built-in ``oneshot``: on a
supernet) ranks by that score, so that is its cheap side here: each candidate is proposed by the
strategy itself from a seeded random chooser (:func:`scored_calibration_candidates`; fitted within its
``parent`` where the strategy says ``fit_within_parent``, as the search fits it) and evaluated with the
strategy's :meth:`~mgsearch.strategies.Strategy.score` exactly as a search trial is (oneshot: the same
supernet file, trained once when missing and shared with the search); the run stores that score's
protocol (``score_fidelity``) and the candidate's attributes (oneshot: its ``supernet``). The confirm
side is unchanged: each candidate trained alone from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from mgsearch.errors import BudgetError, ConfigError
from mgsearch.evidence import Calibration, calibration, calibration_pairs, protocol_noise
from mgsearch.search.budget import Budget, budget_check, fit_to_budget
from mgsearch.search.confirm import confirm_protocol
from mgsearch.search.retrain import PlannedRun, run_planned, study_protocol
from mgsearch.spec import ArchSpec
from mgsearch.store.records import calibrate_study_name, confirm_study_name
from mgsearch.store.runs import RunRecord
from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    from mgsearch.space import SearchSpace
    from mgsearch.strategies import Candidate, Strategy, StrategyContext

__all__ = ["CalibrateResult", "calibration_candidates", "scored_calibration_candidates", "run_calibrate",
           "DRAWS_PER_CANDIDATE"]

#: draws from the space per wanted candidate before giving up on finding enough distinct fitted specs
DRAWS_PER_CANDIDATE = 50


def calibration_candidates(space: "SearchSpace", budget: Budget, n: int, seed: int) -> list[ArchSpec]:
    """``n`` distinct candidates of ``space`` fitted to ``budget`` (see the module docstring); a budget
    without an analytic limit keeps the sampled specs as they are. :class:`BudgetError` when the space
    gives fewer than ``n`` distinct candidates within the budget."""
    from mgsearch.metrics import ANALYTIC, get_metric

    fits = budget_check(budget)
    fit = any(get_metric(name).kind == ANALYTIC for name in budget.limits)
    out: list[ArchSpec] = []
    seen: set[str] = set()
    draws = DRAWS_PER_CANDIDATE * n
    for spec in space.sample(draws, seed=seed):
        fitted = fit_to_budget(spec, budget) if fit else spec
        if fitted is None or not fits(fitted) or fitted.hash in seen:
            continue
        seen.add(fitted.hash)
        out.append(fitted)
        if len(out) == n:
            return out
    raise BudgetError(f"the space gives only {len(out)} distinct candidates within the budget in {draws} draws; "
                      f"ask for fewer (--n {max(3, len(out))}) or widen the space")


def scored_calibration_candidates(strategy: "Strategy", context: "StrategyContext", budget: Budget, n: int,
                                  seed: int) -> list["Candidate"]:
    """``n`` candidates with distinct specs for a strategy that scores without training: each proposed
    by ``strategy`` from a random chooser (one :class:`random.Random` seeded with ``seed``, knob by knob
    uniformly) and fitted to ``budget`` as the search fits it (within the candidate's ``parent`` where
    ``strategy.fit_within_parent``). :class:`BudgetError` when fewer than ``n`` come out."""
    import dataclasses
    import random

    from mgsearch.metrics import ANALYTIC, get_metric
    from mgsearch.space.choosers import RandomChooser

    fits = budget_check(budget)
    fit = any(get_metric(name).kind == ANALYTIC for name in budget.limits)
    rng = random.Random(seed)
    out: list[Candidate] = []
    seen: set[str] = set()
    draws = DRAWS_PER_CANDIDATE * n
    for _ in range(draws):
        candidate = strategy.propose(RandomChooser(rng), context)
        ceiling = candidate.parent if strategy.fit_within_parent else None
        fitted = fit_to_budget(candidate.spec, budget, ceiling=ceiling) if fit else candidate.spec
        if fitted is None or not fits(fitted) or fitted.hash in seen:
            continue
        seen.add(fitted.hash)
        out.append(dataclasses.replace(candidate, spec=fitted))
        if len(out) == n:
            return out
    raise BudgetError(f"the space gives only {len(out)} distinct candidates within the budget in {draws} draws; "
                      f"ask for fewer (--n {max(3, len(out))}) or widen the space")


def _scored_plan(config: StudyConfig, strategy: "Strategy", context: "StrategyContext", n: int,
                 stored: dict[int, ArchSpec]) -> list[tuple[ArchSpec, dict[str, Any], Callable[[ArchSpec], Any]]]:
    """The candidates of a study whose strategy scores without training: (spec, the candidate's
    attributes, its scorer) each; a candidate stored earlier keeps its spec."""
    drawn = scored_calibration_candidates(strategy, context, Budget.from_config(config), n, config.seed)
    by_hash = {c.spec.hash: c for c in drawn}
    used = {s.hash for s in stored.values()}
    fresh = iter(c for c in drawn if c.spec.hash not in used)
    plan = []
    for i in range(n):
        if i in stored:
            candidate = by_hash.get(stored[i].hash)
            if candidate is None:
                raise ConfigError(f"calibrate {config.name}: candidate {i} stored earlier "
                                  f"({stored[i].short_hash}) is no longer drawn from this space, so how to score "
                                  f"it is unknown; calibrate under another --name")
        else:
            candidate = next(fresh, drawn[i])
        attrs = dict(candidate.attrs)
        plan.append((candidate.spec, attrs,
                     lambda spec, attrs=attrs: strategy.score(spec, attrs, context)))
    return plan


@dataclass
class CalibrateResult:
    """What a calibrate call left in ``<name>.calibrate``: the runs of its plan and their rank agreement."""

    study_name: str
    storage: str
    search_protocol: dict[str, Any]
    confirm_protocol: dict[str, Any]
    runs: list[RunRecord]
    calibration: Calibration

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study_name, "storage": self.storage, "search_protocol": self.search_protocol,
                "confirm_protocol": self.confirm_protocol, "runs": len(self.runs), **self.calibration.to_dict()}


def _stored_runs(config: StudyConfig, name: str) -> list[RunRecord]:
    """The runs stored in the derived study ``name`` of ``config``'s storage ([] when it has none)."""
    import optuna

    from mgsearch.store import open_storage
    from mgsearch.store.runs import runs_from_trials

    storage = open_storage(config.storage, heartbeat_interval=None, grace_period=None)
    if name not in optuna.get_all_study_names(storage):
        return []
    return runs_from_trials(optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False))


def _stored_specs(config: StudyConfig) -> dict[int, ArchSpec]:
    """Candidate index -> the spec its earliest stored run used (an existing calibrate study keeps its
    candidates even where sampling or fitting would now draw others)."""
    out: dict[int, ArchSpec] = {}
    for r in _stored_runs(config, calibrate_study_name(config.name)):
        if r.source_trial is not None and r.source_trial not in out and r.spec_json:
            out[r.source_trial] = ArchSpec.from_json(r.spec_json)
    return out


def run_calibrate(
    config: StudyConfig,
    *,
    n: int | None = None,
    top_k: int | None = None,
    epochs: int | None = None,
    train_fraction: float | None = None,
    progress: bool = True,
    verbose: bool = False,
    train_fn: Callable[..., Any] | None = None,
    prepared: tuple[Any, "SearchSpace", str] | None = None,
    jobs: int = 1,
) -> CalibrateResult:
    """Calibrate the study of ``config`` (see the module docstring). ``n`` / ``top_k`` default to its
    ``[calibrate]`` table, ``epochs`` / ``train_fraction`` (the confirm protocol) to ``[confirm]``;
    ``jobs`` trains that many runs at a time in worker processes."""
    from mgsearch.search.runner import prepare, quiet_optuna
    from mgsearch.store import check_url

    check_url(config.storage)
    quiet_optuna(verbose)
    n = n or config.calibrate_n
    k = top_k or config.calibrate_top_k
    dataset, space, device = prepared or prepare(config)
    stored = _stored_specs(config)
    from mgsearch.search.context import strategy_context
    from mgsearch.strategies import get_strategy

    strategy = get_strategy(config.strategy)
    context = strategy_context(config, space, dataset, device)
    scored = strategy.score_fidelity(context)
    if scored is not None:
        plan = _scored_plan(config, strategy, context, n, stored)
        cheap = {**scored, "val_fraction": config.val_fraction}
    else:
        drawn = calibration_candidates(space, Budget.from_config(config), n, config.seed)
        used = {s.hash for s in stored.values()}
        fresh = iter(s for s in drawn if s.hash not in used)
        plan = [(stored[i] if i in stored else next(fresh, drawn[i]), {}, None) for i in range(n)]
        cheap = study_protocol(config, epochs=config.epochs, train_fraction=config.train_fraction)
    full = confirm_protocol(config, epochs=epochs, train_fraction=train_fraction)
    planned = []
    for i, (spec, candidate_attrs, scorer) in enumerate(plan):
        attrs = {"source_study": config.name, "source_trial": i, "top_k": k}
        planned.append(PlannedRun("search", spec, cheap, config.seed, f"candidate {i}", test=False,
                                  attrs={**candidate_attrs, **attrs}, scorer=scorer))
        planned.append(PlannedRun("confirm", spec, full, config.seed, f"candidate {i}", test=True, attrs=attrs))
    runs = run_planned(config, calibrate_study_name(config.name), planned, dataset=dataset, device=device,
                       what="calibrate", progress=progress, train_fn=train_fn, jobs=jobs,
                       study_attrs={"derived_from": config.name, "role": "calibrate"})
    # the confirm protocol's seed noise, from `mgsearch confirm`'s runs of several seeds at that protocol
    noise = protocol_noise(_stored_runs(config, confirm_study_name(config.name)), full)
    return CalibrateResult(study_name=config.name, storage=config.storage_display, search_protocol=cheap,
                           confirm_protocol=full, runs=runs,
                           calibration=calibration(calibration_pairs(runs, full), top_k=k, noise=noise))
