"""The outcome benchmark (issue 14): does mgsearch's answer beat the networks a user would build by hand?

For each budget, using only mgsearch's own commands on the offline CIFAR-10 copy:

1. ``mgsearch search``: a one-shot width search (``strategy = "oneshot"``) in a fixed ResNet-20
   structure with free layer-wise widths (``benchmarks/outcome_space.toml``), candidates fitted onto
   the budget;
2. ``mgsearch baseline``: the dense CIFAR ResNet profile scaled to the budget and the space's uniform
   network at the budget;
3. ``mgsearch confirm --top 1 --seeds 3``: the best found network and the baselines retrained from
   scratch at the final protocol, test accuracy once at the end.

The protocol is fixed here, before any result was seen (2026-11-30), and is the same for every budget:

- data: CIFAR-10, validation = 10 % of the training split (seeded, stratified), test = official split;
- search: supernet trained ``SUPERNET_EPOCHS`` epochs on ``SUPERNET_FRACTION`` of the training split
  (sandwich rule, in-place distillation), configurations scored on 2,000 validation images after BN
  recalibration on 512 training images; TPE sampler, seed 0; the search stops starting trials after
  ``--search-minutes``;
- baselines at the search's from-scratch fidelity (only so that they are stored; their confirmed
  numbers are what counts);
- confirm: ``CONFIRM_EPOCHS`` epochs on the full training split (default recipe: SGD + Nesterov, cosine,
  label smoothing 0.1), seeds 0, 1, 2; the goal: the found network at least 1.0 point above the better
  baseline with the seeds' ranges not overlapping.

Every step is an mgsearch command, and every command resumes, so re-running the script after an
interrupt continues where it stopped. Results: ``<work>/outcome-<budget>.json`` and a markdown summary
on stdout.

    python benchmarks/bench_outcome.py --budgets 50k,100k --work /tmp/outcome            # CPU, ~2 h per budget
    python benchmarks/bench_outcome.py --budgets 50k,100k --device cuda --work /tmp/outcome
    python benchmarks/bench_outcome.py --budgets 50k --dry --work /tmp/outcome-dry       # tiny rehearsal
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACE = REPO / "benchmarks" / "outcome_space.toml"

#: the fixed protocol (see the module docstring); --dry replaces it by a tiny one for a rehearsal
PROTOCOL = {
    "supernet_epochs": 5, "supernet_fraction": 0.5, "search_epochs": 2, "search_fraction": 0.2,
    "confirm_epochs": 15, "confirm_fraction": 1.0, "seeds": 3, "n_trials": 1000,
}
DRY = {
    "supernet_epochs": 1, "supernet_fraction": 0.02, "search_epochs": 1, "search_fraction": 0.02,
    "confirm_epochs": 1, "confirm_fraction": 0.02, "seeds": 2, "n_trials": 4,
}


def cifar10_archive() -> str:
    for candidate in (REPO.parent / "shared" / "datasets", Path("/work/shared/datasets")):
        if (candidate / "cifar10-jpeg.tar.xz").is_file():
            return str(candidate / "cifar10-jpeg.tar.xz")
    raise SystemExit("bench_outcome: the offline CIFAR-10 archive (../shared/datasets/cifar10-jpeg.tar.xz) is missing")


def study_text(budget: str, p: dict) -> str:
    """The study file of one budget (written once; the protocol lives in it)."""
    return f"""# Written by benchmarks/bench_outcome.py: the outcome benchmark at {budget} params.
[study]
space = "{SPACE}"
strategy = "oneshot"
seed = 0
n_trials = {p['n_trials']}
sampler = "tpe"

[data]
dataset = "cifar10"
root = "{cifar10_archive()}"
val_fraction = 0.1
train_fraction = {p['search_fraction']}

[fidelity]
epochs = {p['search_epochs']}
batch_size = 128

[budget]
max_params = "{budget}"

[oneshot]
epochs = {p['supernet_epochs']}
train_fraction = {p['supernet_fraction']}
calibration_images = 512
val_images = 2000

[confirm]
epochs = {p['confirm_epochs']}
train_fraction = {p['confirm_fraction']}
top = 1
seeds = {p['seeds']}
"""


def step(name: str, cmd: list[str], log: Path, timeout: float | None = None) -> tuple[int, float, str]:
    """Run one mgsearch command, its stderr to ``log``; returns (exit code, seconds, stdout)."""
    t0 = time.perf_counter()
    print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
    with log.open("a") as err:
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout)
            rc, out = r.returncode, r.stdout
        except subprocess.TimeoutExpired as e:
            rc, out = 124, (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
    seconds = time.perf_counter() - t0
    print(f"  -> exit {rc} in {seconds:.0f} s", file=sys.stderr, flush=True)
    return rc, seconds, out


def run_budget(budget: str, args: argparse.Namespace, p: dict) -> dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    study = work / f"outcome-{budget}.toml"
    if not study.exists():
        study.write_text(study_text(budget, p))
    log = work / f"outcome-{budget}.log"
    common = ["--device", args.device, *(["--threads", str(args.threads)] if args.threads else [])]
    result: dict = {"budget": budget, "protocol": p, "device": args.device, "study": str(study), "steps": {}}
    t_start = time.perf_counter()
    search_cmd = ["mgsearch", "search", str(study), "--timeout", f"{args.search_minutes}m", "--no-progress", *common]
    out = ""
    for name, cmd in (("search", search_cmd),
                      ("baseline", ["mgsearch", "baseline", str(study), "--no-progress", *common]),
                      ("confirm", ["mgsearch", "confirm", str(study), "--json", "--no-progress", *common])):
        rc, s, out = step(name, cmd, log)
        result["steps"][name] = {"exit": rc, "seconds": s}
        if rc != 0:
            raise SystemExit(f"bench_outcome: {name} exited {rc}; see {log} (re-run to resume)")
    try:
        result["confirm"] = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        result["confirm"] = None
        result["confirm_stdout"] = out[-2000:]
    result["wall_seconds"] = time.perf_counter() - t_start
    c = result.get("confirm") or {}
    diff, overlap = c.get("difference_points"), c.get("ranges_overlap")
    result["goal_met"] = bool(diff is not None and diff >= 1.0 and overlap is False)
    result["date"] = datetime.now(timezone.utc).isoformat()
    (work / f"outcome-{budget}.json").write_text(json.dumps(result, indent=2))
    return result


def summary(results: list[dict]) -> str:
    lines = ["| budget | network | params | test acc (mean ± sd) | seeds |", "|---|---|---:|---:|---|"]
    sentences = []
    for r in results:
        c = r.get("confirm") or {}
        for g in c.get("groups", []):
            lines.append(f"| {r['budget']} | {g['role']}: {g['label']} | {g['params']:,} | "
                         f"{100 * g['mean']:.2f} ± {100 * g['sd']:.2f} | "
                         f"{', '.join(f'{100 * a:.2f}' for a in g['test_accs'])} |")
        sentences.append(f"- {r['budget']}: {c.get('sentence', 'no confirm result')}; goal met: {r['goal_met']}; "
                         f"wall {r['wall_seconds'] / 60:.0f} min (search {r['steps']['search']['seconds'] / 60:.0f}, "
                         f"baseline {r['steps']['baseline']['seconds'] / 60:.0f}, "
                         f"confirm {r['steps']['confirm']['seconds'] / 60:.0f})")
    return "\n".join(lines + [""] + sentences)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", default="50k,100k")
    ap.add_argument("--work", required=True, help="folder for the study files, database, logs and results")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--search-minutes", type=float, default=50.0, help="the search's time limit (default 50)")
    ap.add_argument("--dry", action="store_true", help="a tiny rehearsal of every command (not a result)")
    args = ap.parse_args(argv)
    p = dict(DRY if args.dry else PROTOCOL)
    if args.dry:
        args.search_minutes = min(args.search_minutes, 5.0)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    results = [run_budget(b, args, p) for b in args.budgets.split(",") if b]
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
