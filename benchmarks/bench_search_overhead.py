"""Search-engine overhead: the share of a trial's wall time spent outside training, and the cost of
rejecting an infeasible candidate.

1. Runs ``--trials`` trials of a study (default: ``studies/quickstart.toml`` at its fidelity) on a fresh
   SQLite database in a temporary folder, timing every call of ``mgsearch.train.train``. Per trained or
   pruned trial: overhead = trial duration (Optuna's start..complete) - time inside ``train``. Target:
   overhead share <= 2 %.
2. Rejects ``--reject`` over-budget candidates through the real objective on the same kind of SQLite
   storage and reports (a) the whole Optuna trial (sampling, spec, cost, constraint + attribute writes,
   commit) and (b) the decision alone (spec -> analytic cost -> constraint values). Target: <= 5 ms each.

Usage::

    python benchmarks/bench_search_overhead.py                       # quickstart fidelity, 4 trials
    python benchmarks/bench_search_overhead.py --trials 8 --study studies/fmnist-50k.toml
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default=str(REPO / "studies" / "quickstart.toml"))
    ap.add_argument("--trials", type=int, default=4, help="trials of the study to run and time")
    ap.add_argument("--reject", type=int, default=200, help="infeasible candidates to reject")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import optuna
    import torch

    from mgsearch.cost import cost
    from mgsearch.search import run_search
    from mgsearch.search.objective import Objective
    from mgsearch.search.runner import open_study, prepare
    from mgsearch.search.storage import open_storage
    from mgsearch.study import load_study_config

    train_module = importlib.import_module("mgsearch.train")
    real_train = train_module.train
    inside: list[float] = []

    def timed_train(*a, **k):
        t0 = time.perf_counter()
        try:
            return real_train(*a, **k)
        finally:
            inside.append(time.perf_counter() - t0)

    out: dict = {"study": args.study, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 "machine": f"{platform.machine()} {torch.get_num_threads()} torch threads, {platform.node()}"}
    with tempfile.TemporaryDirectory() as tmp:
        storage = f"sqlite:///{tmp}/bench.db"
        config = load_study_config(args.study, {"n_trials": args.trials, "storage": storage})
        t_prep = time.perf_counter()
        prepared = prepare(config)
        out["prepare_seconds"] = time.perf_counter() - t_prep
        train_module.train = timed_train
        try:
            run_search(config, progress=False, prepared=prepared)
        finally:
            train_module.train = real_train
        study = optuna.load_study(study_name=config.name, storage=storage)
        trained = [t for t in study.trials if t.user_attrs.get("status") in ("trained", "pruned", "diverged")]
        durations = [t.duration.total_seconds() for t in trained]
        if len(durations) != len(inside):
            raise SystemExit(f"{len(durations)} trained trials but {len(inside)} train calls")
        total, train_total = sum(durations), sum(inside)
        out["trained_trials"] = len(trained)
        out["other_trials"] = {s: sum(1 for t in study.trials if t.user_attrs.get("status") == s)
                               for s in ("infeasible", "duplicate")}
        out["trial_seconds_mean"] = total / max(1, len(durations))
        out["overhead_seconds_per_trial"] = [round(d - i, 4) for d, i in zip(durations, inside)]
        out["overhead_share"] = (total - train_total) / total if total else None

        # ---- rejection of infeasible candidates
        dataset, space, device = prepared
        tight = config.replace(repair=False, n_trials=None, name="reject",
                           limits={**config.limits, "params": cost(space.min_spec()).params - 1})  # nothing fits
        rstorage = open_storage(f"sqlite:///{tmp}/reject.db", heartbeat_interval=config.heartbeat_interval,
                                grace_period=config.grace_period)
        rstudy = open_study(rstorage, tight, dataset, create=True, seed=0, name="reject")
        objective = Objective(config=tight, space=space, dataset=dataset, device=device,
                              train_fn=lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        t0 = time.perf_counter()
        rstudy.optimize(objective, n_trials=args.reject, gc_after_trial=False)
        per_trial = (time.perf_counter() - t0) / args.reject
        rtrials = rstudy.trials
        n_infeasible = sum(t.user_attrs.get("status") == "infeasible" for t in rtrials)
        from mgsearch.space import RandomChooser

        chooser = RandomChooser(0)
        decision = []
        for _ in range(args.reject):
            t1 = time.perf_counter()
            c = cost(space.to_spec(chooser))
            _ = [c.params - tight.max_params]
            decision.append(time.perf_counter() - t1)
        out["reject"] = {
            "candidates": args.reject,
            "infeasible": n_infeasible,
            "whole_trial_ms_mean": per_trial * 1000,
            "trial_duration_ms_median": statistics.median(t.duration.total_seconds() for t in rtrials) * 1000,
            "decision_ms_median": statistics.median(decision) * 1000,
        }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"study {args.study}: {out['trained_trials']} trained trials, {out['trial_seconds_mean']:.1f} s each; "
              f"overhead outside training {100 * out['overhead_share']:.2f}% "
              f"(per trial: {out['overhead_seconds_per_trial']} s)")
        r = out["reject"]
        print(f"rejecting {r['infeasible']}/{r['candidates']} infeasible candidates: whole Optuna trial "
              f"{r['whole_trial_ms_mean']:.2f} ms each (median trial duration {r['trial_duration_ms_median']:.2f} ms); "
              f"the decision alone (spec -> cost -> constraints) {r['decision_ms_median']:.3f} ms")
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
