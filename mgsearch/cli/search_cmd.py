"""`mgsearch search STUDY.toml`: run (or resume) a budgeted search; prints the feasible Pareto set."""

from __future__ import annotations

import argparse
from typing import Any

from mgsearch.cli.common import add_budget_flags


def add_study_arguments(p: argparse.ArgumentParser) -> None:
    """The study file and the flags that override its values (shared by search, worker, baseline)."""
    p.add_argument("study", help="the study file (TOML), e.g. studies/quickstart.toml")
    g = p.add_argument_group("overrides of study-file values")
    g.add_argument("--name", help="study name (default: study.name, else the file's stem)")
    g.add_argument("--n-trials", type=int, help="stop when this many trials have finished (all workers)")
    g.add_argument("--timeout", help="stop starting trials after this long in this run: seconds, or '30m', '2h'")
    g.add_argument("--storage", help="SQLAlchemy URL of the study database (default: <study>.db next to the file)")
    g.add_argument("--seed", type=int, help="seed of the sampler, the data split and the training")
    g.add_argument("--sampler", help="tpe, nsga2, random, gp or qmc")
    g.add_argument("--pruner", help="hyperband, successive-halving, median or none; pareto or none with several objectives")
    g.add_argument("--dataset", help="dataset name (fashion-mnist, cifar10, imagefolder, ...)")
    g.add_argument("--data-root", help="dataset folder or archive")
    g.add_argument("--train-fraction", type=float, help="share of the training split used per trial")
    g.add_argument("--epochs", type=int, help="epochs per trial")
    g.add_argument("--batch-size", type=int, help="training batch size")
    add_budget_flags(g)  # --max-params, --max-macs, --max-latency-ms, ...: one per registered budget metric
    g.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--verbose", action="store_true", help="show Optuna's per-trial log lines")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress output (default: a line per epoch and per finished trial on stderr, "
                   "plus a bar on a terminal)")


def overrides_from(args: argparse.Namespace) -> dict[str, Any]:
    """The CLI overrides as :func:`mgsearch.study.override_keys` names (None = not given)."""
    from mgsearch.study import override_keys

    return {k: getattr(args, k, None) for k in override_keys() if getattr(args, k, None) is not None}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `search` subcommand."""
    p = sub.add_parser(
        "search",
        help="run or resume a budgeted architecture search",
        description="Run the study's search until n_trials trials have finished (re-running resumes), "
        "then print the Pareto-optimal feasible trials.",
    )
    add_study_arguments(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def print_result(result: Any, as_json: bool) -> None:
    """The Pareto table (or JSON) on stdout."""
    from mgsearch.cli.common import format_table, print_json

    if as_json:
        print_json(result.to_dict())
        return
    print(f"study {result.study_name} ({result.storage}): {summary_counts(result)}")
    if not result.pareto:
        print("no feasible trained trial yet")
        return
    from mgsearch.metrics import get_metric

    names = [k for k in result.pareto[0] if k not in ("trial", "spec_hash")]
    shown = [get_metric(n) for n in names]
    print(f"Pareto-optimal feasible trials ({len(result.pareto)}: the front `mgsearch report` draws and highlights):")
    rows = [[r["trial"], *(_cell(r[m.name], m.integer) for m in shown), r["spec_hash"]] for r in result.pareto]
    print(format_table(["trial", *(m.header for m in shown), "spec"], rows))


def summary_counts(result: Any) -> str:
    """``8 finished trials: infeasible 6, trained 2; not counted: failed 1`` — the counts after the colon
    add up to the finished trials; failed (retried), running and waiting trials are listed apart."""
    finished = getattr(result, "finished", result.counts)
    text = f"{result.n_trials} finished trials"
    if finished:
        text += ": " + ", ".join(f"{k} {v}" for k, v in finished.items())
    other = getattr(result, "not_finished", {})
    if other:
        text += "; not counted: " + ", ".join(f"{k} {v}" for k, v in other.items())
    return text


def _cell(v: Any, integer: bool) -> Any:
    """A table value: counts as ints (printed with separators), others to 4 decimals; None as '-'."""
    return v if v is None or integer else round(float(v), 4)


def run(args: argparse.Namespace) -> int:
    from mgsearch.search import run_search
    from mgsearch.study import load_study_config

    config = load_study_config(args.study, overrides_from(args))
    result = run_search(config, progress=not args.no_progress, verbose=args.verbose)
    print_result(result, args.json)
    return 0
