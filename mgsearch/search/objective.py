"""The Optuna objective: sample a spec, check the budget, train at the study's fidelity, store the contract.

One call of :class:`Objective` is one trial. What it stores is the "Study storage contract" of
``docs/architecture.md`` (report, export, shrink and workers read exactly these attributes):

* infeasible candidates (analytic cost over the budget) are recorded with their constraint values
  (``trial.set_constraint``) and objective value 0.0 without any training (milliseconds);
* a spec already trained (or being trained) in the study is never trained again: the duplicate
  takes the earlier result (``status = "duplicate"``, ``duplicate_of``);
* :class:`~mgsearch.errors.TrainingDiverged` ends the trial COMPLETE with ``status = "diverged"``
  and val accuracy 0.0, so the sampler learns to avoid the region and the search goes on;
* single-objective studies report each epoch's val accuracy so the pruner can stop the trial;
  multi-objective ones with ``pruner = "pareto"`` ask :class:`~mgsearch.search.pruning.ParetoPruner`
  after each epoch (Optuna refuses ``trial.report`` there) and are stopped the same way;
* with ``fill_budget`` (single objective, an analytic budget) every candidate is first scaled up or
  down onto the budget (:func:`~mgsearch.search.budget.fit_to_budget`): ``spec`` is the fitted
  network, ``sampled_spec`` the strategy's, ``budget_use`` the share of the binding limit it uses.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from mgsearch.errors import MgsearchError, TrainingDiverged
from mgsearch.search.budget import Budget, fit_to_budget, repair_to_budget
from mgsearch.search.chooser import OptunaChooser
from mgsearch.search.context import strategy_context
from mgsearch.search.samplers import make_front_pruner
from mgsearch.spec import ArchSpec
from mgsearch.store.records import RESULT_STATUSES, candidate_attrs
from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    import optuna

    from mgsearch.space import SearchSpace
    from mgsearch.strategies import Candidate

__all__ = ["Objective", "package_versions", "COUNTED_STATES", "SurplusTrial"]

#: poll interval while waiting for another worker that trains the same spec
DUPLICATE_POLL_S = 2.0


class SurplusTrial(Exception):
    """A trial started after the study reached n_trials (a race between workers); it is failed unrun."""


def package_versions() -> dict[str, str]:
    """``{"mgsearch", "torch", "optuna", "python"}`` as stored with every trained trial."""
    import optuna
    import torch

    import mgsearch

    return {
        "mgsearch": mgsearch.__version__,
        "torch": torch.__version__,
        "optuna": optuna.__version__,
        "python": platform.python_version(),
    }


def COUNTED_STATES() -> tuple[Any, ...]:  # noqa: N802 - a constant that needs optuna imported lazily
    """Trial states that count towards ``n_trials`` (finished or on their way)."""
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def _set_constraints(trial: "optuna.Trial", constraints: dict[str, float]) -> None:
    """``trial.set_constraint`` for each budget metric. A retry queued by an older mgsearch inherited
    the failed run's constraint system attrs (which ``set_constraint`` refuses to change, with a
    UserWarning): those are overwritten with this run's values. New retries inherit none
    (:func:`mgsearch.store.rdb.without_run_state`)."""
    inherited = trial.storage.get_trial_system_attrs(trial._trial_id)
    for name, value in constraints.items():
        key = f"constraints:{name}"
        if key in inherited:
            trial.storage.set_trial_system_attr(trial._trial_id, key, float(value))
        else:
            trial.set_constraint(name, value)


@dataclass
class Objective:
    """Callable ``objective(trial)`` for :meth:`optuna.Study.optimize` (see the module docstring).

    Each trial asks the study's strategy (:func:`mgsearch.strategies.get_strategy`) for a
    :class:`~mgsearch.strategies.Candidate` and evaluates it; the objective never looks at the
    strategy's name. Public pieces for other drivers (baselines, later confirm runs):
    :meth:`train_spec` (train a spec at the study's protocol) and :meth:`train_trial` (train it and
    record the result in a trial). ``train_fn`` defaults to :func:`mgsearch.train.train` (looked up
    at call time, so tests can monkeypatch it); ``dataset`` is loaded once per process by the caller.
    """

    config: StudyConfig
    space: "SearchSpace"
    dataset: Any
    device: str
    train_fn: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        from mgsearch.strategies import get_strategy

        self.budget = Budget.from_config(self.config)
        self.strategy = get_strategy(self.config.strategy)
        self.context = strategy_context(self.config, self.space, self.dataset, self.device, budget=self.budget,
                                        train=self.train_spec)
        self.versions = package_versions()
        self.measure_latency = "latency_ms" in self.budget.limits or "latency_ms" in self.config.objectives
        self.front_pruner = make_front_pruner(self.config)
        #: whether candidates are scaled onto the budget (``fill_budget``; single objective, analytic limits)
        self.fill = bool(self.config.fill_budget) and not self.config.multi_objective and self.budget.analytic

    # ------------------------------------------------------------------ values
    def _values(self, acc: float, attrs: dict[str, Any]) -> float | list[float]:
        if not self.config.multi_objective:
            return float(acc)
        out = [float(acc)]
        for name in self.config.objectives[1:]:
            out.append(float(attrs[name]))
        return out

    # ------------------------------------------------------------------ the trial
    def __call__(self, trial: "optuna.Trial") -> float | list[float]:
        t0 = time.perf_counter()
        self._check_surplus(trial)
        # a retry of a trial whose worker died inherits that trial's user attrs (Optuna's
        # RetryHeartbeatStaleTrialCallback), so "first_number" names the original trial
        inherited = trial.user_attrs
        attrs: dict[str, Any] = {"strategy": self.strategy.name}
        if "first_number" in inherited and inherited["first_number"] != trial.number:
            attrs["retry_of"] = int(inherited.get("retry_of", inherited["first_number"]))
        candidate = self.strategy.propose(OptunaChooser(trial), self.context)
        return self.evaluate(trial, candidate, attrs, t0)

    def evaluate(self, trial: "optuna.Trial", candidate: "Candidate", attrs: dict[str, Any] | None = None,
                 t0: float | None = None) -> Any:
        """Check ``candidate`` against the budget, take an earlier result of its spec or train it, and
        record everything in ``trial`` (the storage contract); returns the objective value(s)."""
        attrs = dict(attrs or {})
        attrs.update(candidate.trial_attrs())
        spec = candidate.spec
        if self.fill:
            spec = self.fit(spec, ceiling=candidate.parent if self.strategy.fit_within_parent else None)
            attrs["sampled_spec"] = candidate.spec.to_json()
        return self._evaluate(trial, spec, attrs, time.perf_counter() if t0 is None else t0)

    def fit(self, spec: ArchSpec, *, ceiling: ArchSpec | None = None) -> ArchSpec:
        """``spec`` scaled onto the budget (:func:`~mgsearch.search.budget.fit_to_budget`, no width
        above ``ceiling``'s); a structure whose narrowest form is over the budget gives that narrowest
        form (recorded as infeasible)."""
        from mgsearch.fitting import narrowest

        return fit_to_budget(spec, self.budget, ceiling=ceiling) or narrowest(spec)

    def _evaluate(self, trial: "optuna.Trial", spec: ArchSpec, attrs: dict[str, Any], t0: float) -> Any:
        import optuna

        from mgsearch.cost import cost

        c = cost(spec)
        if self.config.repair and not self.budget.fits(c, spec):
            repaired = repair_to_budget(spec, self.budget)
            if repaired is not None and repaired != spec:
                attrs["repaired_from"] = spec.to_json()
                spec, c = repaired, cost(repaired)
        constraints = self.budget.analytic_constraints(c, spec)
        if self.measure_latency:
            lat = self._latency(spec)
            attrs["latency_ms"] = lat["median_ms"]
            attrs["latency_device"] = lat["device_name"]
            constraints.update(self.budget.measured_constraints({"latency_ms": lat["median_ms"]}))
        attrs.update(candidate_attrs(spec, c, constraints, self.budget.names))
        use = self.budget.use(c, spec)
        if use is not None:
            attrs["budget_use"] = use
        _set_constraints(trial, {name: constraints[name] for name in self.budget.names})
        feasible = all(v <= 0 for v in constraints.values())
        if not feasible:
            attrs["status"] = "infeasible"
            attrs["wall_seconds"] = time.perf_counter() - t0
            self._set_attrs(trial, attrs)
            return self._values(0.0, attrs)
        # publish the hash before training: other workers then see this spec as "running"; a retry of
        # this trial (its worker died) inherits "first_number" and records it as "retry_of"
        trial.set_user_attr("spec_hash", spec.hash)
        if "retry_of" not in attrs:
            trial.set_user_attr("first_number", trial.number)
        while True:
            earlier = self._find_earlier(trial, spec.hash)
            if earlier is not None:
                return self._take_duplicate(trial, earlier, attrs, t0)
            trial.set_user_attr("training", True)  # later trials of this spec now wait for this one's result
            # Deciding and announcing are two writes: a lower-numbered trial of the same spec may have
            # published its hash in between and decided to train as well. Looking again after the
            # announcement closes that window: the lower number trains, this one yields and waits.
            if not self._lower_undecided_peer(trial, spec.hash):
                break
            trial.set_user_attr("training", False)
        return self.train_trial(trial, spec, attrs, t0, score=self._strategy_score(attrs))

    def _strategy_score(self, attrs: dict[str, Any]) -> Callable[..., Any]:
        """Training at the study's protocol, unless the strategy scores candidates its own way."""
        def score(spec: ArchSpec, *, on_epoch: Callable[[int, float], None] | None = None) -> Any:
            result = self.strategy.score(spec, attrs, self.context, on_epoch=on_epoch)
            return self.train_spec(spec, on_epoch=on_epoch) if result is None else result
        return score

    # ------------------------------------------------------------------ pieces
    def _check_surplus(self, trial: "optuna.Trial") -> None:
        n = self.config.n_trials
        if n is None:
            return
        states = COUNTED_STATES()
        ahead = sum(1 for t in trial.study.get_trials(deepcopy=False, states=states) if t.number < trial.number)
        if ahead >= n:
            trial.set_user_attr("status", "failed")
            trial.set_user_attr("error", f"surplus: the study already had {n} trials when this one started")
            raise SurplusTrial(f"trial {trial.number} is beyond n_trials={n}")

    def _latency(self, spec: ArchSpec) -> dict[str, Any]:
        from mgsearch.cost import measure_latency
        from mgsearch.families import build

        model = build(spec)
        return measure_latency(model, (1, spec.in_channels, spec.input_size, spec.input_size), self.device)

    def _find_earlier(self, trial: "optuna.Trial", spec_hash: str) -> Any:
        """The earliest other trial of the same spec that has (or will have) a training result."""
        from optuna.trial import TrialState

        while True:
            running = None
            for t in trial.study.get_trials(deepcopy=False):
                if t.number == trial.number or t.user_attrs.get("spec_hash") != spec_hash:
                    continue
                status = t.user_attrs.get("status")
                if t.state == TrialState.COMPLETE and status in RESULT_STATUSES:
                    return t
                if t.state == TrialState.PRUNED and status in ("pruned", "duplicate"):
                    return t
                # wait for a lower-numbered one (the tie-break while both decide) or one that has
                # already decided to train (whatever its number); neither waits for the other: no deadlock
                if t.state == TrialState.RUNNING and status is None and (
                        t.number < trial.number or t.user_attrs.get("training")):
                    running = t
            if running is None:
                return None
            import optuna

            optuna.storages.fail_stale_trials(trial.study)  # its worker may have died: then it turns FAIL
            time.sleep(DUPLICATE_POLL_S)  # another worker trains this spec: wait for its result

    def _lower_undecided_peer(self, trial: "optuna.Trial", spec_hash: str) -> bool:
        """Whether a lower-numbered running trial of the same spec has no result yet."""
        from optuna.trial import TrialState

        return any(
            t.number < trial.number and t.user_attrs.get("spec_hash") == spec_hash and t.user_attrs.get("status") is None
            for t in trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        )

    def _take_duplicate(self, trial: "optuna.Trial", earlier: Any, attrs: dict[str, Any], t0: float) -> Any:
        import optuna
        from optuna.trial import TrialState

        source = earlier.user_attrs
        for key in ("val_acc", "val_history", "fidelity", "train_seconds", "images_per_second", "seed", "device",
                    "versions", "latency_ms"):
            if key in source:
                attrs[key] = source[key]
        attrs["status"] = "duplicate"
        attrs["duplicate_of"] = int(source.get("duplicate_of", earlier.number))
        attrs["wall_seconds"] = time.perf_counter() - t0
        self._set_attrs(trial, attrs)
        acc = float(source.get("val_acc") or 0.0)
        if earlier.state == TrialState.PRUNED:
            if not self.config.multi_objective:
                for step, value in sorted(earlier.intermediate_values.items()):
                    trial.report(value, step)
            raise optuna.TrialPruned(f"duplicate of pruned trial {attrs['duplicate_of']}")
        return self._values(acc, attrs)

    def train_spec(self, spec: ArchSpec, *, on_epoch: Callable[[int, float], None] | None = None) -> Any:
        """Train ``spec`` from scratch at the study's protocol (fidelity, recipe, seed, device, threads)
        and return the :class:`~mgsearch.train.TrainResult`; ``on_epoch(epoch, val_acc)`` after each
        epoch. The one training path of the search (strategies get it as ``context.train``)."""
        import importlib

        train_module = importlib.import_module("mgsearch.train")  # not `from mgsearch import train`: a function

        train_fn = self.train_fn or train_module.train
        fidelity = train_module.Fidelity(
            epochs=self.config.epochs, train_fraction=self.config.train_fraction, batch_size=self.config.batch_size
        )
        recipe = train_module.Recipe(**dict(self.config.recipe))
        return train_fn(spec, self.dataset, fidelity=fidelity, recipe=recipe, seed=self.config.seed,
                        device=self.device, on_epoch=on_epoch, progress=False, threads=self.config.threads)

    def train_trial(self, trial: "optuna.Trial", spec: ArchSpec, attrs: dict[str, Any], t0: float | None = None,
                    score: Callable[..., Any] | None = None) -> Any:
        """Train ``spec`` (:meth:`train_spec`) as ``trial`` and record the result with ``attrs``
        (which must already hold the spec's contract attributes: ``spec``, ``params``, ...). The
        budget is not checked here (baselines above the budget are trained on purpose).

        Single-objective studies with a pruner report every epoch and may be pruned, multi-objective
        ones are asked about by their :class:`~mgsearch.search.pruning.ParetoPruner` (either way
        :class:`optuna.TrialPruned` is raised after recording); a diverged training completes with
        val accuracy 0.0; any other error is recorded as ``failed`` and raised. ``score(spec, on_epoch=)``
        replaces :meth:`train_spec` (a strategy's own evaluation; its result's ``trial_attrs`` are
        stored too). Returns the objective value(s)."""
        import optuna

        t0 = time.perf_counter() if t0 is None else t0
        history: list[float] = []
        prune = not self.config.multi_objective and self.config.pruner != "none"
        front = self.front_pruner
        epochs = self.config.epochs

        def on_epoch(epoch: int, val_acc: float) -> None:
            history.append(float(val_acc))
            step = len(history)
            if prune:
                trial.report(float(val_acc), step)
                # after the last epoch the training is paid for: the trial completes, it is never pruned
                if step < epochs and trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after epoch {step} at val_acc={val_acc:.4f}")
            elif front is not None and step < epochs and front.prune(trial.study, trial.number, attrs, history):
                raise optuna.TrialPruned(f"pruned after epoch {step} at val_acc={val_acc:.4f}: a trial that "
                                         f"costs no more was ahead by {front.margin:g} or more")

        attrs.update(fidelity=self.config.fidelity(), seed=self.config.seed, device=self.device,
                     versions=self.versions)
        try:
            result = (score or self.train_spec)(spec, on_epoch=on_epoch)
        except optuna.TrialPruned:
            attrs.update(status="pruned", val_history=history, val_acc=history[-1] if history else 0.0,
                         wall_seconds=time.perf_counter() - t0)
            self._set_attrs(trial, attrs)
            raise
        except TrainingDiverged as exc:
            attrs.update(status="diverged", val_history=history, val_acc=0.0, diverged_epoch=exc.epoch,
                         error=str(exc)[:500], wall_seconds=time.perf_counter() - t0)
            self._set_attrs(trial, attrs)
            return self._values(0.0, attrs)
        except MgsearchError:
            raise
        except Exception as exc:
            attrs.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500],
                         wall_seconds=time.perf_counter() - t0)
            self._set_attrs(trial, attrs)
            raise
        acc = float(result.val_acc)
        hist = history or [float(r["val_acc"]) for r in getattr(result, "history", None) or [] if "val_acc" in r]
        attrs.update(status="trained", val_acc=acc, val_history=hist or [acc],
                     train_seconds=float(result.train_seconds),
                     images_per_second=float(result.images_per_second),
                     wall_seconds=time.perf_counter() - t0)
        attrs.update(getattr(result, "trial_attrs", None) or {})
        self._set_attrs(trial, attrs)
        return self._values(acc, attrs)

    @staticmethod
    def _set_attrs(trial: "optuna.Trial", attrs: dict[str, Any]) -> None:
        # one storage round trip per attribute is what Optuna offers; keep the set small and flat
        for key, value in attrs.items():
            trial.set_user_attr(key, value)

