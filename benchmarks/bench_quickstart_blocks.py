"""The quickstart with MGIC convs vs with the MGIC authors' V-cycle block (issue 12: "the quickstart may
switch to the faithful MGIC block if it scores better at equal budget on the quickstart protocol").

Protocol, fixed before any result was seen (2026-11-30): the shipped ``studies/quickstart.toml`` as it
is (Fashion-MNIST, 50k params with every candidate fitted onto the budget, 30 trials of 3 epochs on
20 % of the training split, TPE seed 0, median pruner), once with its own space
(``search_spaces/mgic.toml``: MGIC convs) and once with ``benchmarks/quickstart_vcycle_space.toml``
(the same stages, depths and group sizes, every stage the authors' V-cycle block); each searched in
its own database, then ``mgsearch confirm --top 1 --seeds 3`` at the study's ``[confirm]`` protocol
(6 epochs on 20 %, seeds 0-2, test accuracy once at the end). Compared: the confirmed best found
network of each (mean ± sd over the seeds, whether the seeds' ranges overlap), and the search's
best validation accuracy and wall time. The quickstart switches only if the V-cycle side is higher
with non-overlapping ranges.

Only mgsearch commands; each resumes, so re-running continues. A folder ``<work>/conv`` that already
holds a finished quickstart study (e.g. a copy of ``studies/quickstart.db`` after ``mgsearch search``,
``baseline`` and ``confirm``) is reused as the conv side (its confirmed runs included)::

    MGSEARCH_DATA_ROOT=/work/scratch/data python benchmarks/bench_quickstart_blocks.py --work /tmp/qs-blocks
    python benchmarks/bench_quickstart_blocks.py --work /tmp/qs-blocks-dry --dry   # 2 trials, 1 epoch on 1 %
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPACES = {"conv": REPO / "search_spaces" / "mgic.toml", "vcycle": REPO / "benchmarks" / "quickstart_vcycle_space.toml"}


def study_file(folder: Path, space: Path) -> Path:
    """The shipped quickstart study in ``folder`` with ``space`` (absolute) as its space; for the
    shipped space itself the study file is the shipped one word for word (its space found through a
    ``search_spaces`` link beside ``folder``), so that a copied quickstart database resumes in it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "quickstart.toml"
    if not path.exists() and space == SPACES["conv"]:
        link = folder.parent / "search_spaces"
        if not link.exists():
            link.symlink_to(REPO / "search_spaces", target_is_directory=True)
        path.write_text((REPO / "studies" / "quickstart.toml").read_text())
    if not path.exists():
        text, n = re.subn(r'(?m)^space = "[^"]*"', f'space = "{space}"', (REPO / "studies" / "quickstart.toml").read_text())
        if n != 1:
            raise SystemExit("bench_quickstart_blocks: studies/quickstart.toml has no single `space = ...` line")
        path.write_text(text)
    return path


def mgsearch(*args: str, log: Path) -> tuple[str, float]:
    """Run one mgsearch command (stderr to ``log``); its stdout and seconds; exits on failure."""
    t0 = time.perf_counter()
    print(f"[{datetime.now(timezone.utc):%H:%M:%S}] mgsearch {' '.join(args)}", file=sys.stderr, flush=True)
    with log.open("a") as err:
        r = subprocess.run(["mgsearch", *args], stdout=subprocess.PIPE, stderr=err, text=True)
    if r.returncode != 0:
        raise SystemExit(f"bench_quickstart_blocks: mgsearch {args[0]} exited {r.returncode}; see {log} (re-run to resume)")
    return r.stdout, time.perf_counter() - t0


#: --dry: a rehearsal of every command (not a result)
DRY_SEARCH = ("--n-trials", "2", "--epochs", "1", "--train-fraction", "0.01")
DRY_CONFIRM = ("--epochs", "1", "--train-fraction", "0.01")


def run_side(name: str, work: Path, *, dry: bool = False) -> dict:
    folder = work / name
    study = study_file(folder, SPACES[name])
    log = folder / "run.log"
    search, search_s = mgsearch("search", str(study), "--no-progress", "--json", *(DRY_SEARCH if dry else ()), log=log)
    confirm, confirm_s = mgsearch("confirm", str(study), "--top", "1", "--seeds", "3", "--json", "--no-progress",
                                  *(DRY_CONFIRM if dry else ()), log=log)
    s, c = json.loads(search), json.loads(confirm)
    result = {"side": name, "space": str(SPACES[name]), "date": datetime.now(timezone.utc).isoformat(), "search": s,
              "confirm": c, "found": c.get("found"), "search_seconds_this_run": search_s,
              "confirm_seconds_this_run": confirm_s}
    (folder / "result.json").write_text(json.dumps(result, indent=1, default=str))
    return result


def summary(sides: list[dict]) -> str:
    lines = ["| block | found network | params | MACs | confirmed test acc (mean ± sd) | seeds |",
             "|---|---|---:|---:|---:|---|"]
    for side in sides:
        g = side["found"]
        lines.append(f"| {side['side']} | {g['label']} | {g['params']:,} | {g['macs']:,} | "
                     f"{100 * g['mean']:.2f} ± {100 * g['sd']:.2f} | {', '.join(f'{100 * a:.2f}' for a in g['test_accs'])} |")
    a, b = (side["found"] for side in sides)
    d = 100 * (b["mean"] - a["mean"])
    overlap = min(a["test_accs"]) <= max(b["test_accs"]) and min(b["test_accs"]) <= max(a["test_accs"])
    lines.append("")
    lines.append(f"vcycle - conv = {d:+.2f} points (seeds' ranges {'overlap' if overlap else 'do not overlap'}); "
                 f"switch the quickstart: {d > 0 and not overlap}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True, help="folder for the two studies, their databases and logs")
    ap.add_argument("--dry", action="store_true", help="a tiny rehearsal of every command (not a result)")
    ap.add_argument("--sides", default="conv,vcycle", help="which sides to run now (default both; the summary "
                    "needs both results, earlier runs' included)")
    args = ap.parse_args(argv)
    work = Path(args.work)
    chosen = [side for side in args.sides.split(",") if side]
    if not chosen or set(chosen) - set(SPACES):
        raise SystemExit(f"bench_quickstart_blocks: --sides={args.sides!r}: allowed conv, vcycle or both")
    for name in chosen:
        run_side(name, work, dry=args.dry)
    done = [work / name / "result.json" for name in SPACES]
    if all(path.exists() for path in done):
        print(summary([json.loads(path.read_text()) for path in done]))
    else:
        print("bench_quickstart_blocks: the summary needs both sides; run the other with --sides")
    return 0


if __name__ == "__main__":
    sys.exit(main())
