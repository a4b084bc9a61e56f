"""``mgsearch confirm``: retrain the top distinct found architectures and the baselines with several seeds.

The sources are the ``top`` most accurate trained feasible trials of the study, distinct by spec
hash (duplicates and infeasible trials never count), and every trained baseline of
``<name>.baselines`` within the study's budget. Each is trained from scratch at the final protocol
(``[confirm]`` epochs and train fraction, the study's batch size, recipe and splits) with ``seeds``
seeds (the study's seed, +1, +2, ...); test accuracy is measured once at the end and is the run's
value (validation accuracy is only shown as progress). The runs are stored in ``<name>.confirm``,
linked to their source (:data:`mgsearch.store.runs.RUN_ATTRS`), and resume as
:mod:`mgsearch.search.retrain` describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from mgsearch.errors import MgsearchError
from mgsearch.evidence import ConfirmComparison, compare_confirmed
from mgsearch.search.retrain import PlannedRun, run_planned, study_protocol
from mgsearch.store.records import StudyData, TrialRecord, baselines_study_name, confirm_study_name
from mgsearch.store.runs import RunRecord
from mgsearch.study import StudyConfig

if TYPE_CHECKING:
    from mgsearch.space import SearchSpace

__all__ = ["ConfirmResult", "confirm_protocol", "confirm_seeds", "confirm_sources", "plan_confirm", "run_confirm"]


def confirm_protocol(config: StudyConfig, *, epochs: int | None = None,
                     train_fraction: float | None = None) -> dict[str, Any]:
    """The final protocol: ``epochs`` (default ``[confirm] epochs``, else twice the study's epochs) and
    ``train_fraction`` (default ``[confirm] train_fraction``, 1.0), with the study's batch size,
    recipe and validation share."""
    e = epochs or config.confirm_epochs or 2 * config.epochs
    f = train_fraction if train_fraction is not None else config.confirm_train_fraction
    return study_protocol(config, epochs=e, train_fraction=f)


def confirm_seeds(config: StudyConfig, n: int) -> list[int]:
    """The ``n`` training seeds: the study's seed, then +1, +2, ..."""
    return [config.seed + i for i in range(n)]


def confirm_sources(data: StudyData, top: int) -> list[tuple[str, str, TrialRecord]]:
    """``[(role, source study, record)]``: the ``top`` most accurate trained feasible trials with
    distinct specs (ties: fewer params, then the earlier trial), then the trained baselines within
    the budget (cheapest first)."""
    pool = sorted((r for r in data.records if r.trained and r.feasible and r.spec is not None),
                  key=lambda r: (-(r.val_acc or 0.0), r.params or 0, r.number))
    out: list[tuple[str, str, TrialRecord]] = []
    seen: set[str] = set()
    for r in pool:
        if r.spec_hash in seen:
            continue
        seen.add(r.spec_hash or "")
        out.append(("found", data.name, r))
        if len(out) == top:
            break
    bases = [b for b in data.baselines if b.status == "trained" and b.feasible and b.spec is not None]
    for b in sorted(bases, key=lambda r: (r.params or 0, r.number)):
        out.append(("baseline", baselines_study_name(data.name), b))
    return out


def plan_confirm(data: StudyData, *, top: int, seeds: list[int], protocol: dict[str, Any]) -> list[PlannedRun]:
    """One :class:`PlannedRun` per source and seed (source-major order: one architecture's seeds together)."""
    runs = []
    for role, study, rec in confirm_sources(data, top):
        attrs: dict[str, Any] = {"source_study": study, "source_trial": rec.number}
        if role == "baseline":
            attrs["baseline_name"] = rec.label
        spec = rec.spec
        assert spec is not None  # confirm_sources keeps records with a spec only
        runs.extend(PlannedRun(role=role, spec=spec, protocol=protocol, seed=seed, label=rec.label, test=True,
                               attrs=attrs) for seed in seeds)
    return runs


@dataclass
class ConfirmResult:
    """What a confirm call left in ``<name>.confirm``: the runs of its plan and their comparison."""

    study_name: str
    storage: str
    protocol: dict[str, Any]
    seeds: list[int]
    runs: list[RunRecord]
    comparison: ConfirmComparison

    def to_dict(self) -> dict[str, Any]:
        return {"study": self.study_name, "storage": self.storage, "protocol": self.protocol, "seeds": self.seeds,
                "runs": len(self.runs), **self.comparison.to_dict()}


def run_confirm(
    config: StudyConfig,
    *,
    top: int | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
    train_fraction: float | None = None,
    progress: bool = True,
    verbose: bool = False,
    train_fn: Callable[..., Any] | None = None,
    prepared: tuple[Any, "SearchSpace", str] | None = None,
    jobs: int = 1,
) -> ConfirmResult:
    """Confirm the study of ``config`` (see the module docstring); ``top`` / ``seeds`` / ``epochs`` /
    ``train_fraction`` default to the study's ``[confirm]`` table; ``jobs`` trains that many runs at a
    time in worker processes (:func:`~mgsearch.search.retrain.run_planned`). A study with no trained feasible
    trial is a one-line :class:`MgsearchError` before any data is loaded."""
    from mgsearch.search.runner import prepare, quiet_optuna
    from mgsearch.store import check_url
    from mgsearch.store.records import read_study

    check_url(config.storage)
    quiet_optuna(verbose)
    data = read_study(config.storage, config.name, source=str(config.path))
    protocol = confirm_protocol(config, epochs=epochs, train_fraction=train_fraction)
    seed_list = confirm_seeds(config, seeds or config.confirm_seeds)
    planned = plan_confirm(data, top=top or config.confirm_top, seeds=seed_list, protocol=protocol)
    if not any(p.role == "found" for p in planned):
        raise MgsearchError(f"study {config.name!r} in {config.storage_display} has no trained feasible trial to "
                            f"confirm; run `mgsearch search {config.path}` first")
    dataset, _space, device = prepared or prepare(config)
    runs = run_planned(config, confirm_study_name(config.name), planned, dataset=dataset, device=device,
                       what="confirm", progress=progress, train_fn=train_fn, jobs=jobs,
                       study_attrs={"derived_from": config.name, "role": "confirm"})
    keys = {p.key for p in planned}
    return ConfirmResult(study_name=config.name, storage=config.storage_display, protocol=protocol,
                         seeds=seed_list, runs=runs, comparison=compare_confirmed(runs, protocol, keys))
