"""Seconds to score one width configuration on a supernet: slice + BatchNorm recalibration + validation.

Loads CIFAR-10 (the offline image-folder archive), draws ``--samples`` networks of a search space
(structure and widths, seeds 0..N-1), takes the one whose params are nearest ``--params`` and the
supernet of its structure (weights untrained: the time does not depend on them), and times
:func:`mgsearch.oneshot.evaluation.score_config` ``--repeats`` times (median and min) with
``--calibration`` training images and ``--val`` validation images on ``--threads`` CPU threads.
With ``--before COMMIT`` the ``score_config`` of ``mgsearch/oneshot/evaluation.py`` at that commit
is timed in the same run, alternating with the current one (before, now, before, now, ...), so the
ratio is measured side by side under the same load. Prints the load average before and after (the
machine may be shared).

    MGSEARCH_DATA_ROOT=/work/scratch/data python benchmarks/bench_oneshot_eval.py --threads 2 --before 14d86d6
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
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


def scorer_at(commit: str):
    """``score_config`` of ``mgsearch/oneshot/evaluation.py`` as it was at ``commit`` (git show)."""
    text = subprocess.run(["git", "show", f"{commit}:mgsearch/oneshot/evaluation.py"], cwd=REPO, check=True,
                          capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"evaluation_{commit}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"evaluation_{commit}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.score_config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default=str(REPO / "search_spaces" / "resnet.toml"))
    p.add_argument("--archive", default=str(CIFAR_ARCHIVE))
    p.add_argument("--params", type=int, default=50_000)
    p.add_argument("--samples", type=int, default=400)
    p.add_argument("--calibration", type=int, default=512)
    p.add_argument("--calibration-batch", type=int, default=256)
    p.add_argument("--val", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--before", metavar="COMMIT", help="also time score_config as it was at COMMIT, alternating")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()}", flush=True)
    ds = load_dataset("imagefolder", args.archive, val_fraction=0.1, seed=0)
    space = SearchSpace.from_file(args.space)
    drawn = [record_structure(space, RandomChooser(seed)) + (seed,) for seed in range(args.samples)]
    structure, spec, seed = min(drawn, key=lambda d: abs(cost(d[1]).params - args.params))
    c = cost(spec)
    print(f"nearest {args.params:,} params of {args.samples} samples: seed {seed}, candidate {spec.short_hash}: "
          f"{c.params:,} params, {c.macs / 1e6:.1f} M MACs, depths {[s.depth for s in spec.stages]}; supernet "
          f"{structure.key} (largest {cost(structure.largest).params:,} params)", flush=True)
    supernet = Supernet(structure.largest)
    cal = calibration_images(ds, args.calibration, 0)
    arms = {"now": score_config}
    if args.before:
        arms = {f"before ({args.before})": scorer_at(args.before), "now": score_config}
    times: dict[str, list[float]] = {name: [] for name in arms}
    accs: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, fn in arms.items():
            t0 = time.perf_counter()
            result = fn(supernet, spec, ds, cal, val_images=args.val, batch_size=args.calibration_batch)
            times[name].append(time.perf_counter() - t0)
            accs[name] = result.val_acc
            print(f"  {name}: {times[name][-1]:.2f} s", flush=True)
    for name, ts in times.items():
        print(f"score_config {name} ({args.calibration} calibration + {args.val} validation images, {args.threads} "
              f"threads): median {statistics.median(ts):.2f} s, min {min(ts):.2f} s over {args.repeats} "
              f"(val acc of the untrained supernet {accs[name]:.4f})")
    if len(times) == 2:
        (a, ta), (b, tb) = times.items()
        print(f"ratio {a} / {b}: median {statistics.median(ta) / statistics.median(tb):.2f}x, "
              f"per pair {statistics.median([x / y for x, y in zip(ta, tb)]):.2f}x")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
