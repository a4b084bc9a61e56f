"""LW-DNA vs uniform widths at equal budget and equal from-scratch protocol.

    python benchmarks/bench_lwdna.py [--datasets fashion-mnist,cifar10] [--nets resnet20,mgiad-small]
        [--budgets 1.0,0.5] [--seeds 3] [--distill off|on|both] [--kd-only D:NET,...] [--kd-budgets 1.0]
        [--epochs 1] [--train-subset 500]
        [--val 300] [--test 1000] [--batch-size 64] [--warmup-epochs 0.2] [--widen 2] [--keep-ratio 0.3]
        [--importance-batches 1] [--threads 2] [--device cpu] [--time-limit 1500] [--out results.jsonl]

``--train-subset 0``, ``--val 0`` and ``--test 0`` mean the whole split.

For each dataset and preset ``P`` (shaped to the dataset) and each seed:

* parent = ``widen(P, W)``; channel scores = grad-init on the parent (timed: LW-DNA's extra cost);
* for each budget fraction ``b`` (limits: ``b`` x P's params AND ``b`` x P's MACs):
  uniform = P itself at ``b = 1``, else the largest uniformly scaled P within the limits;
  LW-DNA = the parent shrunk to the same limits (``fit_widths``; when the keep ratio makes that
  impossible, as MGIC stages can, the keep ratio is halved until it fits, and recorded);
* both are trained from scratch with ``mgsearch.train.train`` at the same fidelity, recipe and seed,
  and evaluated on the (subsampled) test split; with distillation, the parent is trained once per
  seed with the same protocol as the teacher and BOTH arms get the KD loss (0.4, T=4).

The pipeline's extra cost is reported in epochs of the LW-DNA network's own training (scoring time,
plus the teacher's training when distilling). Loops run seed-major so that a time limit still leaves
every configuration with at least one seed (and distillation-free runs go first, all seeds); each finished run is appended to ``--out`` as JSON and
a markdown summary is printed at the end (mean, sample standard deviation, n).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from mgsearch.cost import cost  # noqa: E402
from mgsearch.errors import BudgetError  # noqa: E402
from mgsearch.data import load_dataset  # noqa: E402
from mgsearch.presets import resolve_spec  # noqa: E402
from mgsearch.shrink import channel_importance, fit_widths, widen  # noqa: E402
from mgsearch.shrink.pipeline import kd_loss_hook  # noqa: E402
from mgsearch.fitting import narrowest, scale_to_budget  # noqa: E402
from mgsearch.spec import width_slots  # noqa: E402
from mgsearch.train import Fidelity, Recipe, train  # noqa: E402

CIFAR_ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cifar10-jpeg.tar.xz"


def load(name: str, args: argparse.Namespace):
    subset = args.train_subset or None  # 0 = the whole training split
    if name == "cifar10":
        if args.cifar_archive:
            archive = Path(args.cifar_archive)
        else:
            archive = CIFAR_ARCHIVE if CIFAR_ARCHIVE.is_file() else Path("/work/shared/datasets/cifar10-jpeg.tar.xz")
        ds = load_dataset("imagefolder", archive, val_fraction=0.02, seed=0, train_subset=subset)
        ds = dataclasses.replace(ds, name="cifar10")
    else:
        ds = load_dataset(name, val_fraction=0.02, seed=0, train_subset=subset)
    g = torch.Generator().manual_seed(0)
    vi = torch.randperm(len(ds.val_x), generator=g)[: args.val or None]  # 0 = all
    ti = torch.randperm(len(ds.test_x), generator=g)[: args.test or None]
    return dataclasses.replace(ds, val_x=ds.val_x[vi], val_y=ds.val_y[vi], test_x=ds.test_x[ti], test_y=ds.test_y[ti])


def run_train(spec_or_model, ds, args, seed: int, hook=None) -> dict:
    r = train(spec_or_model, ds, fidelity=Fidelity(epochs=args.epochs, batch_size=args.batch_size), seed=seed,
              recipe=Recipe(warmup_epochs=args.warmup_epochs), evaluate_test=True, loss_hook=hook,
              threads=args.threads, progress=False, device=args.device)
    return {"val_acc": r.val_acc, "test_acc": r.test_acc, "train_seconds": r.train_seconds, "model": r.model}


def summarise(rows: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["net"], r["budget"], r["distill"], r["arm"]), []).append(r)
    lines = [
        "| dataset | net | budget | KD | arm | params (mean) | MACs (mean) | test acc % (mean ± sd, n) | extra cost (epochs) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(groups, key=lambda k: (k[0], k[1], -k[2], k[3], k[4] != "uniform")):
        g = groups[key]
        mean_p = round(statistics.mean(r["params"] for r in g))
        mean_m = round(statistics.mean(r["macs"] for r in g))
        accs = [100 * r["test_acc"] for r in g]
        sd = statistics.stdev(accs) if len(accs) > 1 else float("nan")
        extra = [r["extra_epochs"] for r in g if r.get("extra_epochs") is not None]
        lines.append(
            f"| {key[0]} | {key[1]} | {key[2]:g}x | {'yes' if key[3] else 'no'} | {key[4]} | "
            f"{mean_p:,} | {mean_m:,} | {statistics.mean(accs):.2f} ± {sd:.2f} ({len(accs)}) | "
            f"{statistics.mean(extra):.2f} |" if extra else
            f"| {key[0]} | {key[1]} | {key[2]:g}x | {'yes' if key[3] else 'no'} | {key[4]} | "
            f"{mean_p:,} | {mean_m:,} | {statistics.mean(accs):.2f} ± {sd:.2f} ({len(accs)}) | - |"
        )
    return "\n".join(lines)


def summarise_files(paths: list[str]) -> str:
    """The markdown summary of one or more ``--out`` files (``--summarise FILE ...``)."""
    rows = [json.loads(line) for p in paths for line in Path(p).read_text().splitlines() if line.strip()]
    return summarise(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="fashion-mnist,cifar10")
    ap.add_argument("--nets", default="resnet20,mgiad-small")
    ap.add_argument("--budgets", default="1.0,0.5")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds are first-seed .. first-seed + seeds - 1")
    ap.add_argument("--distill", choices=("off", "on", "both"), default="both")
    ap.add_argument("--kd-only", default="", help="restrict distilled runs to dataset:net pairs (comma list)")
    ap.add_argument("--kd-budgets", default="", help="budgets of the distilled runs (default: --budgets)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-subset", type=int, default=500)
    ap.add_argument("--val", type=int, default=300)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--warmup-epochs", type=float, default=0.2, help="recipe warm-up (default recipe: 1.0)")
    ap.add_argument("--widen", type=float, default=2.0)
    ap.add_argument("--keep-ratio", type=float, default=0.3)
    ap.add_argument("--importance-batches", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu or cuda: training and grad-init scoring run there")
    ap.add_argument("--cifar-archive", default="", help="path of cifar10-jpeg.tar.xz (default: ../shared/datasets)")
    ap.add_argument("--time-limit", type=float, default=1500.0)
    ap.add_argument("--out", default="bench_lwdna.jsonl")
    ap.add_argument("--summarise", nargs="+", metavar="FILE", help="only print the summary of earlier --out files")
    args = ap.parse_args(argv)
    if args.summarise:
        print(summarise_files(args.summarise))
        return 0
    torch.set_num_threads(args.threads)
    start = time.monotonic()
    datasets = args.datasets.split(",")
    nets = args.nets.split(",")
    budgets = [float(b) for b in args.budgets.split(",")]
    distills = {"off": [False], "on": [True], "both": [False, True]}[args.distill]
    kd_only = set(filter(None, args.kd_only.split(",")))
    kd_budgets = [float(b) for b in (args.kd_budgets or args.budgets).split(",")]
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.processor() or platform.machine()}, "
          f"torch {torch.__version__}, {args.threads} threads; args: {vars(args)}", flush=True)
    rows: list[dict] = []
    out = open(args.out, "w")
    loaded: dict = {}
    scored: dict = {}
    teachers: dict = {}
    stopped = False
    # distillation-free runs first (all seeds), then the distilled ones: a time limit cuts KD first
    for distill in distills:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for dname in datasets:
                if dname not in loaded:
                    loaded[dname] = load(dname, args)
                ds = loaded[dname]
                for net in nets:
                    if distill and kd_only and f"{dname}:{net}" not in kd_only:
                        continue
                    if time.monotonic() - start > args.time_limit:
                        stopped = True
                        break
                    base = resolve_spec(net, in_channels=ds.in_channels, num_classes=ds.num_classes,
                                        input_size=ds.input_size)
                    bc = cost(base)
                    parent = widen(base, args.widen)
                    if (dname, net, seed) not in scored:
                        t0 = time.perf_counter()
                        scores = channel_importance(parent, ds, batches=args.importance_batches, seed=seed,
                                                    device=args.device)
                        scored[(dname, net, seed)] = (scores, time.perf_counter() - t0)
                    scores, score_s = scored[(dname, net, seed)]
                    hook = teacher = None
                    if distill:
                        if (dname, net, seed) not in teachers:
                            teachers[(dname, net, seed)] = run_train(parent, ds, args, seed)
                        teacher = teachers[(dname, net, seed)]
                        hook = kd_loss_hook(teacher["model"])
                    for b in (kd_budgets if distill else budgets):
                        lim_p, lim_m = int(b * bc.params), int(b * bc.macs)
                        uniform = base if b == 1.0 else (scale_to_budget(
                            base, lambda s, p=lim_p, m=lim_m: (c := cost(s)).params <= p and c.macs <= m, grow=True)
                            or narrowest(base))
                        keep = args.keep_ratio
                        while True:  # MGIC ladders may need a smaller keep ratio to reach the budget
                            try:
                                fit = fit_widths(parent, scores, max_params=lim_p, max_macs=lim_m, keep_ratio=keep)
                                break
                            except BudgetError:
                                if keep < 0.05:
                                    raise
                                keep /= 2
                        previous = None
                        for arm, spec in (("uniform", uniform), ("LW-DNA", fit.spec)):
                            if previous is not None and spec == previous[0]:
                                res = dict(previous[1], same_as_uniform=True)  # identical spec: same run
                            else:
                                res = run_train(spec, ds, args, seed, hook)
                            previous = (spec, res)
                            c = cost(spec)
                            epoch_s = res["train_seconds"] / args.epochs
                            extra = None
                            if arm == "LW-DNA":
                                extra = (score_s + (teacher["train_seconds"] if distill else 0.0)) / epoch_s
                            row = {
                                "dataset": dname, "net": net, "budget": b, "distill": distill, "arm": arm,
                                "seed": seed, "params": c.params, "macs": c.macs, "val_acc": res["val_acc"],
                                "test_acc": res["test_acc"], "train_seconds": res["train_seconds"],
                                "score_seconds": score_s if arm == "LW-DNA" else None, "extra_epochs": extra,
                                "widths": [s.value for s in width_slots(spec)],
                                "teacher_test_acc": teacher["test_acc"] if distill else None,
                                "same_as_uniform": bool(res.get("same_as_uniform")),
                                "keep_ratio": keep if arm == "LW-DNA" else None,
                            }
                            rows.append(row)
                            out.write(json.dumps(row) + "\n")
                            out.flush()
                            print(f"[{time.monotonic() - start:6.0f}s] {dname} {net} b={b:g} kd={distill} "
                                  f"seed={seed} {arm} keep={row['keep_ratio']}: test {100 * res['test_acc']:.2f}% params {c.params:,} "
                                  f"macs {c.macs:,} widths {row['widths']}", flush=True)
                if stopped:
                    break
            if stopped:
                break
        if stopped:
            break
    out.close()
    print()
    if stopped:
        print(f"(time limit {args.time_limit:g} s reached: stopped before distill={distill}, seed {seed}, "
              f"dataset {dname}, net {net}; no later run started)")
    print(f"total {time.monotonic() - start:.0f} s")
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
