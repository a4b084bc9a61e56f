"""`mgsearch presets`: the named reference architectures with their params and MACs."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `presets` subcommand."""
    p = sub.add_parser(
        "presets",
        help="list the preset architectures with params and MACs",
        description="List the named presets (usable wherever a spec is expected) with family, params, MACs.",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list of {name, family, params, macs, ...}")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the preset table (or JSON list)."""
    from mgsearch.cli.common import format_table, human_count, print_json
    from mgsearch.cost import cost
    from mgsearch.presets import PRESETS

    items = []
    for name, preset in PRESETS.items():
        c = cost(preset.spec)
        items.append({
            "name": name, "family": preset.spec.family, "params": c.params, "macs": c.macs,
            "activations": c.activations, "description": preset.description, "source": preset.source,
            "spec": preset.spec.to_dict(),
        })
    if args.json:
        print_json(items)
        return 0
    rows = [(it["name"], it["family"], it["params"], human_count(it["macs"]), it["description"]) for it in items]
    print(format_table(("name", "family", "params", "MACs", "description"), rows, align="llrrl"))
    return 0
