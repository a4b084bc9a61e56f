"""`mgsearch info NAME_OR_SPEC_JSON`: per-layer widths, params and MACs of one architecture."""

from __future__ import annotations

import argparse

from mgsearch.cli.common import add_shape_overrides


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `info` subcommand."""
    p = sub.add_parser(
        "info",
        help="per-layer table and params / MACs of a preset or spec",
        description="Show the per-layer widths, groups, params and MACs of a preset, a spec JSON file or "
        "inline spec JSON (analytic cost: no model is built). Presets are CIFAR-shaped (3x32x32, 10 classes): "
        "--dataset NAME or --study STUDY.toml gives them a dataset's shape.",
    )
    p.add_argument("spec", metavar="NAME_OR_SPEC_JSON", help="preset name (see `mgsearch presets`), JSON file or inline JSON")
    p.add_argument("--json", action="store_true", help="print one JSON object: params, macs, activations, layers, spec")
    add_shape_overrides(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the cost table (or JSON) of the spec."""
    from mgsearch.cli.common import format_table, human_count, print_json, shape_overrides
    from mgsearch.cost import cost
    from mgsearch.presets import resolve_spec

    spec = resolve_spec(args.spec, **shape_overrides(args))  # --dataset / --study / --in-channels ...
    c = cost(spec)
    if args.json:
        print_json({**c.to_dict(), "spec": spec.to_dict(), "hash": spec.hash})
        return 0
    rows = [
        (r.name, r.kind, r.in_channels, r.out_channels, r.groups, f"{r.kernel}x{r.kernel}" if r.kind in ("conv", "mgic") else "-",
         r.stride, r.out_size, r.params, r.macs, r.shared_with)
        for r in c.layers
    ]
    headers = ("layer", "kind", "in", "out", "groups", "kernel", "stride", "size", "params", "MACs", "shared with")
    print(f"{args.spec if not args.spec.lstrip().startswith('{') else 'inline spec'}: family {spec.family}, "
          f"input {spec.in_channels}x{spec.input_size}x{spec.input_size}, {spec.num_classes} classes, "
          f"{spec.depth} blocks, spec {spec.short_hash}")
    print(format_table(headers, rows, align="llrrrrrrrrl"))
    print(f"total: {c.params:,} params ({human_count(c.params)}), {c.macs:,} MACs ({human_count(c.macs)}), "
          f"{c.activations:,} activations")
    return 0
