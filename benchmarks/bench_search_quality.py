"""Search quality on CIFAR-10 (offline copy): best found architecture vs the best uniform baseline under
the same budget, and TPE vs random search at the same number of trials.

For every budget (``--budgets``), starting from the study file ``studies/cifar10-<budget>.toml``:

1. search with each sampler (``--samplers``, default tpe and random) for ``--trials`` trials at the
   search fidelity (``--epochs``, ``--train-fraction``), same seed, fresh SQLite database;
2. the uniform baseline: the largest uniform-width network of the space's reference structure within
   the budget (``uniform-1x`` of ``mgsearch baseline``);
3. retrain the best feasible architecture found by the first sampler and the baseline with the same
   longer protocol (``--retrain-epochs``, ``--retrain-fraction``) for each of ``--seeds`` seeds and measure
   TEST accuracy (the search only ever saw validation accuracy): mean and standard deviation.

Prints a Markdown table and a JSON line. Everything is parameterised so that the same script runs a
small version on a shared 2-core CPU and the full version on a GPU::

    python benchmarks/bench_search_quality.py --budgets 25k,50k --trials 4 --seeds 3 --test-subset 2000
    python benchmarks/bench_search_quality.py --budgets 50k,100k --trials 60 --epochs 10 \\
        --train-fraction 1 --retrain-epochs 100 --retrain-fraction 1 --seeds 5 --device cuda
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _mean_sd(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", default="25k,50k", help="comma-separated; studies/cifar10-<b>.toml must exist")
    ap.add_argument("--study-prefix", default=str(REPO / "studies" / "cifar10-"))
    ap.add_argument("--samplers", default="tpe,random")
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=1, help="search fidelity: epochs per trial")
    ap.add_argument("--train-fraction", type=float, default=0.025, help="search fidelity: share of the train split")
    ap.add_argument("--val-fraction", type=float, default=0.02)
    ap.add_argument("--pruner", default="none")
    ap.add_argument("--batch-size", type=int, default=None, help="search and retraining batch size (default: the study's)")
    ap.add_argument("--retrain-epochs", type=int, default=1)
    ap.add_argument("--retrain-fraction", type=float, default=0.05)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--test-subset", type=int, default=0,
                    help="evaluate on this many test images (a fixed seeded subset; 0 = the whole test split)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    import optuna

    from mgsearch.cost import cost
    from mgsearch.search import run_search
    from mgsearch.search.baselines import baseline_specs
    from mgsearch.search.budget import Budget
    from mgsearch.search.runner import prepare
    from mgsearch.spec import ArchSpec
    from mgsearch.study import load_study_config
    from mgsearch.train import Fidelity, Recipe, train

    started = time.time()
    report: dict = {"args": vars(args), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "machine": f"{platform.machine()}, {platform.node()}", "budgets": {}}
    samplers = [s for s in args.samplers.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        for budget_text in [b for b in args.budgets.split(",") if b]:
            study_file = f"{args.study_prefix}{budget_text}.toml"
            entry: dict = {"study": study_file, "search": {}}
            prepared = None
            best_spec = None
            for sampler in samplers:
                overrides = {"n_trials": args.trials, "epochs": args.epochs, "train_fraction": args.train_fraction,
                             "sampler": sampler, "pruner": args.pruner, "storage": f"sqlite:///{tmp}/{budget_text}.db",
                             "name": f"{budget_text}-{sampler}", "device": args.device, "threads": args.threads}
                if args.batch_size:
                    overrides["batch_size"] = args.batch_size
                config = load_study_config(study_file, overrides)
                config = config.replace(val_fraction=args.val_fraction)
                if prepared is None:
                    prepared = prepare(config)
                t0 = time.perf_counter()
                result = run_search(config, progress=False, prepared=prepared)
                trials = optuna.load_study(study_name=config.name, storage=config.storage).trials
                trained = [t for t in trials if t.user_attrs.get("status") == "trained"
                           and all(c <= 0 for c in t.user_attrs["constraints"])]
                best = max(trained, key=lambda t: t.user_attrs["val_acc"], default=None)
                entry["search"][sampler] = {
                    "seconds": time.perf_counter() - t0,
                    "counts": result.counts,
                    "best_val_acc": best.user_attrs["val_acc"] if best else None,
                    "mean_val_acc": statistics.mean(t.user_attrs["val_acc"] for t in trained) if trained else None,
                    "best_params": best.user_attrs["params"] if best else None,
                    "best_trial": best.number if best else None,
                }
                print(f"[{time.time() - started:.0f}s] {budget_text} {sampler}: {json.dumps(entry['search'][sampler])}",
                      file=sys.stderr, flush=True)
                if best_spec is None and best is not None:
                    best_spec = ArchSpec.from_json(best.user_attrs["spec"])
                    entry["found_spec"] = best.user_attrs["spec"]
            dataset, space, device = prepared
            if args.test_subset:
                import dataclasses

                import torch

                keep = torch.randperm(dataset.test_x.shape[0], generator=torch.Generator().manual_seed(0))
                keep = keep[: args.test_subset]
                dataset = dataclasses.replace(dataset, test_x=dataset.test_x[keep], test_y=dataset.test_y[keep])
            budget = Budget.from_config(config)
            _, uniform = baseline_specs(space, budget, [1.0])[0]
            entry["baseline_spec"] = uniform.to_json()
            fidelity = Fidelity(epochs=args.retrain_epochs, train_fraction=args.retrain_fraction,
                                batch_size=config.batch_size)
            for label, spec in (("found", best_spec), ("uniform", uniform)):
                if spec is None:
                    continue
                accs = []
                for seed in range(args.seeds):
                    r = train(spec, dataset, fidelity=fidelity, recipe=Recipe(**dict(config.recipe)), seed=seed,
                              device=device, evaluate_test=True, progress=False, threads=args.threads)
                    accs.append(float(r.test_acc))
                    print(f"[{time.time() - started:.0f}s] {budget_text} {label} seed {seed}: test acc {accs[-1]:.4f}",
                          file=sys.stderr, flush=True)
                mean, sd = _mean_sd(accs)
                c = cost(spec)
                entry[label] = {"params": c.params, "macs": c.macs, "test_acc": accs, "mean": mean, "sd": sd}
            report["budgets"][budget_text] = entry
            print(f"[{time.time() - started:.0f}s] budget {budget_text} done", file=sys.stderr, flush=True)
    report["wall_seconds"] = time.time() - started

    print("| budget | sampler | trials (trained/infeasible/dup) | best val acc | mean val acc |")
    print("|---|---|---|---|---|")
    for b, e in report["budgets"].items():
        for s, r in e["search"].items():
            c = r["counts"]
            best = f"{r['best_val_acc']:.4f}" if r["best_val_acc"] is not None else "-"
            mean = f"{r['mean_val_acc']:.4f}" if r["mean_val_acc"] is not None else "-"
            print(f"| {b} | {s} | {c.get('trained', 0)}/{c.get('infeasible', 0)}/{c.get('duplicate', 0)} | {best} | {mean} |")
    print()
    print(f"| budget | network | params | MACs | test acc over {args.seeds} seeds (mean ± sd) |")
    print("|---|---|---|---|---|")
    for b, e in report["budgets"].items():
        for label in ("found", "uniform"):
            if label in e:
                r = e[label]
                print(f"| {b} | {label} | {r['params']:,} | {r['macs']:,} | {r['mean']:.4f} ± {r['sd']:.4f} |")
    print()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
