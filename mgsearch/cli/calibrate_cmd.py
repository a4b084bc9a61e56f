"""`mgsearch calibrate STUDY.toml --n N`: does the search fidelity rank networks like the confirm protocol?"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `calibrate` subcommand."""
    from mgsearch.cli.confirm_cmd import add_derived_arguments

    p = sub.add_parser(
        "calibrate",
        help="rank correlation of the search fidelity's score with the confirm protocol's test accuracy",
        description="Draw N candidates of the study's space, fit each to the budget, train each at the search "
        "fidelity (a one-shot study: score each on its structure's supernet, as the search does) and at the "
        "confirm protocol, and report Spearman's rho and Kendall's tau-b (95 % bootstrap "
        "intervals) and the top-k overlap. Stored as the study <name>.calibrate; re-running resumes.",
    )
    add_derived_arguments(p)
    p.add_argument("--n", metavar="N", help="candidates (default: [calibrate] n, else 12; at least 3)")
    p.add_argument("--top-k", metavar="K", help="k of the top-k overlap (default: [calibrate] top_k, else 3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mgsearch.cli.common import format_table, positive_int, print_json
    from mgsearch.cli.confirm_cmd import derived_config, jobs_flag, protocol_flags
    from mgsearch.search.calibrate import run_calibrate
    from mgsearch.store.records import calibrate_study_name

    n = positive_int("--n", args.n, minimum=3)
    top_k = positive_int("--top-k", args.top_k)
    epochs, fraction = protocol_flags(args)
    jobs = jobs_flag(args)
    config = derived_config(args)
    result = run_calibrate(config, n=n, top_k=top_k, epochs=epochs, train_fraction=fraction,
                           progress=not args.no_progress, verbose=args.verbose, jobs=jobs)
    if args.json:
        print_json(result.to_dict())
        return 0
    cal, cheap, full = result.calibration, result.search_protocol, result.confirm_protocol
    oneshot = cheap.get("kind") == "oneshot"
    side = (f"one-shot score on supernets trained {cheap['epochs']} epochs on {cheap['train_fraction']:g}"
            if oneshot else f"search fidelity {cheap['epochs']} epochs on {cheap['train_fraction']:g}")
    print(f"calibrated {config.name} ({config.storage_display}, study {calibrate_study_name(config.name)}): "
          f"{side} (val acc) against {full['epochs']} epochs on {full['train_fraction']:g} (test acc):")
    rows = [[label, round(100 * c, 2), round(100 * f, 2)] for label, c, f in zip(cal.labels, cal.cheap, cal.full)]
    score = "one-shot val acc %" if oneshot else "search val acc %"
    print(format_table(["candidate", score, "protocol test acc %"], rows))
    print(cal.text())
    return 0
