"""Several derived runs at a time (``mgsearch confirm --jobs N``): wall time of the same planned runs
trained one after another with all the threads vs ``jobs`` at a time with a share of the threads each.

Protocol (fixed before any result, 2026-12-01): CIFAR-10 (the offline copy), the 50k-param
ResNet-20 of the outcome benchmark (``resnet20`` fitted onto 50k params) and the same network at
100k; each at seeds 0 and 1: 4 runs of ``--epochs`` epochs on ``--train-fraction`` of the training
split, test accuracy at the end, through :func:`mgsearch.search.retrain.run_planned` (the code path
of ``confirm`` and ``calibrate``) into a fresh SQLite database per arm. Arms alternate (1, N, 1, N,
...) for ``--rounds`` rounds so that a change of load hits both; reported: each arm's wall seconds,
the ratio per round (sequential / parallel: above 1 means the jobs are faster), and whether the
arms' test accuracies agree (they need not: a run's numbers depend on its thread count).

    python benchmarks/bench_jobs.py --jobs 2 --rounds 2 --epochs 1 --train-fraction 0.2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_train import cifar10_root, machine  # noqa: E402

SIZES = (50_000, 100_000)
SEEDS = (0, 1)


def planned_runs(config, dataset, epochs: int, fraction: float) -> list:
    """The 4 planned runs: resnet20 fitted onto each size, each seed."""
    from mgsearch.presets import resolve_spec
    from mgsearch.search.budget import Budget, fit_to_budget
    from mgsearch.search.retrain import PlannedRun, study_protocol

    protocol = study_protocol(config, epochs=epochs, train_fraction=fraction)
    runs = []
    for size in SIZES:
        base = resolve_spec("resnet20", in_channels=dataset.in_channels, num_classes=dataset.num_classes,
                            input_size=dataset.input_size)
        spec = fit_to_budget(base, Budget(max_params=size))
        for seed in SEEDS:
            runs.append(PlannedRun("confirm", spec, protocol, seed, f"resnet20@{size // 1000}k", test=True,
                                   attrs={"source_study": "bench_jobs", "source_trial": size}))
    return runs


def study_config(folder: Path, data_root: str, threads: int):
    from mgsearch.study import load_study_config

    (folder / "space.toml").write_text((REPO / "benchmarks" / "outcome_space.toml").read_text())
    path = folder / "jobs.toml"
    path.write_text(f'[study]\nspace = "space.toml"\n[data]\ndataset = "cifar10"\nroot = "{data_root}"\n'
                    f'val_fraction = 0.1\n[budget]\nmax_params = "100k"\n[device]\nname = "cpu"\n'
                    f'threads = {threads}\n')
    return load_study_config(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="threads in all (default: the CPUs available)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-fraction", type=float, default=0.2)
    ap.add_argument("--data-root", default=cifar10_root())
    ap.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = ap.parse_args(argv)
    if not args.data_root:
        raise SystemExit("bench_jobs: no CIFAR-10 archive found; pass --data-root")

    from mgsearch.data import load_dataset
    from mgsearch.search.retrain import run_planned
    from mgsearch.search.runner import quiet_optuna
    from mgsearch.training.runtime import default_threads

    quiet_optuna(False)

    threads = args.threads or default_threads()
    dataset = load_dataset("cifar10", args.data_root, val_fraction=0.1, seed=0)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_jobs-") as tmp:
        config = study_config(Path(tmp), args.data_root, threads)
        runs = planned_runs(config, dataset, args.epochs, args.train_fraction)
        for rnd in range(args.rounds):
            for jobs in (1, args.jobs):
                t0 = time.perf_counter()
                records = run_planned(config, f"round{rnd}-jobs{jobs}", runs, dataset=dataset, device="cpu",
                                      what="confirm", progress=False, jobs=jobs)
                seconds = time.perf_counter() - t0
                accs = [r.test_acc for r in records]
                rows.append({"round": rnd, "jobs": jobs, "seconds": seconds, "test_accs": accs})
                print(f"round {rnd} jobs {jobs}: {seconds:.1f} s, test acc {accs}", flush=True)
    ratios = []
    for rnd in range(args.rounds):
        one = next(r for r in rows if r["round"] == rnd and r["jobs"] == 1)
        many = next(r for r in rows if r["round"] == rnd and r["jobs"] == args.jobs)
        ratios.append(one["seconds"] / many["seconds"])
    result = {"date": datetime.now(timezone.utc).isoformat(), "machine": machine(), "threads": threads,
              "jobs": args.jobs, "epochs": args.epochs, "train_fraction": args.train_fraction, "rows": rows,
              "ratios": ratios, "median_ratio": statistics.median(ratios)}
    print(f"sequential / {args.jobs} jobs wall time per round: {', '.join(f'{r:.2f}' for r in ratios)} "
          f"(median {result['median_ratio']:.2f})")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
