"""The typed record of a derived run: one retraining of an architecture from scratch by ``mgsearch
confirm`` (stored in ``<name>.confirm``) or ``mgsearch calibrate`` (stored in ``<name>.calibrate``).

A derived run is one Optuna trial of the derived study; its attributes (:data:`RUN_ATTRS`) link it to
its source (which study, which trial, which seed, which protocol). :func:`runs_from_trials` reads
them back as :class:`RunRecord` values; :func:`run_groups` gathers a confirm study's runs per source
architecture with the mean and sample standard deviation over seeds.

Importing this module imports neither optuna nor SQLAlchemy.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from mgsearch.metrics.numbers import finite_float

__all__ = ["RUN_ATTRS", "RUN_STATUSES", "RunRecord", "RunGroup", "runs_from_trials", "run_groups", "protocol_key"]

#: statuses of a derived run: trained (or diverged) runs are finished and never run again; a run left
#: RUNNING by a killed process is failed ("interrupted") by the next run of the command and run again
RUN_STATUSES = ("trained", "diverged", "failed", "interrupted", "running")

#: every attribute a derived run stores (besides the analytic metrics under their names): name -> meaning
RUN_ATTRS: dict[str, str] = {
    "run_key": "what identifies the run across re-runs: source, spec hash, role, seed and protocol",
    "role": "confirm: 'found' or 'baseline'; calibrate: 'search' (search fidelity; a one-shot study: the one-shot "
            "score) or 'confirm' (the protocol)",
    "source_study": "the study the architecture came from (<name> or <name>.baselines; calibrate: <name>)",
    "source_trial": "its trial number there (calibrate: the candidate's index)",
    "baseline_name": "the baseline's label, on baseline runs",
    "seed": "the training seed",
    "protocol": "{epochs, train_fraction, batch_size} of this training (a one-shot score: kind 'oneshot' and the "
                "supernet's training protocol)",
    "status": "trained, diverged, failed or interrupted",
    "spec": "the ArchSpec as canonical JSON",
    "spec_hash": "the spec's hash",
    "val_acc": "validation accuracy after the last epoch",
    "test_acc": "test accuracy, measured once at the end (confirm, calibrate's 'confirm' role)",
    "val_history": "validation accuracy per epoch (progress only: nothing is chosen by it)",
    "train_seconds": "training alone",
    "wall_seconds": "the whole run",
    "device": "the device trained on",
    "host": "bookkeeping: the machine of the process that runs it",
    "pid": "bookkeeping: that process's id (a RUNNING run of a live process is not stale)",
    "error": "one line, on failed and interrupted runs",
    "top_k": "calibrate: the k of the top-k overlap the command reported",
    "supernet": "calibrate of a one-shot study, 'search' role: the key of the supernet that scored the candidate",
    "supernet_file": "its weights file (in the folder <database stem>.supernets)",
    "oneshot_seconds": "slicing + BatchNorm recalibration + validation of the one-shot score",
    "fidelity": "the one-shot score's fidelity as a search trial stores it",
}


def protocol_key(protocol: Mapping[str, Any]) -> str:
    """The protocol as canonical JSON (part of :data:`RUN_ATTRS` ``run_key``)."""
    return json.dumps(dict(protocol), sort_keys=True, separators=(",", ":"))


@dataclass
class RunRecord:
    """One derived run as plain values."""

    number: int
    state: str  # Optuna's state name
    status: str
    run_key: str | None = None
    role: str | None = None
    source_study: str | None = None
    source_trial: int | None = None
    baseline_name: str | None = None
    seed: int | None = None
    protocol: dict[str, Any] | None = None
    spec_json: str | None = None
    spec_hash: str | None = None
    val_acc: float | None = None
    test_acc: float | None = None
    params: int | None = None
    macs: int | None = None
    train_seconds: float | None = None
    wall_seconds: float | None = None
    user_attrs: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        """A COMPLETE run with a result (trained or diverged): never run again."""
        return self.state == "COMPLETE" and self.status in ("trained", "diverged")

    @property
    def label(self) -> str:
        """``#12`` for a found trial, the baseline's name for a baseline."""
        if self.baseline_name:
            return self.baseline_name
        return f"#{self.source_trial}" if self.source_trial is not None else f"run {self.number}"


def _int(v: Any) -> int | None:
    f = finite_float(v)
    return None if f is None else int(f)


def runs_from_trials(trials: Iterable[Any]) -> list[RunRecord]:
    """Optuna trials (or :func:`mgsearch.store.records.read_trials` values) of a derived study as
    :class:`RunRecord` values, sorted by number."""
    out = []
    for t in trials:
        ua = dict(t.user_attrs)
        state = t.state.name
        status = ua.get("status") if isinstance(ua.get("status"), str) else None
        if state == "RUNNING":
            status = "running"
        elif status is None:
            status = "failed"
        out.append(RunRecord(
            number=t.number, state=state, status=status, run_key=ua.get("run_key"), role=ua.get("role"),
            source_study=ua.get("source_study"), source_trial=_int(ua.get("source_trial")),
            baseline_name=ua.get("baseline_name"), seed=_int(ua.get("seed")),
            protocol=ua.get("protocol") if isinstance(ua.get("protocol"), dict) else None,
            spec_json=ua.get("spec"), spec_hash=ua.get("spec_hash"),
            val_acc=finite_float(ua.get("val_acc")), test_acc=finite_float(ua.get("test_acc")),
            params=_int(ua.get("params")), macs=_int(ua.get("macs")),
            train_seconds=finite_float(ua.get("train_seconds")), wall_seconds=finite_float(ua.get("wall_seconds")),
            user_attrs=ua,
        ))
    out.sort(key=lambda r: r.number)
    return out


@dataclass(frozen=True)
class RunGroup:
    """The finished confirm runs of one source architecture under one protocol."""

    role: str  # found | baseline
    source_study: str
    source_trial: int
    label: str
    spec_hash: str
    protocol: dict[str, Any]
    runs: tuple[RunRecord, ...]

    @property
    def accs(self) -> list[float]:
        """Test accuracy per finished run (diverged runs count with 0.0), in seed order."""
        return [r.test_acc if r.test_acc is not None else 0.0 for r in sorted(self.runs, key=lambda r: r.seed or 0)]

    @property
    def seeds(self) -> list[int]:
        """The seeds of the finished runs."""
        return sorted(r.seed for r in self.runs if r.seed is not None)

    @property
    def mean(self) -> float:
        """Mean test accuracy over the seeds."""
        return statistics.fmean(self.accs)

    @property
    def sd(self) -> float:
        """Sample standard deviation over the seeds (0.0 with one seed)."""
        return statistics.stdev(self.accs) if len(self.accs) > 1 else 0.0

    @property
    def low(self) -> float:
        """The lowest seed's accuracy."""
        return min(self.accs)

    @property
    def high(self) -> float:
        """The highest seed's accuracy."""
        return max(self.accs)

    @property
    def params(self) -> int | None:
        """The architecture's params (analytic)."""
        return self.runs[0].params

    @property
    def macs(self) -> int | None:
        """The architecture's MACs (analytic)."""
        return self.runs[0].macs

    @property
    def spec_json(self) -> str | None:
        """The architecture as canonical JSON."""
        return self.runs[0].spec_json

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (mean, sd, per-seed accuracies)."""
        return {"role": self.role, "source_study": self.source_study, "source_trial": self.source_trial,
                "label": self.label, "spec_hash": self.spec_hash, "params": self.params, "macs": self.macs,
                "seeds": self.seeds, "test_accs": self.accs, "mean": self.mean, "sd": self.sd,
                "protocol": dict(self.protocol)}


def run_groups(runs: Sequence[RunRecord], protocol: Mapping[str, Any] | None = None) -> list[RunGroup]:
    """The finished confirm runs grouped per (role, source, spec, protocol), sorted by mean test
    accuracy (highest first). ``protocol`` keeps only the runs of that protocol; without it every
    protocol found is kept (a source confirmed under two protocols gives two groups)."""
    want = protocol_key(protocol) if protocol is not None else None
    buckets: dict[tuple, list[RunRecord]] = {}
    for r in runs:
        if not r.finished or r.protocol is None or r.source_trial is None or r.role not in ("found", "baseline"):
            continue
        pk = protocol_key(r.protocol)
        if want is not None and pk != want:
            continue
        buckets.setdefault((r.role, r.source_study, r.source_trial, r.spec_hash, pk), []).append(r)
    groups = [RunGroup(role=k[0], source_study=k[1] or "", source_trial=k[2], label=v[0].label,
                       spec_hash=k[3] or "", protocol=dict(v[0].protocol or {}), runs=tuple(v))
              for k, v in buckets.items()]
    groups.sort(key=lambda g: (-g.mean if math.isfinite(g.mean) else math.inf, g.role, g.source_trial))
    return groups
