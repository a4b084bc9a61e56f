"""`mgsearch space SPACE.toml --sample N`: random architectures of a search space and their costs.

Shows whether a budget is reachable before searching: the min / median / max params and MACs of
the sample and the cost of the space's smallest and largest architecture.
"""

from __future__ import annotations

import argparse

from mgsearch.cli.common import add_shape_overrides


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `space` subcommand."""
    p = sub.add_parser(
        "space",
        help="sample random architectures of a search-space file and show their costs",
        description="Draw N random architectures from a search-space file (TOML) and print their params and "
        "MACs, with the min / median / max of the sample and the cost of the space's smallest and largest "
        "architecture.",
    )
    p.add_argument("space", metavar="SPACE.toml", help="search-space file (see search_spaces/)")
    p.add_argument("--sample", metavar="N", default="10", help="how many architectures to draw (default 10)")
    p.add_argument("--seed", metavar="S", default="0", help="random seed (default 0)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of {spec, params, macs, ...} on stdout (the summary goes to stderr)")
    add_shape_overrides(p)
    p.set_defaults(func=run)


#: the most architectures `--sample` draws (about a minute of work)
MAX_SAMPLE = 100_000


def _seed(text: str) -> int:
    from mgsearch.errors import ConfigError

    try:
        return int(str(text).strip())
    except ValueError:
        raise ConfigError(f"--seed={text!r} must be an integer") from None


def run(args: argparse.Namespace) -> int:
    """Sample, cost and print."""
    import json
    import statistics
    import sys

    from tqdm import tqdm

    from mgsearch.cli.common import format_table, human_count, positive_int, shape_overrides
    from mgsearch.errors import ConfigError
    from mgsearch.cost import cost
    from mgsearch.space import SearchSpace
    from mgsearch.spec import group_size_text

    n = positive_int("--sample", args.sample)
    if n > MAX_SAMPLE:
        raise ConfigError(f"--sample={n} must be <= {MAX_SAMPLE:,}")
    seed = _seed(args.seed)
    space = SearchSpace.from_file(args.space).with_overrides(**shape_overrides(args))
    lo_spec, hi_spec = space.min_spec(), space.max_spec()
    lo, hi = cost(lo_spec), cost(hi_spec)

    results = []
    draws = space.sample_with_values(n, seed)
    bar = tqdm(draws, total=n, desc="sampling", unit="arch", file=sys.stderr, disable=not sys.stderr.isatty(),
               leave=False)
    for spec, knobs in bar:
        c = cost(spec)
        results.append((spec, c, knobs))

    out = sys.stdout
    if args.json:
        out.write("[\n")
        for k, (spec, c, knobs) in enumerate(results):
            obj = {"spec": spec.to_dict(), "params": c.params, "macs": c.macs, "activations": c.activations,
                   "hash": spec.hash, "knobs": knobs}
            out.write(json.dumps(obj, sort_keys=True) + (",\n" if k + 1 < len(results) else "\n"))
        out.write("]\n")
        out.flush()
    else:
        rows = []
        for k, (spec, c, _) in enumerate(results):
            rows.append((
                k, spec.short_hash,
                "-".join(str(st.depth) for st in spec.stages),
                "-".join(str(st.width) for st in spec.stages),
                "-".join(group_size_text(st.group_size) for st in spec.stages),
                "-".join(str(st.share) for st in spec.stages),
                c.params, c.macs,
            ))
        print(f"{space.source}: family {space.family}, {len(space.knob_names())} knobs, "
              f"{n} architectures drawn with seed {seed}")
        print(format_table(("#", "spec", "depths", "widths", "group sizes", "share", "params", "MACs"), rows,
                           align="rllllllrr"))
        print()

    params = [c.params for _, c, _ in results]
    macs = [c.macs for _, c, _ in results]
    unique = len({spec.hash for spec, _, _ in results})

    def line(label: str, p: float, m: float) -> tuple[str, str, str]:
        return label, f"{int(p):,} ({human_count(p)})", f"{int(m):,} ({human_count(m)})"

    summary = [
        line("sample min", min(params), min(macs)),
        line("sample median", statistics.median(params), statistics.median(macs)),
        line("sample max", max(params), max(macs)),
        line("space minimum", lo.params, lo.macs),
        line("space maximum", hi.params, hi.macs),
    ]
    dest = sys.stderr if args.json else sys.stdout
    print(f"{n} drawn, {unique} distinct (seed {seed}); space minimum = smallest architecture "
          f"{lo_spec.short_hash}, maximum = largest {hi_spec.short_hash}", file=dest)
    print(format_table(("", "params", "MACs"), summary, align="lrr"), file=dest)
    return 0
