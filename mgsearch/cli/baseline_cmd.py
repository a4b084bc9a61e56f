"""`mgsearch baseline STUDY.toml`: train the networks a user would build instead of searching, at the budget."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `baseline` subcommand."""
    from mgsearch.cli.search_cmd import add_study_arguments

    p = sub.add_parser(
        "baseline",
        help="train the baselines a user would build (dense ResNet, uniform network, ...) at the budget",
        description="Scale each reference network of the study's space onto the budget (at least 97%% of the "
        "binding limit where the widths' steps allow): uniform@budget (the space's middle structure with "
        "uniform widths), dense-resnet@budget (the He et al. CIFAR ResNet with the space's depth) and the "
        "family's own references; train each at the study's protocol and store them as the study "
        "<name>.baselines in the same database, labelled in the trial attribute baseline_name. "
        "Baselines already trained are skipped.",
    )
    add_study_arguments(p)
    p.add_argument("--sizes", help="comma-separated budget fractions, each for every kind (default: [baselines] sizes, else 1)")
    p.add_argument("--json", action="store_true", help="print the baselines as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mgsearch.cli.common import format_table, print_json
    from mgsearch.cli.search_cmd import overrides_from
    from mgsearch.errors import ConfigError
    from mgsearch.search import run_baselines
    from mgsearch.store.records import baselines_study_name
    from mgsearch.study import load_study_config

    config = load_study_config(args.study, overrides_from(args))
    sizes = None
    if args.sizes is not None:  # given, even empty: "" is a mistake, not "the defaults"
        try:
            sizes = sorted({float(x) for x in args.sizes.split(",") if x.strip()})
        except ValueError:
            raise ConfigError(f"--sizes={args.sizes[:200]!r} is not allowed: comma-separated numbers, e.g. 0.5,1,1.5") from None
        if not sizes:
            raise ConfigError(f"--sizes={args.sizes[:200]!r} is not allowed: give at least one budget fraction, e.g. 0.5,1,1.5 "
                              "(leave --sizes out for the study's [baselines] sizes)")
        if any(not 0.05 <= s <= 20 for s in sizes):
            raise ConfigError(f"--sizes={args.sizes[:200]!r} is not allowed: budget fractions in [0.05, 20]")
    rows = run_baselines(config, sizes=sizes, progress=not args.no_progress, verbose=args.verbose)
    if args.json:
        print_json(rows)
    else:
        table = [[r["baseline_name"], r["trial"], r["status"], round(r["val_acc"], 4), r["params"], r["macs"],
                  "" if r["budget_use"] is None else f"{r['budget_use']:.1%}"] for r in rows]
        print(f"baselines of {config.name} ({config.storage_display}, study {baselines_study_name(config.name)}):")
        print(format_table(["baseline", "trial", "status", "val_acc", "params", "MACs", "budget use"], table))
    return 0
