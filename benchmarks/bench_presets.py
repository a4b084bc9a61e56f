"""The families side by side at equal parameters (issue 12): each family's CIFAR preset scaled onto
about 50k and about 250k params, trained at ONE fixed protocol with several seeds on CIFAR-10.

For every (preset, size) the preset is fitted onto the budget exactly as a search fits its candidates
(:func:`mgsearch.search.budget.fit_to_budget`: the one scale-to-budget rule with ``grow``, then filled
slot by slot to >= 97 % of params <= size where the widths' steps allow), so that every family gets
the same parameter budget and keeps its own width profile; then, for each seed, the network is
trained from scratch and scored once on the official test split. Reported per row: params, MACs,
CPU inference images/s (eval mode, batch 128, median of timed passes), and test accuracy
(mean ± sd over the seeds, and each seed's value).

Resumable: every finished run is appended as one JSON line to ``--out``; a re-run skips the
(preset, size, seed, protocol) combinations already there, so the script can be stopped at any time.
Several ``run`` processes may share one ``--out`` (e.g. two of ``--threads 1`` on 2 cores, which
finish sooner than one of 2 threads): each skips what another finished or is training.

    python benchmarks/bench_presets.py run --sizes 50000,250000 --seeds 0,1,2 --epochs 5 \\
        --train-fraction 0.1 --out presets.jsonl
    python benchmarks/bench_presets.py speed --sizes 50000,250000 --out speed.jsonl   # on an idle machine
    python benchmarks/bench_presets.py table presets.jsonl --speed speed.jsonl  # markdown for docs/benchmarks.md

``speed`` measures the inference column apart from the training runs, every network side by side in
one sitting (rounds of one timed pass each, interleaved), so the column compares like with like even
when the training runs were spread over sessions or ran several at a time on a loaded machine; without
``--speed`` the table shows the median of the rates measured before each training run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_train import cifar10_root, machine  # noqa: E402

# One CIFAR preset per family / block form; names missing from this checkout are skipped with a note.
DEFAULT_PRESETS = (
    "resnet20", "mgic20", "dacnn-plain20", "dacnn-mix20", "mgnet-222-64", "poly-mgnet", "mgiad-small",
    "mobilenetv2-50k", "mgic-mobilenetv3-50k",
)


def protocol_key(args: argparse.Namespace) -> dict:
    """The protocol every row of one table shares (part of the resume key)."""
    return {"dataset": "cifar10", "epochs": args.epochs, "train_fraction": args.train_fraction,
            "batch_size": args.batch_size}


def scaled_spec(name: str, size: int, ds):
    """``name``'s spec for ``ds``'s shapes, scaled onto ``params <= size`` (None when it cannot fit)."""
    from mgsearch.presets import resolve_spec
    from mgsearch.search.budget import Budget, fit_to_budget

    spec = resolve_spec(name, in_channels=ds.in_channels, num_classes=ds.num_classes, input_size=ds.input_size)
    return fit_to_budget(spec, Budget(max_params=size))


def inference_rate(spec, threads: int, device: str, *, warmup: int = 3, repeats: int = 10) -> float:
    """Eval-mode images/s at batch 128 (median of ``repeats`` timed passes after ``warmup`` passes)."""
    import torch

    from mgsearch import build
    from mgsearch.cost import measure_latency

    torch.set_num_threads(threads)
    model = build(spec)
    lat = measure_latency(model, (128, spec.in_channels, spec.input_size, spec.input_size), device,
                          warmup=warmup, repeats=repeats)
    return 128 / (lat["median_ms"] / 1000.0)


def done_keys(out: Path) -> set[tuple]:
    keys = set()
    if out.is_file():
        for line in out.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                keys.add((r["preset"], r["size"], r["seed"], json.dumps(r["protocol"], sort_keys=True)))
    return keys


def chosen_presets(names: str) -> list[str]:
    """The comma-separated ``names`` that this checkout has; each missing one is skipped with a note."""
    from mgsearch.presets import preset_names

    known = set(preset_names())
    presets = [p for p in names.split(",") if p]
    for p in presets:
        if p not in known:
            print(f"bench_presets: preset {p!r} is not in this checkout; skipped", file=sys.stderr)
    return [p for p in presets if p in known]


def _claim(out: Path, key: tuple) -> bool:
    """Claim ``key`` for this process in ``<out>.claims`` unless a living process claimed it: several
    ``run`` processes (say one thread each on a 2-core machine) can then share one results file."""
    import fcntl
    import os

    path = out.with_name(out.name + ".claims")
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        for line in fh.read().splitlines():
            claim = json.loads(line)
            if tuple(claim["key"]) == key and claim["pid"] != os.getpid() and Path(f"/proc/{claim['pid']}").exists():
                return False
        fh.write(json.dumps({"key": list(key), "pid": os.getpid()}) + "\n")
    return True


def run(args: argparse.Namespace) -> int:
    from mgsearch.cost import cost
    from mgsearch.data import load_dataset
    from mgsearch.errors import TrainingDiverged
    from mgsearch.train import Fidelity, train

    out = Path(args.out)
    proto = protocol_key(args)
    ds = load_dataset("cifar10", args.data_root or cifar10_root())
    presets = chosen_presets(args.presets)
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    # Order: every preset at the first size with every seed before the next size, so a run cut short
    # leaves complete rows of the smaller table first.
    for size in sizes:
        for seed in seeds:
            for name in presets:
                key = (name, size, seed, json.dumps(proto, sort_keys=True))
                if key in done_keys(out) or not _claim(out, key):
                    continue  # finished, or in training by another process sharing --out
                spec = scaled_spec(name, size, ds)
                if spec is None:
                    print(f"bench_presets: {name} cannot fit {size} params; skipped", file=sys.stderr)
                    continue
                c = cost(spec)
                rate = inference_rate(spec, args.threads, args.device)
                t0 = time.perf_counter()
                try:
                    r = train(spec, ds, fidelity=Fidelity(epochs=args.epochs, train_fraction=args.train_fraction,
                                                          batch_size=args.batch_size),
                              seed=seed, threads=args.threads, progress=False, evaluate_test=True, device=args.device)
                    measured = {"train_images_per_second": r.images_per_second, "val_acc": r.val_acc,
                                "test_acc": r.test_acc, "device": r.device}
                except TrainingDiverged as e:  # a result of the protocol, recorded like any other
                    measured = {"train_images_per_second": None, "val_acc": None, "test_acc": None,
                                "device": args.device, "diverged": str(e)}
                row = {
                    "benchmark": "presets", "preset": name, "family": spec.family, "size": size, "seed": seed,
                    "protocol": proto, "params": c.params, "macs": c.macs, "spec_hash": spec.hash,
                    "inference_images_per_second": rate, **measured, "wall_seconds": time.perf_counter() - t0,
                    "threads": args.threads, "machine": machine(),
                    "date": datetime.now(timezone.utc).isoformat(),
                }
                with out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                print(json.dumps(row), file=sys.stderr, flush=True)
    return 0


def speed(args: argparse.Namespace) -> int:
    """Eval-mode inference images/s of every (preset, size), measured side by side: ``--rounds``
    rounds, each timing every network once (median of 5 passes after 2 warm-up passes), so a change
    in the machine's load during the sitting touches every network alike; the median over rounds is
    written as one JSON line per network to ``--out`` (replaced)."""
    from mgsearch.data import load_dataset

    ds = load_dataset("cifar10", args.data_root or cifar10_root())
    specs = []
    for size in (int(s) for s in args.sizes.split(",")):
        for name in chosen_presets(args.presets):
            spec = scaled_spec(name, size, ds)
            if spec is not None:
                specs.append((name, size, spec))
    rates: list[list[float]] = [[] for _ in specs]
    for round_ in range(args.rounds):
        for (_, _, spec), spec_rates in zip(specs, rates):
            spec_rates.append(inference_rate(spec, args.threads, args.device, warmup=2, repeats=5))
        print(f"bench_presets speed: round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    lines = [json.dumps({
        "benchmark": "presets-speed", "preset": name, "size": size, "spec_hash": spec.hash,
        "inference_images_per_second": statistics.median(spec_rates), "rounds": spec_rates,
        "threads": args.threads, "device": args.device, "machine": machine(),
        "date": datetime.now(timezone.utc).isoformat()}) for (name, size, spec), spec_rates in zip(specs, rates)]
    Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


def _speeds(path: str | None) -> dict[str, float]:
    """spec hash -> images/s from a ``speed`` file (empty without one)."""
    if path is None:
        return {}
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return {r["spec_hash"]: r["inference_images_per_second"] for r in rows}


def table(args: argparse.Namespace) -> int:
    rows = [json.loads(line) for line in Path(args.file).read_text().splitlines() if line.strip()]
    speeds = _speeds(args.speed)
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["size"], r["preset"], json.dumps(r["protocol"], sort_keys=True)), []).append(r)
    print("| size | preset | family | params | MACs | CPU infer img/s | seeds | test acc (mean ± sd) | per seed |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---|")
    for (size, preset, _), rs in sorted(groups.items()):
        ordered = sorted(rs, key=lambda r: r["seed"])
        accs = [r["test_acc"] for r in ordered if r.get("test_acc") is not None]
        per_seed = ", ".join("diverged" if r.get("test_acc") is None else f"{100 * r['test_acc']:.2f}" for r in ordered)
        spread = f" ± {100 * statistics.stdev(accs):.2f}" if len(accs) > 1 else " (one seed)"
        mean = f"{100 * statistics.mean(accs):.2f}{spread}" if accs else "diverged"
        if speeds:
            rate = f"{speeds[rs[0]['spec_hash']]:,.0f}" if rs[0]["spec_hash"] in speeds else "-"
        else:
            rate = f"{statistics.median(r['inference_images_per_second'] for r in rs):,.0f}"
        print(f"| {size:,} | {preset} | {rs[0]['family']} | {rs[0]['params']:,} | {rs[0]['macs'] / 1e6:.1f}M | "
              f"{rate} | {len(ordered)} | {mean} | {per_seed} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run", help="train the scaled presets (resumable)")
    r.add_argument("--presets", default=",".join(DEFAULT_PRESETS))
    r.add_argument("--sizes", default="50000,250000")
    r.add_argument("--seeds", default="0,1,2")
    r.add_argument("--epochs", type=int, default=5)
    r.add_argument("--train-fraction", type=float, default=0.1)
    r.add_argument("--batch-size", type=int, default=128)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--device", default="cpu")
    r.add_argument("--data-root", default=None)
    r.add_argument("--out", required=True, help="JSON lines file, appended to (resume key: preset, size, seed, protocol)")
    sp = sub.add_parser("speed", help="inference images/s of every network, side by side (idle machine)")
    sp.add_argument("--presets", default=",".join(DEFAULT_PRESETS))
    sp.add_argument("--sizes", default="50000,250000")
    sp.add_argument("--rounds", type=int, default=5)
    sp.add_argument("--threads", type=int, default=2)
    sp.add_argument("--device", default="cpu")
    sp.add_argument("--data-root", default=None)
    sp.add_argument("--out", required=True, help="JSON lines file, replaced")
    t = sub.add_parser("table", help="markdown table of a results file")
    t.add_argument("file")
    t.add_argument("--speed", default=None, help="a file written by `speed`: its rates fill the img/s column")
    args = p.parse_args(argv)
    return {"run": run, "speed": speed, "table": table}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
