"""Uniform-width baselines: the study family's reference network scaled to several sizes around the budget.

The reference architecture is the space's "middle" network: every depth at the middle of its range,
no weight sharing where the space allows ``share = 1``, the first group-size choice of each stage.
Its widths follow the classic uniform profile (the stem and every width of stage ``i`` equal
``base * 2^k``, ``k`` = the number of stride-2 stages up to ``i``: 16/32/64 for ResNet-20) and
``base`` is found by bisection so that the network uses ``size x`` the budget (params when
``max_params`` is set, else MACs). The baselines are trained at the study's fidelity with the same
recipe and seed and stored as the study ``<name>.baselines`` in the same database, with
``baseline_name`` (e.g. ``uniform-1x``) on each trial.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

from mgsearch.errors import BudgetError
from mgsearch.search.budget import Budget
from mgsearch.spec import ArchSpec, round_to_multiple, width_slots
from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    from mgsearch.space import SearchSpace

__all__ = ["reference_spec", "uniform_spec", "baseline_specs", "run_baselines", "baseline_study_name"]

_STAGE = re.compile(r"stages\[(\d+)\]")


def baseline_study_name(config: StudyConfig) -> str:
    """``<study name>.baselines``."""
    return f"{config.name}.baselines"


class _MiddleChooser:
    """Middle depths, no sharing where possible, first group size, multiplier 1 when allowed."""

    def int(self, name: str, low: int, high: int, step: int = 1) -> int:
        return low + ((high - low) // step // 2) * step

    def float(self, name: str, low: float, high: float) -> float:
        if name == "width_multiplier":
            return 1.0 if low <= 1.0 <= high else (low + high) / 2
        return low  # dropout: the least

    def categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if name.endswith(".share"):
            return 1 if 1 in choices else min((c for c in choices if c != "all"), default=choices[0])
        return choices[0]


def reference_spec(space: "SearchSpace") -> ArchSpec:
    """The space's middle architecture (see the module docstring); its widths are replaced later."""
    return space.to_spec(_MiddleChooser())


def uniform_spec(reference: ArchSpec, base: float) -> ArchSpec:
    """``reference`` with uniform widths ``base * 2^k`` per stage (rounded to each slot's multiple)."""
    level = []
    k = 0
    for stage in reference.stages:
        if stage.stride == 2:
            k += 1
        level.append(k)
    stage_width = [round_to_multiple(base * 2**k, stage.group_size or 1) for stage, k in zip(reference.stages, level)]
    values = []
    for slot in width_slots(reference):
        m = _STAGE.search(" ".join(slot.paths))
        stage_index = int(m.group(1)) if m and slot.kind != "stem" else 0
        values.append(round_to_multiple(stage_width[stage_index], slot.multiple_of))
    return reference.with_slot_values(values)


def _measure(spec: ArchSpec, by: str) -> int:
    from mgsearch.cost import cost

    c = cost(spec)
    return c.params if by == "params" else c.macs


def baseline_specs(space: "SearchSpace", budget: Budget, sizes: Sequence[float]) -> list[tuple[str, ArchSpec]]:
    """``[(baseline_name, spec)]``: the largest uniform network within ``size x`` the budget, per size.

    Sizes whose targets round to the same network are kept once. :class:`BudgetError` when the
    budget has neither params nor MACs, or when no size fits even the narrowest uniform network.
    """
    if budget.max_params is not None:
        by, limit = "params", budget.max_params
    elif budget.max_macs is not None:
        by, limit = "macs", budget.max_macs
    else:
        raise BudgetError("baselines need a budget: set budget.max_params or budget.max_macs in the study file")
    ref = reference_spec(space)
    out: list[tuple[str, ArchSpec]] = []
    seen: set[str] = set()
    for size in sorted(sizes):
        target = size * limit
        lo, hi = 0.5, 4.0
        while _measure(uniform_spec(ref, hi), by) <= target and hi < 65536 / 8:
            hi *= 2
        if _measure(uniform_spec(ref, lo), by) > target:
            continue  # even the narrowest uniform network is over this size
        for _ in range(40):
            mid = (lo + hi) / 2
            if _measure(uniform_spec(ref, mid), by) <= target:
                lo = mid
            else:
                hi = mid
        spec = uniform_spec(ref, lo)
        if spec.hash in seen:
            continue
        seen.add(spec.hash)
        out.append((f"uniform-{size:g}x", spec))
    if not out:
        raise BudgetError(
            f"no uniform {ref.family} network of the space fits {max(sizes):g}x the budget "
            f"({by} <= {max(sizes) * limit:,.0f}); raise the budget or the baseline sizes"
        )
    return out


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

    check_url(config.storage)  # in-memory, unparseable: refused before any data is loaded
    quiet_optuna(verbose)
    base_config = config.replace(pruner="none", objectives=("val_acc",), repair=False, strategy="direct")
    storage = open_storage(config.storage, heartbeat_interval=None, grace_period=None)  # ask/tell: no heartbeat
    database = DatabaseWatch(config.storage, storage)
    dataset, space, device = prepared or prepare(config)
    budget = Budget.from_config(config)
    specs = baseline_specs(space, budget, sizes or config.baseline_sizes)
    study = open_study(storage, base_config, dataset, create=True, seed=config.seed, name=baseline_study_name(config))
    done = {(t.user_attrs.get("baseline_name"), t.user_attrs.get("spec_hash")): t
            for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
            if t.user_attrs.get("status") in ("trained", "diverged")}
    objective = Objective(config=base_config, space=space, dataset=dataset, device=device, train_fn=train_fn)
    rows = []
    bar = None
    if progress:
        import sys

        from tqdm import tqdm

        bar = tqdm(total=len(specs), desc=f"{config.name} baselines", unit="net", file=sys.stderr)
    try:
        for name, spec in specs:
            database.check()  # the file is still the one opened (not deleted or replaced)
            c = cost(spec)
            earlier = done.get((name, spec.hash))
            if earlier is None:
                t0 = time.perf_counter()
                trial = study.ask()
                constraints = budget.analytic_constraints(c)
                for key, value in constraints.items():
                    trial.set_constraint(key, value)
                attrs = {"strategy": "direct", "baseline_name": name, "spec": spec.to_json(), "spec_hash": spec.hash,
                         "params": c.params, "macs": c.macs, "activations": c.activations,
                         "constraints": [constraints[n] for n in budget.names if n in constraints]}
                try:
                    value = objective._train(trial, spec, attrs, t0)
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
    finally:
        if bar is not None:
            bar.close()
    database.check()
    return rows
