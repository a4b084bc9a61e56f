"""Benchmarks of the training engine (results go to docs/benchmarks.md, section "Training engine").

``throughput``: images/s of :func:`mgsearch.train.train` against a bare hand-written PyTorch loop doing
the same work (same model built from the same spec and seed, batch size, in-memory uint8 data, the
same kind of augmentation: per-image random crop with 4-pixel reflect padding, horizontal flip,
normalisation; SGD + Nesterov, label smoothing, a per-step cosine schedule; channels_last layout),
measured side by side in one process with interleaved repeats (A B B A ...). Reported: the median
training-phase images/s of each and their ratio, plus train()'s end-to-end rate (which also pays for
building the model and the per-epoch validation pass the search needs).

``table``: validation / test accuracy and wall time of presets on datasets at several epoch counts.

    python benchmarks/bench_train.py throughput --model resnet20 --images 2560 --repeats 5
    python benchmarks/bench_train.py table --models resnet20,mgiad-small --datasets fashion-mnist,cifar10 \\
        --epochs 1,5,15 --train-fraction 0.1 --out bench-train.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import mgsearch  # noqa: E402
from mgsearch.data import load_dataset  # noqa: E402
from mgsearch.presets import resolve_spec  # noqa: E402
from mgsearch.train import Fidelity, Recipe, train  # noqa: E402
from mgsearch.training.runtime import autocast  # noqa: E402


def cifar10_root() -> str | None:
    """The offline CIFAR-10 archive beside the repository (or in /work/shared/datasets)."""
    for candidate in (REPO.parent / "shared" / "datasets", Path("/work/shared/datasets")):
        if (candidate / "cifar10-jpeg.tar.xz").is_file():
            return str(candidate / "cifar10-jpeg.tar.xz")
    return None


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {len(__import__('os').sched_getaffinity(0))} CPUs, torch {torch.__version__}"


# ------------------------------------------------------------------------------------------ throughput


def bare_loop(spec, ds, batch_size: int, seed: int, threads: int, device: str = "cpu") -> float:
    """One epoch of a hand-written loop over ``ds.train_x``; returns training images/s.

    On CUDA it does what a careful hand-written loop does there: data resident on the GPU, augmentation
    on the GPU, bf16 autocast, channels_last.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    dev = torch.device(device)
    cuda = dev.type == "cuda"
    model = mgsearch.build(spec).to(device=dev, memory_format=torch.channels_last)
    model.train()
    x, y = ds.train_x.to(dev), ds.train_y.to(dev)
    n = x.shape[0]
    steps = n // batch_size
    opt = torch.optim.SGD(model.parameters(), lr=0.1 * batch_size / 128, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    mean = torch.tensor(ds.mean, device=dev).view(1, -1, 1, 1)
    std = torch.tensor(ds.std, device=dev).view(1, -1, 1, 1)
    scale, shift = 1.0 / (255.0 * std), -mean / std
    gen = torch.Generator(device=dev).manual_seed(seed)
    pad, size, c = ds.input_size // 8, ds.input_size, ds.in_channels
    ar = torch.arange(size, device=dev)
    bidx = torch.arange(batch_size, device=dev)[:, None, None, None]
    cidx = torch.arange(c, device=dev)[None, :, None, None]
    if cuda:
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    perm = torch.randperm(n, generator=gen, device=dev)
    for i in range(steps):
        idx = perm[i * batch_size : (i + 1) * batch_size]
        xb = F.pad(x[idx].float(), (pad, pad, pad, pad), mode="reflect")
        oy, ox = torch.randint(0, 2 * pad + 1, (2, batch_size), generator=gen, device=dev)
        xb = xb[bidx, cidx, (oy[:, None] + ar)[:, None, :, None], (ox[:, None] + ar)[:, None, None, :]]
        if ds.flip:
            coin = torch.rand(batch_size, generator=gen, device=dev) < 0.5
            xb = torch.where(coin[:, None, None, None], xb.flip(3), xb)
        xb = (xb * scale + shift).contiguous(memory_format=torch.channels_last)
        with autocast(dev):  # bf16 on CUDA, off on CPU, as train() does
            loss = F.cross_entropy(model(xb), y[idx], label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    if cuda:
        torch.cuda.synchronize(dev)
    return steps * batch_size / (time.perf_counter() - t0)


def engine(spec, ds, batch_size: int, seed: int, threads: int, device: str = "cpu") -> tuple[float, float]:
    """One epoch of mgsearch.train; (training-phase images/s, end-to-end images/s)."""
    t0 = time.perf_counter()
    r = train(spec, ds, fidelity=Fidelity(epochs=1, batch_size=batch_size), recipe=Recipe(), seed=seed,
              threads=threads, progress=False, device=device)
    wall = time.perf_counter() - t0
    return r.images_per_second, r.history[0]["images"] / wall


def throughput(args: argparse.Namespace) -> dict:
    root = args.data_root or (cifar10_root() if args.dataset == "cifar10" else None)
    # exactly --images training images (a multiple of the batch size) and a small validation split
    ds = load_dataset(args.dataset, root, train_subset=args.images, val_fraction=args.val_fraction)
    spec = resolve_spec(args.model, in_channels=ds.in_channels, num_classes=ds.num_classes, input_size=ds.input_size)
    bare_rates, engine_rates, engine_e2e = [], [], []
    # warm-up: oneDNN primitive creation, allocator
    bare_loop(spec, ds, args.batch_size, 0, args.threads, args.device)
    engine(spec, ds, args.batch_size, 0, args.threads, args.device)
    for rep in range(args.repeats):
        order = ("bare", "engine") if rep % 2 == 0 else ("engine", "bare")
        for which in order:
            if which == "bare":
                bare_rates.append(bare_loop(spec, ds, args.batch_size, rep, args.threads, args.device))
            else:
                tr, e2e = engine(spec, ds, args.batch_size, rep, args.threads, args.device)
                engine_rates.append(tr)
                engine_e2e.append(e2e)
        print(f"repeat {rep + 1}: bare {bare_rates[-1]:.1f} img/s, train() {engine_rates[-1]:.1f} img/s "
              f"(end-to-end {engine_e2e[-1]:.1f})", file=sys.stderr)
    ratios = [e / b for e, b in zip(engine_rates, bare_rates)]
    out = {
        "benchmark": "throughput", "model": args.model, "dataset": args.dataset, "images": int(ds.train_x.shape[0]),
        "val_images": int(ds.val_x.shape[0]), "batch_size": args.batch_size, "threads": args.threads,
        "repeats": args.repeats, "device": args.device, "bare_median": statistics.median(bare_rates),
        "engine_median": statistics.median(engine_rates), "engine_end_to_end_median": statistics.median(engine_e2e),
        "ratio_of_medians": statistics.median(engine_rates) / statistics.median(bare_rates),
        "ratio_median_paired": statistics.median(ratios), "bare": bare_rates, "engine": engine_rates,
        "engine_end_to_end": engine_e2e, "machine": machine(), "date": datetime.now(timezone.utc).isoformat(),
    }
    return out


# ------------------------------------------------------------------------------------------------ table


def table(args: argparse.Namespace) -> list[dict]:
    rows = []
    out_file = Path(args.out) if args.out else None
    epochs_list = [int(e) for e in args.epochs.split(",")]
    for epochs in epochs_list:
        for dataset in args.datasets.split(","):
            root = cifar10_root() if dataset == "cifar10" and not args.data_root else args.data_root
            ds = load_dataset(dataset, root)
            for model in args.models.split(","):
                spec = resolve_spec(model, in_channels=ds.in_channels, num_classes=ds.num_classes,
                                    input_size=ds.input_size)
                t0 = time.perf_counter()
                r = train(spec, ds, fidelity=Fidelity(epochs=epochs, train_fraction=args.train_fraction,
                                                      batch_size=args.batch_size),
                          seed=args.seed, threads=args.threads, progress=False, evaluate_test=True,
                          device=args.device)
                row = {
                    "benchmark": "table", "model": model, "dataset": dataset, "epochs": epochs,
                    "train_fraction": args.train_fraction, "train_images": r.history[0]["images"],
                    "val_acc": r.val_acc, "test_acc": r.test_acc, "wall_seconds": time.perf_counter() - t0,
                    "train_seconds": r.train_seconds, "images_per_second": r.images_per_second,
                    "params": r.params, "macs": r.macs, "threads": args.threads, "seed": args.seed,
                    "device": r.device,
                    "machine": machine(), "date": datetime.now(timezone.utc).isoformat(),
                }
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
                if out_file:
                    with out_file.open("a") as f:
                        f.write(json.dumps(row) + "\n")
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| model | dataset | epochs | train images | val acc | test acc | wall s | train img/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['dataset']} | {r['epochs']} | {r['train_images']:,} | "
                     f"{r['val_acc']:.4f} | {r['test_acc']:.4f} | {r['wall_seconds']:.0f} | "
                     f"{r['images_per_second']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    t = sub.add_parser("throughput", help="train() vs a bare loop, interleaved")
    t.add_argument("--model", default="resnet20")
    t.add_argument("--dataset", default="cifar10")
    t.add_argument("--data-root", default=None)
    t.add_argument("--images", type=int, default=2560, help="training images per run (default 2560 = 20 batches)")
    t.add_argument("--val-fraction", type=float, default=0.01)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--repeats", type=int, default=5)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--device", default="cpu", help="cpu or cuda (both loops run on it)")
    a = sub.add_parser("table", help="accuracy / time of presets at several epoch counts")
    a.add_argument("--models", default="resnet20,mgiad-small")
    a.add_argument("--datasets", default="fashion-mnist,cifar10")
    a.add_argument("--data-root", default=None)
    a.add_argument("--epochs", default="1,5,15")
    a.add_argument("--train-fraction", type=float, default=1.0)
    a.add_argument("--batch-size", type=int, default=128)
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--device", default="cpu")
    a.add_argument("--out", default=None, help="append one JSON line per run to this file")
    args = p.parse_args(argv)
    if args.what == "throughput":
        res = throughput(args)
        print(json.dumps(res, indent=2))
    else:
        rows = table(args)
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
