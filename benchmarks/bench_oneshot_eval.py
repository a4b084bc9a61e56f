"""Seconds to score one width configuration on a supernet: slice + BatchNorm recalibration + validation.

Loads CIFAR-10 (the offline image-folder archive), takes one structure of a search space, builds its
supernet (weights untrained: the time does not depend on them), picks the random width configuration
of that structure whose params are nearest ``--params``, and times
:func:`mgsearch.oneshot.evaluation.score_config` ``--repeats`` times (median and min reported) with
``--calibration`` training images and ``--val`` validation images on ``--threads`` CPU threads.
Prints the machine's load average before and after (the machine may be shared).

    MGSEARCH_DATA_ROOT=/work/scratch/data python benchmarks/bench_oneshot_eval.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from mgsearch.cost import cost  # noqa: E402
from mgsearch.data import load_dataset  # noqa: E402
from mgsearch.oneshot.evaluation import calibration_images, score_config  # noqa: E402
from mgsearch.oneshot.slicing import Supernet  # noqa: E402
from mgsearch.oneshot.structure import record_structure  # noqa: E402
from mgsearch.space import RandomChooser, SearchSpace  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CIFAR_ARCHIVE = Path("/work/shared/datasets/cifar10-jpeg.tar.xz")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default=str(REPO / "search_spaces" / "resnet.toml"))
    p.add_argument("--archive", default=str(CIFAR_ARCHIVE))
    p.add_argument("--params", type=int, default=50_000)
    p.add_argument("--calibration", type=int, default=512)
    p.add_argument("--calibration-batch", type=int, default=256)
    p.add_argument("--val", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()}", flush=True)
    ds = load_dataset("imagefolder", args.archive, val_fraction=0.1, seed=0)
    space = SearchSpace.from_file(args.space)
    structure, _ = record_structure(space, RandomChooser(args.seed))
    rng = random.Random(args.seed)
    candidates = [structure.random(rng) for _ in range(300)]
    spec = min(candidates, key=lambda s: abs(cost(s).params - args.params))
    c = cost(spec)
    print(f"structure {structure.key}: largest {cost(structure.largest).params:,} params; candidate {spec.short_hash}: "
          f"{c.params:,} params, {c.macs / 1e6:.1f} M MACs, depths {[s.depth for s in spec.stages]}", flush=True)
    supernet = Supernet(structure.largest)
    cal = calibration_images(ds, args.calibration, args.seed)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result = score_config(supernet, spec, ds, cal, val_images=args.val, batch_size=args.calibration_batch)
        times.append(time.perf_counter() - t0)
    print(f"score_config ({args.calibration} calibration + {args.val} validation images, {args.threads} threads): "
          f"median {statistics.median(times):.2f} s, min {min(times):.2f} s over {args.repeats} "
          f"(val acc of the untrained supernet {result.val_acc:.3f})")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
