"""`mgsearch worker STUDY.toml --storage URL`: one more worker on an existing study."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `worker` subcommand."""
    from mgsearch.cli.search_cmd import add_study_arguments

    p = sub.add_parser(
        "worker",
        help="join an existing study as one more worker",
        description="Run trials of a study that `mgsearch search` created (on PostgreSQL for many machines) "
        "until the study has n_trials finished trials. Fails when the study does not exist.",
    )
    add_study_arguments(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mgsearch.cli.search_cmd import overrides_from, print_result
    from mgsearch.search import run_search
    from mgsearch.study import load_study_config

    config = load_study_config(args.study, overrides_from(args))
    result = run_search(config, worker=True, progress=not args.no_progress, verbose=args.verbose)
    print_result(result, args.json)
    if not args.json:
        print(f"this worker ran {result.extra.get('trials_run_here', 0)} trial(s)")
    return 0
