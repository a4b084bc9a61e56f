"""`mgsearch report`: one self-contained HTML page of a study (Pareto fronts, widths, trials)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` subcommand."""
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a study",
        description="Write one self-contained HTML file (works offline) with the study's Pareto fronts, "
        "hypervolume history, per-layer width profiles, knobs and a sortable table of trials.",
    )
    p.add_argument("study", metavar="STUDY", help="study file (.toml), SQLite database file or storage URL")
    p.add_argument("--out", metavar="FILE", default=None, help="output file (default: <study>.report.html next to the study file)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing file that is not an earlier report (never a database or the study's files)")
    p.add_argument("--storage", metavar="URL", default=None, help="storage URL overriding the study file's")
    p.add_argument("--study-name", metavar="NAME", default=None, help="study name overriding the study file's")
    p.add_argument("--json", action="store_true",
                   help="print what was written as JSON on stdout (file, trial counts, best feasible trial, front)")
    p.set_defaults(func=run)


def default_out(study: str) -> str:
    """``studies/x.toml`` -> ``studies/x.report.html``; a URL -> ``report.html`` in the current folder."""
    from pathlib import Path

    if "://" in study:
        return "report.html"
    path = Path(study)
    return str(path.with_name(path.stem + ".report.html"))


def report_summary(data, out) -> dict:
    """What ``report --json`` prints: the file written, trial counts, the best feasible trial and the
    Pareto front (accuracy vs params) as trial numbers."""
    from mgsearch.errors import MgsearchError
    from mgsearch.report.analysis import best as best_trial
    from mgsearch.pareto import front_axis
    from mgsearch.report.analysis import pareto_front, state_counts

    try:
        best = best_trial(data)  # the most accurate trained feasible trial, as `export --best` picks it
    except MgsearchError:
        best = None
    return {
        "path": str(out),
        "study": data.name,
        "trials": len(data.records),
        "trained": sum(1 for r in data.records if r.trained),
        "counts": {k: v for k, v in state_counts(data.records).items() if v},
        "baselines": len(data.baselines),
        "best": None if best is None else {"trial": best.number, "val_acc": best.val_acc, "params": best.params,
                                            "macs": best.macs, "spec_hash": best.spec_hash},
        "pareto_params": [r.number for r in pareto_front(data.records, cost="params")],
        # the front `mgsearch search` lists at its end and the report's table highlights (same function)
        "front_axis": front_axis(data.objectives),
        "pareto": [r.number for r in pareto_front(data.records, cost=front_axis(data.objectives))],
    }


def run(args: argparse.Namespace) -> int:
    import sys

    from mgsearch.outputs import check_out_file, study_inputs
    from mgsearch.report.analysis import load_study
    from mgsearch.report.page import is_report, write_report

    target = args.out or default_out(args.study)
    protect = study_inputs(args.study, args.storage)
    check_out_file(target, force=args.force, is_own=is_report, protected=protect, what="mgsearch report")  # before any work
    data = load_study(args.study, args.study_name, storage=args.storage)
    out = write_report(data, target, force=args.force, protect=protect)
    if args.json:
        from mgsearch.cli.common import print_json

        print_json(report_summary(data, out))
        return 0
    n_trained = sum(r.trained for r in data.records)
    print(f"wrote {out} ({len(data.records)} trials, {n_trained} trained, {len(data.baselines)} baselines)",
          file=sys.stderr)
    return 0
