"""The outcome benchmark (issue 14): does mgsearch's answer beat the networks a user would build by hand?

For each budget, using only mgsearch's own commands on the offline CIFAR-10 copy:

1. ``mgsearch search``: a one-shot width search (``strategy = "oneshot"``) in a fixed ResNet-20
   structure with free layer-wise widths (``benchmarks/outcome_space.toml``), candidates fitted onto
   the budget;
2. ``mgsearch baseline``: the dense CIFAR ResNet profile scaled to the budget and the space's uniform
   network at the budget;
3. ``mgsearch confirm --top 1 --seeds 3``: the best found network and the baselines retrained from
   scratch at the final protocol, test accuracy once at the end;
4. the LW-DNA leg (issue 14: accuracy-guided LW-DNA vs its uniform parent at equal budget, same
   protocol): ``mgsearch search`` of a second study, ``strategy = "lwdna"`` with ``importance =
   "slimmable"``, ``widen = 2``, ``group_fraction = 0.2`` (twice the default greedy step, so that the
   shrink's ~13 scored networks per step take about half the steps) and ``base = "uniform"`` (the network widened is the ``uniform@budget``
   baseline itself; in this one-structure dense space that is also ``dense-resnet@budget``), one
   trial: the x2 parent trained as a slimmable network at the search fidelity, shrunk greedily to the
   budget; then ``mgsearch confirm --top 1 --seeds 3`` of that study at the same protocol. Its
   confirmed accuracy is compared with the confirmed baseline of step 3 whose spec is the LW-DNA
   base (checked by spec hash), so the parent is not trained twice.
5. the calibrate leg (issue 14 item 3, ``--legs calibrate``, not run by default: 12 trainings at the
   confirm protocol): ``mgsearch calibrate --n 12`` of the outcome study: 12 candidates drawn from the
   space and fitted to the budget, each scored on the study's supernet (the same file as the search's)
   and trained alone at the confirm protocol; Kendall's tau-b between the two (goal: at least 0.5).
   Added 2026-11-30 after the 50k main leg's search had run and before any of its confirm results.

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
    python benchmarks/bench_outcome.py --budgets 50k --device cuda --protocol paper --work /tmp/outcome-paper
    python benchmarks/bench_outcome.py --budgets 50k --dry --work /tmp/outcome-dry       # tiny rehearsal
    python benchmarks/bench_outcome.py --budgets 50k --legs main --work /tmp/outcome     # without step 4
    python benchmarks/bench_outcome.py --budgets 50k --legs calibrate --work /tmp/outcome  # step 5 alone
    python benchmarks/bench_outcome.py --budgets 50k --legs calibrate --jobs 2 --work /tmp/outcome  # 2 runs at a time

Time on this repository's CPU machine (2 cores, idle; measured throughput of a 50k-param ResNet-20,
7.7M MACs: about 760 training images/s): the confirm step alone trains 2 networks x 3 seeds x 15
epochs x 45,000 images, about 1.5 h; with the 50 min search the main leg takes about 2.5 h per budget,
over the issue's 2 h goal, and the LW-DNA leg adds about 50 min. Every step resumes, so a run may be
spread over several sessions (the wall time reported is the sum of the steps' own times).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACE = REPO / "benchmarks" / "outcome_space.toml"

#: the fixed protocol (see the module docstring); --dry replaces it by a tiny one for a rehearsal
PROTOCOL = {
    "supernet_epochs": 5, "supernet_fraction": 0.5, "search_epochs": 2, "search_fraction": 0.2,
    "confirm_epochs": 15, "confirm_fraction": 1.0, "seeds": 3, "n_trials": 1000, "lwdna_widen": 2.0,
    "calibrate_n": 12,
}
#: ``--protocol paper``: the seed papers' training length (MGIC's code: 200 epochs; DACNN's: 300; AutoSlim
#: trains the slimmable network as long as a plain one): supernet and confirm 200 epochs on the whole
#: training split. Hours even on a GPU (about 2 h per budget on one H200); no result of it exists yet.
PAPER = {**PROTOCOL, "supernet_epochs": 200, "supernet_fraction": 1.0, "confirm_epochs": 200}
DRY = {
    "supernet_epochs": 1, "supernet_fraction": 0.02, "search_epochs": 1, "search_fraction": 0.02,
    "confirm_epochs": 1, "confirm_fraction": 0.02, "seeds": 2, "n_trials": 4, "lwdna_widen": 1.25,
    "calibrate_n": 3,
}


# the CLI as this interpreter runs it (a GPU image may put the repository on PYTHONPATH with no console script)
MGSEARCH = [sys.executable, "-m", "mgsearch"]


def child_env() -> dict[str, str]:
    """The environment of every mgsearch command: this repository first on ``PYTHONPATH``, so the
    commands run this checkout's mgsearch from any working directory, installed or not (a lost editable
    install once stopped a run here with "No module named mgsearch")."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def cifar10_archive() -> str:
    for candidate in (REPO.parent / "shared" / "datasets", Path("/work/shared/datasets")):
        if (candidate / "cifar10-jpeg.tar.xz").is_file():
            return str(candidate / "cifar10-jpeg.tar.xz")
    raise SystemExit("bench_outcome: the offline CIFAR-10 archive (../shared/datasets/cifar10-jpeg.tar.xz) is missing")


def _shared_tables(budget: str, p: dict) -> tuple[str, str]:
    """The tables both study files share: (``[data]`` to ``[budget]``, ``[confirm]``)."""
    data = f"""[data]
dataset = "cifar10"
root = "{cifar10_archive()}"
val_fraction = 0.1
train_fraction = {p['search_fraction']}

[fidelity]
epochs = {p['search_epochs']}
batch_size = 128

[budget]
max_params = "{budget}"

"""
    confirm = f"""[confirm]
epochs = {p['confirm_epochs']}
train_fraction = {p['confirm_fraction']}
top = 1
seeds = {p['seeds']}
"""
    return data, confirm


def study_text(budget: str, p: dict) -> str:
    """The study file of one budget (written once; the protocol lives in it)."""
    data, confirm = _shared_tables(budget, p)
    return f"""# Written by benchmarks/bench_outcome.py: the outcome benchmark at {budget} params.
[study]
space = "{SPACE}"
strategy = "oneshot"
seed = 0
n_trials = {p['n_trials']}
sampler = "tpe"

{data}[oneshot]
epochs = {p['supernet_epochs']}
train_fraction = {p['supernet_fraction']}
calibration_images = 512
val_images = 2000

{confirm}"""


def lwdna_study_text(budget: str, p: dict) -> str:
    """The LW-DNA leg's study file: the outcome study's data, fidelity, budget and confirm protocol,
    with ``strategy = "lwdna"`` (one trial) instead of the one-shot search."""
    data, confirm = _shared_tables(budget, p)
    return (f"# Written by benchmarks/bench_outcome.py: the LW-DNA leg of the outcome benchmark at {budget} params.\n"
            f'[study]\nspace = "{SPACE}"\nstrategy = "lwdna"\nseed = 0\nn_trials = 1\nsampler = "tpe"\n\n'
            f"{data}"
            '[lwdna]\nbase = "uniform"      # the uniform@budget baseline is the network widened\n'
            f'importance = "slimmable"\nwiden = {p["lwdna_widen"]}\n'
            "group_fraction = 0.2  # twice the default step: about half the greedy steps (time, fixed before any result)\n\n"
            f"{confirm}")


def write_study(path: Path, text: str) -> None:
    """Write a study file once; a file already there must say the same (a work folder holds one protocol)."""
    if path.exists():
        if path.read_text() != text:
            raise SystemExit(f"bench_outcome: {path} was written for another protocol or data path; "
                             "use another --work folder")
        return
    path.write_text(text)


class Ledger:
    """Seconds spent per step across interrupted runs, in ``<work>/<name>.steps.json`` (rewritten
    every ``HEARTBEAT`` s while a step runs, so a killed run loses at most that much of the count).
    The wall times reported are its sums; the search's time limit is what the ledger leaves of it."""

    HEARTBEAT = 15.0

    def __init__(self, path: Path):
        self.path = path
        self.steps: dict = json.loads(path.read_text()) if path.exists() else {}

    def spent(self, name: str) -> float:
        return float(self.steps.get(name, {}).get("seconds", 0.0))

    def done(self, name: str) -> bool:
        return bool(self.steps.get(name, {}).get("done", False))

    def _save(self, name: str, seconds: float, done: bool) -> None:
        self.steps[name] = {"seconds": seconds, "done": done}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.steps, indent=1))
        tmp.replace(self.path)

    def run(self, name: str, cmd: list[str], log: Path) -> tuple[int, float, str]:
        """Run one mgsearch command, its stderr to ``log``; returns (exit code, seconds over all
        attempts, stdout)."""
        before, t0 = self.spent(name), time.perf_counter()
        print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {name}: {' '.join(cmd)}", file=sys.stderr, flush=True)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.HEARTBEAT):
                self._save(name, before + time.perf_counter() - t0, False)

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            with log.open("a") as err:
                r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=child_env())
        finally:
            stop.set()
            thread.join()
        seconds = before + time.perf_counter() - t0
        self._save(name, seconds, r.returncode == 0)
        print(f"  -> exit {r.returncode} in {time.perf_counter() - t0:.0f} s ({seconds:.0f} s over all attempts)",
              file=sys.stderr, flush=True)
        return r.returncode, seconds, r.stdout


def lwdna_base_hash(study: Path) -> str | None:
    """The spec hash of the network the LW-DNA trial widened (its ``lwdna_base_spec``), or None."""
    import optuna

    from mgsearch.spec import ArchSpec

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{study.with_suffix('.db')}"
    trials = optuna.load_study(study_name=study.stem, storage=storage).get_trials(deepcopy=False)
    for t in trials:
        base = t.user_attrs.get("lwdna_base_spec")
        if base:
            return ArchSpec.from_json(base).hash
    return None


def jobs_flags(args: argparse.Namespace) -> list[str]:
    """``--jobs N`` for the commands that train derived runs (confirm, calibrate), when N > 1. It changes
    how many runs train at a time, not the protocol (a run's numbers depend on its thread count only)."""
    return ["--jobs", str(args.jobs)] if args.jobs > 1 else []


def run_lwdna(budget: str, args: argparse.Namespace, p: dict, main: dict) -> dict:
    """Step 4 (see the module docstring): LW-DNA's confirmed network against its confirmed parent."""
    work = Path(args.work)
    study = work / f"outcome-lwdna-{budget}.toml"
    write_study(study, lwdna_study_text(budget, p))
    log = work / f"outcome-lwdna-{budget}.log"
    common = ["--device", args.device, *(["--threads", str(args.threads)] if args.threads else [])]
    result: dict = {"study": str(study), "steps": {}}
    ledger = Ledger(work / f"outcome-lwdna-{budget}.steps.json")
    out = ""
    for name, cmd in (("search", [*MGSEARCH, "search", str(study), "--no-progress", *common]),
                      ("confirm", [*MGSEARCH, "confirm", str(study), "--json", "--no-progress", *common,
                                   *jobs_flags(args)])):
        rc, s, out = ledger.run(name, cmd, log)
        result["steps"][name] = {"exit": rc, "seconds": s}
        if rc != 0:
            raise SystemExit(f"bench_outcome: lwdna {name} exited {rc}; see {log} (re-run to resume)")
    confirmed = json.loads(out) if out.strip() else {}
    found = confirmed.get("found")
    base_hash = lwdna_base_hash(study)
    parent = next((g for g in (main.get("confirm") or {}).get("groups", [])
                   if g["role"] == "baseline" and g["spec_hash"] == base_hash), None)
    result.update(lwdna=found, parent=parent, base_hash=base_hash)
    if found and parent:
        d = 100 * (found["mean"] - parent["mean"])
        overlap = min(found["test_accs"]) <= max(parent["test_accs"]) and min(parent["test_accs"]) <= max(found["test_accs"])
        result["difference_points"] = d
        result["ranges_overlap"] = overlap
        result["sentence"] = (f"LW-DNA (slimmable) is {abs(d):.2f} points {'above' if d >= 0 else 'below'} its uniform "
                              f"parent {parent['label']} (seeds' ranges {'overlap' if overlap else 'do not overlap'})")
    else:
        result["sentence"] = ("no comparison: the LW-DNA base is not among the confirmed baselines "
                              f"(base hash {base_hash})")
    return result


def run_calibrate_leg(budget: str, study: Path, args: argparse.Namespace, p: dict) -> dict:
    """Step 5 (see the module docstring): ``mgsearch calibrate`` of the outcome study: the Kendall rank
    correlation of the one-shot score with from-scratch test accuracy at the confirm protocol."""
    work = Path(args.work)
    common = ["--device", args.device, *(["--threads", str(args.threads)] if args.threads else [])]
    ledger = Ledger(work / f"outcome-{budget}.steps.json")
    log = work / f"outcome-{budget}.log"
    cmd = [*MGSEARCH, "calibrate", str(study), "--n", str(p["calibrate_n"]), "--json", "--no-progress", *common,
           *jobs_flags(args)]
    rc, seconds, out = ledger.run("calibrate", cmd, log)
    if rc != 0:
        raise SystemExit(f"bench_outcome: calibrate exited {rc}; see {log} (re-run to resume)")
    cal = json.loads(out) if out.strip() else {}
    kendall = cal.get("kendall")
    return {"exit": rc, "seconds": seconds, "result": cal,
            "goal_met": bool(kendall is not None and kendall >= 0.5)}


def run_budget(budget: str, args: argparse.Namespace, p: dict) -> dict:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    study = work / f"outcome-{budget}.toml"
    write_study(study, study_text(budget, p))
    log = work / f"outcome-{budget}.log"
    common = ["--device", args.device, *(["--threads", str(args.threads)] if args.threads else [])]
    result: dict = {"budget": budget, "protocol": p, "device": args.device, "study": str(study), "steps": {}}
    if "main" in args.legs:
        run_main(budget, study, log, common, args, result)
    if "lwdna" in args.legs:
        result["lwdna"] = run_lwdna(budget, args, p, result)
    if "calibrate" in args.legs:
        result["calibrate"] = run_calibrate_leg(budget, study, args, p)
    result["date"] = datetime.now(timezone.utc).isoformat()
    (work / f"outcome-{budget}{'' if 'main' in args.legs else '-' + '-'.join(sorted(args.legs))}.json").write_text(
        json.dumps(result, indent=2))
    return result


def run_main(budget: str, study: Path, log: Path, common: list[str], args: argparse.Namespace, result: dict) -> None:
    """Steps 1-3 (see the module docstring) into ``result``."""
    ledger = Ledger(Path(args.work) / f"outcome-{budget}.steps.json")
    # the search's time box spans interrupted runs: a re-run gets what the ledger leaves of it
    search_left = args.search_minutes * 60 - ledger.spent("search")
    search_cmd = [*MGSEARCH, "search", str(study), "--timeout", f"{max(search_left, 1):.0f}", "--no-progress", *common]
    out = ""
    for name, cmd in (("search", search_cmd),
                      ("baseline", [*MGSEARCH, "baseline", str(study), "--no-progress", *common]),
                      ("confirm", [*MGSEARCH, "confirm", str(study), "--json", "--no-progress", *common,
                                   *jobs_flags(args)])):
        if name == "search" and (ledger.done(name) or search_left < 30):
            result["steps"][name] = {"exit": 0, "seconds": ledger.spent(name)}
            continue
        rc, s, out = ledger.run(name, cmd, log)
        result["steps"][name] = {"exit": rc, "seconds": s}
        if rc != 0:
            raise SystemExit(f"bench_outcome: {name} exited {rc}; see {log} (re-run to resume)")
    try:
        result["confirm"] = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        result["confirm"] = None
        result["confirm_stdout"] = out[-2000:]
    result["wall_seconds"] = sum(step["seconds"] for step in result["steps"].values())
    c = result.get("confirm") or {}
    diff, overlap = c.get("difference_points"), c.get("ranges_overlap")
    result["goal_met"] = bool(diff is not None and diff >= 1.0 and overlap is False)


def summary(results: list[dict]) -> str:
    lines = ["| budget | network | params | test acc (mean ± sd) | seeds |", "|---|---|---:|---:|---|"]
    sentences = []
    for r in results:
        c = r.get("confirm") or {}
        for g in c.get("groups", []):
            lines.append(f"| {r['budget']} | {g['role']}: {g['label']} | {g['params']:,} | "
                         f"{100 * g['mean']:.2f} ± {100 * g['sd']:.2f} | "
                         f"{', '.join(f'{100 * a:.2f}' for a in g['test_accs'])} |")
        lw = r.get("lwdna")
        if lw and lw.get("lwdna"):
            g = lw["lwdna"]
            lines.append(f"| {r['budget']} | lwdna (slimmable, x2 of the uniform parent) | {g['params']:,} | "
                         f"{100 * g['mean']:.2f} ± {100 * g['sd']:.2f} | "
                         f"{', '.join(f'{100 * a:.2f}' for a in g['test_accs'])} |")
            sentences.append(f"- {r['budget']}: {lw['sentence']}; LW-DNA leg {sum(s['seconds'] for s in lw['steps'].values()) / 60:.0f} min")
        if "wall_seconds" in r:
            sentences.append(f"- {r['budget']}: {c.get('sentence', 'no confirm result')}; goal met: {r['goal_met']}; "
                             f"wall {r['wall_seconds'] / 60:.0f} min (search {r['steps']['search']['seconds'] / 60:.0f}, "
                             f"baseline {r['steps']['baseline']['seconds'] / 60:.0f}, "
                             f"confirm {r['steps']['confirm']['seconds'] / 60:.0f})")
        cal = r.get("calibrate")
        if cal:
            sentences.append(f"- {r['budget']}: calibrate (one-shot score vs confirm-protocol test accuracy): "
                             f"{cal['result'].get('text', 'no result')}; Kendall >= 0.5: {cal['goal_met']}; "
                             f"{cal['seconds'] / 60:.0f} min")
    return "\n".join(lines + [""] + sentences)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", default="50k,100k")
    ap.add_argument("--work", required=True, help="folder for the study files, database, logs and results")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=1,
                    help="runs that confirm and calibrate train at a time (mgsearch's --jobs; default 1)")
    ap.add_argument("--search-minutes", type=float, default=50.0, help="the search's time limit (default 50)")
    ap.add_argument("--legs", default="main,lwdna",
                    help="main (steps 1-3), lwdna (step 4, needs main), calibrate (step 5, alone or after the "
                         "others); default main,lwdna")
    ap.add_argument("--protocol", choices=("standard", "paper"), default="standard",
                    help="standard: the fixed protocol above (15 confirm epochs); paper: 200-epoch supernet and "
                         "confirm on the whole training split (for a GPU)")
    ap.add_argument("--dry", action="store_true", help="a tiny rehearsal of every command (not a result)")
    args = ap.parse_args(argv)
    p = dict(DRY if args.dry else PAPER if args.protocol == "paper" else PROTOCOL)
    args.legs = {leg for leg in args.legs.split(",") if leg}
    if not args.legs or not args.legs <= {"main", "lwdna", "calibrate"} or ("lwdna" in args.legs and "main" not in args.legs):
        raise SystemExit(f"bench_outcome: --legs={','.join(sorted(args.legs))}: allowed main, lwdna, calibrate "
                         "(lwdna needs main's confirmed parent)")
    if args.dry:
        args.search_minutes = min(args.search_minutes, 5.0)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    results = [run_budget(b, args, p) for b in args.budgets.split(",") if b]
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
