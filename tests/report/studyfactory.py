"""Write real Optuna studies that follow the "Study storage contract" of docs/architecture.md.

The report and export tests read studies the way the search writes them; until (and besides)
an end-to-end search, these helpers write such studies directly: real ``ArchSpec`` JSON, the
trial user attributes of the contract, real Optuna states, into a real SQLite database.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import optuna

from mgsearch.spec import ArchSpec, Block, Stage, Stem

optuna.logging.set_verbosity(optuna.logging.WARNING)


def resnet_spec(
    stem: int = 8,
    stages: Sequence[tuple[int, Sequence[int]]] = ((8, (8,)), (16, (16,))),
    *,
    family: str = "resnet",
    group_size: int | None = None,
    share: int = 1,
    in_channels: int = 1,
    input_size: int = 16,
    num_classes: int = 10,
) -> ArchSpec:
    """A ResNet-like spec: ``stages`` = ((width, (inner, ...)), ...), stride 2 after the first."""
    return ArchSpec(
        family=family,
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=input_size,
        stem=Stem(width=stem),
        stages=tuple(
            Stage(
                width=w,
                blocks=tuple(Block(inner=b) for b in inner),
                stride=1 if i == 0 else 2,
                group_size=group_size,
                share=share,
            )
            for i, (w, inner) in enumerate(stages)
        ),
    )


def real_cost(spec: ArchSpec) -> tuple[int, int]:
    """(params, MACs) from mgsearch.cost."""
    from mgsearch.cost import cost

    c = cost(spec)
    return int(c.params), int(c.macs)


@dataclasses.dataclass
class T:
    """One trial to write. ``params``/``macs`` None: computed with mgsearch.cost from ``spec``."""

    status: str = "trained"
    spec: ArchSpec | None = None
    val_acc: float | None = None
    params: int | None = None
    macs: int | None = None
    knobs: dict[str, Any] = dataclasses.field(default_factory=dict)
    constraints: tuple[float, ...] | None = None
    parent_spec: ArchSpec | None = None
    duplicate_of: int | None = None
    latency_ms: float | None = None
    baseline_name: str | None = None
    test_acc: float | None = None
    #: Optuna distributions of knobs, where the default (one per value) will not do
    distributions: dict[str, Any] = dataclasses.field(default_factory=dict)


BUDGET = {"max_params": None, "max_macs": None, "max_latency_ms": None}
FIDELITY = {"epochs": 1, "train_fraction": 0.1, "batch_size": 64}


def _distribution(value: Any) -> optuna.distributions.BaseDistribution:
    if isinstance(value, bool) or isinstance(value, str) or value is None:
        return optuna.distributions.CategoricalDistribution([value])
    if isinstance(value, int):
        return optuna.distributions.IntDistribution(0, max(1024, value))
    return optuna.distributions.FloatDistribution(0.0, max(1.0, value))


def write_study(
    db: Path,
    name: str,
    trials: Sequence[T],
    *,
    budget: dict[str, Any] | None = None,
    dataset: str = "fashion-mnist",
    objectives: Sequence[str] = ("val_acc",),
    baselines: Sequence[T] = (),
    extra_attrs: dict[str, Any] | None = None,
) -> str:
    """Write the study ``name`` (and ``name.baselines`` when given) into SQLite file ``db``; return the URL."""
    url = f"sqlite:///{db}"
    budget = {**BUDGET, **(budget or {})}
    directions = ["maximize"] + ["minimize"] * (len(objectives) - 1)
    study = optuna.create_study(study_name=name, storage=url, directions=directions)
    attrs = {
        "mgsearch_version": "0.1.0",
        "config": {"name": name, "storage": url, "dataset": {"name": dataset}},
        "dataset": dataset,
        "budget": budget,
        "objectives": list(objectives),
        "fidelity": FIDELITY,
        "space": "search_spaces/test.toml",
        **(extra_attrs or {}),
    }
    for k, v in attrs.items():
        study.set_user_attr(k, v)
    _add(study, trials, budget, objectives)
    if baselines:
        bst = optuna.create_study(study_name=f"{name}.baselines", storage=url, directions=directions)
        for k, v in attrs.items():
            bst.set_user_attr(k, v)
        _add(bst, baselines, budget, objectives)
    return url


def _add(study: optuna.Study, trials: Sequence[T], budget: dict[str, Any], objectives: Sequence[str]) -> None:
    for t in trials:
        params, macs = t.params, t.macs
        if t.spec is not None and (params is None or macs is None):
            p, m = real_cost(t.spec)
            params = p if params is None else params
            macs = m if macs is None else macs
        cons = t.constraints
        if cons is None:
            cons = tuple(
                float(v - budget[k]) for k, v in (("max_params", params), ("max_macs", macs)) if budget.get(k) is not None
            )
        ua: dict[str, Any] = {"status": t.status, "strategy": "lwdna" if t.parent_spec else "direct"}
        if t.spec is not None:
            ua.update(spec=t.spec.to_json(), spec_hash=t.spec.hash)
        ua.update(params=params, macs=macs, activations=0, constraints=list(cons))
        if t.status in ("trained", "duplicate") and t.val_acc is not None:
            ua.update(val_acc=t.val_acc, val_history=[t.val_acc], fidelity=FIDELITY, wall_seconds=1.0,
                      train_seconds=0.9, images_per_second=1000.0, seed=0, device="cpu",
                      versions={"mgsearch": "0.1.0", "torch": "x", "optuna": optuna.__version__, "python": "3.11"})
        if t.test_acc is not None:
            ua["test_acc"] = t.test_acc
        if t.duplicate_of is not None:
            ua["duplicate_of"] = t.duplicate_of
        if t.parent_spec is not None:
            ua["parent_spec"] = t.parent_spec.to_json()
        if t.latency_ms is not None:
            ua["latency_ms"] = t.latency_ms
        if t.baseline_name is not None:
            ua["baseline_name"] = t.baseline_name
        state = {"pruned": optuna.trial.TrialState.PRUNED, "failed": optuna.trial.TrialState.FAIL,
                 "diverged": optuna.trial.TrialState.FAIL}.get(t.status, optuna.trial.TrialState.COMPLETE)
        values = None
        if state == optuna.trial.TrialState.COMPLETE:
            acc = t.val_acc if t.status in ("trained", "duplicate") else 0.0
            values = [acc] + [float({"params": params, "macs": macs}[o]) for o in objectives[1:]]
        intermediate = {0: t.val_acc} if t.status == "pruned" and t.val_acc is not None else None
        if t.status == "pruned":
            ua.pop("val_acc", None)
        study.add_trial(
            optuna.trial.create_trial(
                state=state,
                values=values,
                params=dict(t.knobs),
                distributions={k: t.distributions.get(k) or _distribution(v) for k, v in t.knobs.items()},
                user_attrs=ua,
                intermediate_values=intermediate,
            )
        )
