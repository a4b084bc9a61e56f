"""Ranking fidelity of one-shot scores (issue 14, item 3): Kendall's tau between the one-shot score of
width configurations and their accuracy when trained alone, on one structure.

The protocol is fixed here, before any result was seen (a shared 2-core CPU affords ~20 min):

* data: CIFAR-10 (the offline image-folder archive), validation split 10 % of the training images
  (seed 0), test split the official 10,000;
* structure: ``search_spaces/tiny.toml`` shaped to CIFAR-10 (32x32, 10 classes), the structure drawn
  by ``RandomChooser(0)``; ``--configs`` (12) distinct width configurations drawn uniformly from its
  width domains with ``random.Random(1)``;
* supernet: the sandwich rule with in-place distillation (``random_configs = 2``), ``--epochs`` (3)
  epochs on ``--train-fraction`` (0.1) of the training split, batch 128, the default recipe, seed 0;
  one-shot score: BatchNorm recalibrated on 512 training images, accuracy on the first 2,000
  validation images (the ``oneshot`` strategy's defaults);
* from scratch: each configuration trained alone by ``mgsearch.train`` at the same epochs, fraction,
  batch, recipe and seed; its validation accuracy (all validation images) and test accuracy;
* statistics: ``mgsearch.evidence.calibration`` (Spearman, Kendall tau-b, 95 % bootstrap intervals,
  top-3 overlap) of one-shot score vs test accuracy, and vs validation accuracy.

Results are appended to ``--out`` (JSON lines, one per configuration; a re-run resumes). One torch
thread: on a shared machine two threads per process spin against each other.

    MGSEARCH_DATA_ROOT=/work/scratch/data python benchmarks/bench_oneshot_rank.py --out rank.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
CIFAR_ARCHIVE = Path("/work/shared/datasets/cifar10-jpeg.tar.xz")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--archive", default=str(CIFAR_ARCHIVE))
    p.add_argument("--space", default=str(REPO / "search_spaces" / "tiny.toml"))
    p.add_argument("--configs", type=int, default=12)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-fraction", type=float, default=0.1)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.environ.setdefault("MGSEARCH_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from mgsearch.cost import cost
    from mgsearch.data import load_dataset
    from mgsearch.evidence import calibration
    from mgsearch.oneshot.evaluation import calibration_images, score_config
    from mgsearch.oneshot.slicing import Supernet
    from mgsearch.oneshot.structure import record_structure
    from mgsearch.oneshot.training import SandwichProtocol, stderr_progress, train_supernet
    from mgsearch.space import RandomChooser, SearchSpace
    from mgsearch.train import Fidelity, train
    from mgsearch.training.recipe import Recipe

    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} load average: {os.getloadavg()}", flush=True)
    ds = load_dataset("imagefolder", args.archive, val_fraction=0.1, seed=0)
    space = SearchSpace.from_file(args.space).with_overrides(
        in_channels=ds.in_channels, num_classes=ds.num_classes, input_size=ds.input_size)
    structure, _ = record_structure(space, RandomChooser(0))
    rng = random.Random(1)
    configs, seen = [], set()
    for _ in range(1000):
        spec = structure.random(rng)
        if spec.hash not in seen:
            seen.add(spec.hash)
            configs.append(spec)
        if len(configs) == args.configs:
            break
    print(f"structure {structure.key}: largest {cost(structure.largest).params:,} params; {len(configs)} configurations "
          f"of {min(cost(s).params for s in configs):,} to {max(cost(s).params for s in configs):,} params", flush=True)
    out = Path(args.out)
    done = {}
    if out.exists():
        for line in out.read_text().splitlines():
            record = json.loads(line)
            done[record["spec_hash"]] = record
    torch.manual_seed(0)
    supernet = Supernet(structure.largest)
    protocol = SandwichProtocol(epochs=args.epochs, train_fraction=args.train_fraction, batch_size=128,
                                recipe=Recipe(), seed=0)
    t0 = time.perf_counter()
    train_supernet(supernet, structure, ds, protocol, device=torch.device("cpu"), progress=stderr_progress)
    supernet_seconds = time.perf_counter() - t0
    cal = calibration_images(ds, 512, 0)
    fidelity = Fidelity(epochs=args.epochs, train_fraction=args.train_fraction, batch_size=128)
    for i, spec in enumerate(configs):
        score = score_config(supernet, spec, ds, cal, val_images=2000)
        if spec.hash in done:
            done[spec.hash]["oneshot"] = score.val_acc
            continue
        t0 = time.perf_counter()
        result = train(spec, ds, fidelity=fidelity, seed=0, evaluate_test=True, progress=False)
        record = {"index": i, "spec_hash": spec.hash, "params": int(cost(spec).params), "oneshot": score.val_acc,
                  "oneshot_seconds": score.seconds, "val_acc": result.val_acc, "test_acc": result.test_acc,
                  "train_seconds": time.perf_counter() - t0}
        done[spec.hash] = record
        with out.open("a") as f:
            f.write(json.dumps(record) + "\n")
        print(f"config {i}: {record['params']:,} params, one-shot {score.val_acc:.4f} ({score.seconds:.1f} s), "
              f"from scratch val {result.val_acc:.4f} test {result.test_acc:.4f} ({record['train_seconds']:.0f} s)",
              flush=True)
    rows = [done[s.hash] for s in configs]
    print(f"supernet training {supernet_seconds:.0f} s ({args.epochs} epochs, fraction {args.train_fraction})")
    for what in ("test_acc", "val_acc"):
        cal_result = calibration([(f"config {r['index']}", r["oneshot"], r[what]) for r in rows], top_k=3)
        print(f"one-shot score vs from-scratch {what}: {cal_result.text()}")
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
