"""Multi-objective early stopping: the quickstart searched for (val_acc, params) with and without ``pruner = "pareto"``.

Protocol (fixed before any result was seen; see docs/benchmarks.md):

* the study: ``studies/quickstart.toml`` with ``objectives = ["val_acc", "params"]``, everything else
  as shipped (space, data, 3 epochs, 50k-param budget, repair, TPE, seed 0) except what the flags
  change (``--train-fraction`` to fit a shared machine);
* two arms, same seed, same number of trials: ``pruner = "none"`` and ``pruner = "pareto"`` with the
  ``[pruning]`` defaults (margin 0.01, 5 start-up trials), each in its own fresh SQLite database;
* interleaved trial by trial in one process (the dataset is loaded once): trial k of one arm, then
  trial k of the other, the order swapped every round, so both arms see the same load of a shared
  machine. ``run_search`` resumes a study up to ``n_trials = k``; the sampler reseeds from
  (seed, trial number) before every trial, so the interleaving does not change what an arm samples;
* after each round the script stops when ``--max-minutes`` would be passed by another round; both
  arms then have the same number of trials;
* measured per arm: wall time (the sum of its ``run_search`` calls), training seconds, epochs trained
  (the load-independent measure of the work: on a shared machine two identical trials can differ by a
  third in wall time), status counts,
  and the hypervolume of the feasible (params, val_acc) front with the report's convention
  (:func:`mgsearch.report.analysis.hypervolume`, reference cost 1.1 x the budget).

Done-when of issue 13: the pruned arm reaches at least the unpruned hypervolume in at most 60 % of
its wall time. Prints a Markdown table and a JSON line::

    MGSEARCH_DATA_ROOT=/work/scratch/data timeout 1500 python benchmarks/bench_mo_pruning.py --trials 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def arm_config(study: Path, storage: str, pruner: str, trials: int, train_fraction: float | None) -> Any:
    """The quickstart's configuration as a (val_acc, params) study with ``pruner`` and ``trials`` trials."""
    from mgsearch.study import parse_study_config

    raw = tomllib.loads(study.read_text(encoding="utf-8"))
    raw["study"].update(objectives=["val_acc", "params"], pruner=pruner, n_trials=trials, storage=storage,
                        name=f"{study.stem}-mo-{pruner}")
    if train_fraction is not None:
        raw["data"]["train_fraction"] = train_fraction
    return parse_study_config(raw, study)


def measure(config: Any) -> dict[str, Any]:
    """Hypervolume (the report's convention), status counts and training seconds of a stored study."""
    from mgsearch.pareto import feasible, pareto_front, state_counts
    from mgsearch.report.analysis import hypervolume
    from mgsearch.report.series import HV_MARGIN
    from mgsearch.store.records import read_study

    data = read_study(config.storage, config.name)
    ref = HV_MARGIN * float(config.limits["params"])
    points = [(float(r.params), float(r.val_acc)) for r in feasible(data.records, "params")]
    counts = {k: v for k, v in state_counts(data.records).items() if v}
    train = sum(float(r.user_attrs.get("train_seconds") or 0.0) for r in data.records)
    # the load-independent measure of the same thing: epochs trained (duplicates train none)
    epochs = sum(len(r.user_attrs.get("val_history") or []) for r in data.records if r.status in ("trained", "pruned", "diverged"))
    front = [(r.number, r.params, round(r.val_acc, 4)) for r in pareto_front(data.records, "params")]
    return {"hypervolume": hypervolume(points, ref), "ref_cost": ref, "counts": counts, "train_seconds": train,
            "epochs_trained": epochs,
            "front": front, "trials": len(data.records)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default=str(REPO / "studies" / "quickstart.toml"))
    ap.add_argument("--trials", type=int, default=20, help="trials per arm (both arms the same)")
    ap.add_argument("--train-fraction", type=float, default=None, help="default: the study's")
    ap.add_argument("--max-minutes", type=float, default=22.0,
                    help="stop starting rounds when another one would pass this (both arms keep equal trials)")
    ap.add_argument("--out", default=None, help="folder for the two databases (default: a temporary one)")
    args = ap.parse_args()

    import optuna

    from mgsearch.search import run_search
    from mgsearch.search.runner import prepare

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = Path(args.study).resolve()
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-mo-pruning-"))
    out.mkdir(parents=True, exist_ok=True)
    arms = {p: arm_config(study, f"sqlite:///{out / f'{p}.db'}", p, args.trials, args.train_fraction)
            for p in ("none", "pareto")}
    started = dt.datetime.now(dt.timezone.utc)
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    t_all = time.perf_counter()
    prepared = prepare(arms["none"])  # the same data, space and device for both arms
    load_s = time.perf_counter() - t_all
    wall = {p: 0.0 for p in arms}
    rounds, longest = 0, 0.0
    for k in range(1, args.trials + 1):
        t_round = time.perf_counter()
        for p in (("none", "pareto") if k % 2 else ("pareto", "none")):
            t0 = time.perf_counter()
            run_search(arms[p].replace(n_trials=k), progress=False, prepared=prepared)
            wall[p] += time.perf_counter() - t0
        rounds, longest = k, max(longest, time.perf_counter() - t_round)
        elapsed = (time.perf_counter() - t_all) / 60
        print(f"round {k}/{args.trials}: none {wall['none']:.0f}s  pareto {wall['pareto']:.0f}s  "
              f"elapsed {elapsed:.1f} min", file=sys.stderr, flush=True)
        if elapsed + longest / 60 > args.max_minutes and k < args.trials:
            print(f"stopping after {k} rounds: another would pass --max-minutes {args.max_minutes}",
                  file=sys.stderr, flush=True)
            break
    res = {p: {**measure(arms[p].replace(n_trials=rounds)), "wall_seconds": wall[p]} for p in arms}
    none, pareto = res["none"], res["pareto"]
    ratio = pareto["wall_seconds"] / none["wall_seconds"]
    epoch_ratio = pareto["epochs_trained"] / none["epochs_trained"] if none["epochs_trained"] else None
    hv_ok = pareto["hypervolume"] >= none["hypervolume"]
    summary = {
        "date": started.isoformat(timespec="minutes"), "host": platform.node(), "cpus": os.cpu_count(),
        "load_avg_start": load_start, "load_avg_end": None, "study": str(study.relative_to(REPO)) if study.is_relative_to(REPO) else str(study),
        "trials_per_arm": rounds, "trials_asked": args.trials, "train_fraction": arms["none"].train_fraction,
        "epochs": arms["none"].epochs, "margin": arms["pareto"].pruning_margin,
        "startup_trials": arms["pareto"].pruning_startup_trials, "data_load_seconds": load_s,
        "arms": res, "wall_ratio": ratio, "epoch_ratio": epoch_ratio, "hv_ratio": pareto["hypervolume"] / none["hypervolume"] if none["hypervolume"] else None,
        "done_when_met": bool(hv_ok and ratio <= 0.6), "databases": str(out),
    }
    if hasattr(os, "getloadavg"):
        summary["load_avg_end"] = os.getloadavg()
    print("| arm | trials | trained / pruned / infeasible / duplicate | hypervolume (ref 1.1 x budget) | wall s | train s | epochs trained |")
    print("|---|---|---|---|---|---|---|")
    for p, r in res.items():
        c = r["counts"]
        print(f"| pruner = {p} | {r['trials']} | {c.get('trained', 0)} / {c.get('pruned', 0)} / {c.get('infeasible', 0)} / "
              f"{c.get('duplicate', 0)} | {r['hypervolume']:.4f} | {r['wall_seconds']:.0f} | {r['train_seconds']:.0f} | {r['epochs_trained']} |")
    print(f"wall ratio pareto/none = {ratio:.2f}; epochs ratio = {epoch_ratio}; hypervolume ratio = {summary['hv_ratio']}; "
          f"done-when (HV >= and wall <= 0.6) met: {summary['done_when_met']}")
    print(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
