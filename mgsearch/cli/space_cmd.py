"""`mgsearch space SPACE.toml|STUDY.toml --sample N`: random architectures of a search space and their costs.

Answers "is my budget reachable?" before searching: the min / median / max params and MACs of the
sample, the cost of the space's smallest and largest architecture, and, with ``--max-params`` /
``--max-macs`` (or a study's budget), the share of the sample under the budget.
"""

from __future__ import annotations

import argparse
from typing import Any

from mgsearch.cli.common import add_budget_flags, add_shape_overrides


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `space` subcommand."""
    p = sub.add_parser(
        "space",
        help="sample random architectures of a search space and show their costs and the share under a budget",
        description="Draw N random architectures from a search-space file (TOML) and print their params and "
        "MACs, with the min / median / max of the sample and the cost of the space's smallest and largest "
        "architecture. With --max-params / --max-macs (or a study file's [budget]): how many of the sample "
        "are under the budget. A study file stands for its search space, its dataset's shape and its budget.",
    )
    p.add_argument("space", metavar="SPACE.toml|STUDY.toml",
                   help="search-space file (see search_spaces/), or a study file (its space, dataset and budget)")
    p.add_argument("--sample", metavar="N", default="10", help="how many architectures to draw (default 10)")
    p.add_argument("--seed", metavar="S", default="0", help="random seed (default 0)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout: samples [{spec, params, macs, ...}], summary, budget "
                        "(the text summary goes to stderr)")
    add_budget_flags(p.add_argument_group("budget (default: the study's, when given one)"),
                     prefix="count the sample under this ", analytic_only=True)
    add_shape_overrides(p, study_help=" and its [budget]; the positional argument may be the study file itself")
    p.set_defaults(func=run)


#: the most architectures `--sample` draws (about a minute of work)
MAX_SAMPLE = 100_000


def _seed(text: str) -> int:
    from mgsearch.errors import ConfigError

    try:
        return int(str(text).strip())
    except ValueError:
        raise ConfigError(f"--seed={text!r} must be an integer") from None


def _is_study_file(path: str) -> bool:
    """A study file has a [study] or [data] table; a space file has neither (they are not space keys)."""
    from mgsearch.errors import MgsearchError
    from mgsearch.inputs import parse_toml, read_input_file

    try:
        table = parse_toml(read_input_file(path, missing="no such search-space file", expected="a TOML file"),
                           str(path))
    except MgsearchError:  # the space reader reports any problem of the file with its own message
        return False
    return isinstance(table, dict) and ("study" in table or "data" in table)


def _stats(values: list[int]) -> dict[str, float]:
    import statistics

    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def budget_summary(values: dict[str, list[int]], limits: dict[str, float],
                   space_min: dict[str, int]) -> dict[str, Any]:
    """Per limited metric: the limit, how many samples are under (<=) it, their fraction, the sample's
    min / median / max and whether the space's smallest architecture is under it; ``all``: under
    every limit."""
    n = len(next(iter(values.values())))
    out: dict[str, Any] = {}
    ok = [True] * n
    for name, limit in limits.items():
        under = [v <= limit for v in values[name]]
        ok = [a and b for a, b in zip(ok, under)]
        out[name] = {"limit": limit, "under": sum(under), "fraction": sum(under) / n, **_stats(values[name]),
                     "space_minimum_under": space_min[name] <= limit}
    out["all"] = {"under": sum(ok), "fraction": sum(ok) / n,
                  "space_minimum_under": all(space_min[m] <= lim for m, lim in limits.items())}
    return out


def run(args: argparse.Namespace) -> int:
    """Sample, cost and print."""
    import json
    import sys

    from tqdm import tqdm

    from mgsearch.cli.common import (budget_flag_values, format_table, human_count, positive_int, shape_overrides,
                                     shape_source, study_shapes)
    from mgsearch.cost import cost
    from mgsearch.errors import ConfigError
    from mgsearch.metrics import ANALYTIC, get_metric
    from mgsearch.space import SearchSpace
    from mgsearch.spec import group_size_text

    n = positive_int("--sample", args.sample)
    if n > MAX_SAMPLE:
        raise ConfigError(f"--sample={n} must be <= {MAX_SAMPLE:,}")
    seed = _seed(args.seed)
    space_file = args.space
    if _is_study_file(args.space):
        if args.dataset is not None or args.study is not None:
            raise ConfigError(f"{args.space} is a study file: it sets the shape itself; drop --dataset / --study")
        source = study_shapes(args.space)
        space_file = str(source[1].space_path)
    else:
        source = shape_source(args)
    study = source[1]
    space = SearchSpace.from_file(space_file).with_overrides(**shape_overrides(args, source))
    limits = {m: v for m, v in (study.limits if study is not None else {}).items() if get_metric(m).kind == ANALYTIC}
    limits.update(budget_flag_values(args))
    lo_spec, hi_spec = space.min_spec(), space.max_spec()
    lo, hi = cost(lo_spec), cost(hi_spec)

    out = sys.stdout
    results = []
    draws = space.sample_with_values(n, seed)
    bar = tqdm(draws, total=n, desc="sampling", unit="arch", file=sys.stderr, disable=not sys.stderr.isatty(),
               leave=False)
    if args.json:  # streamed: samples as they come, the summary after them
        out.write('{"samples": [\n')
    for k, (spec, knobs) in enumerate(bar):
        c = cost(spec)
        results.append((spec, c))
        if args.json:
            obj = {"spec": spec.to_dict(), "params": c.params, "macs": c.macs, "activations": c.activations,
                   "hash": spec.hash, "knobs": knobs}
            out.write(json.dumps(obj, sort_keys=True) + (",\n" if k + 1 < n else "\n"))
    if not args.json:
        rows = [(k, spec.short_hash, "-".join(str(st.depth) for st in spec.stages),
                 "-".join(str(st.width) for st in spec.stages),
                 "-".join(group_size_text(st.group_size) for st in spec.stages),
                 "-".join(str(st.share) for st in spec.stages), c.params, c.macs)
                for k, (spec, c) in enumerate(results)]
        print(f"{space.source}: family {space.family}, {len(space.knob_names())} knobs, "
              f"input {space.in_channels}x{space.input_size}x{space.input_size}, {space.num_classes} classes, "
              f"{n} architectures drawn with seed {seed}")
        print(format_table(("#", "spec", "depths", "widths", "group sizes", "share", "params", "MACs"), rows,
                           align="rllllllrr"))
        print()

    values = {"params": [c.params for _, c in results], "macs": [c.macs for _, c in results]}
    for name in limits:
        if name not in values:
            metric = get_metric(name)
            values[name] = [metric.value(c, spec) for spec, c in results]
    space_min = {name: (get_metric(name).value(lo, lo_spec)) for name in values}
    unique = len({spec.hash for spec, _ in results})
    budget = budget_summary(values, limits, space_min) if limits else None

    if args.json:
        summary = {name: {**_stats(values[name]), "space_minimum": space_min[name],
                          "space_maximum": get_metric(name).value(hi, hi_spec)} for name in values}
        tail = {"space": str(space.source), "family": space.family, "seed": seed, "drawn": n, "distinct": unique,
                "input": [space.in_channels, space.input_size, space.input_size], "num_classes": space.num_classes,
                "space_minimum_hash": lo_spec.hash, "space_maximum_hash": hi_spec.hash, "summary": summary,
                "budget": budget}
        out.write("], " + json.dumps(tail, sort_keys=True)[1:] + "\n")
        out.flush()

    def line(label: str, p: float, m: float) -> tuple[str, str, str]:
        return label, f"{int(p):,} ({human_count(p)})", f"{int(m):,} ({human_count(m)})"

    st = {name: _stats(values[name]) for name in ("params", "macs")}
    summary_rows = [
        line("sample min", st["params"]["min"], st["macs"]["min"]),
        line("sample median", st["params"]["median"], st["macs"]["median"]),
        line("sample max", st["params"]["max"], st["macs"]["max"]),
        line("space minimum", lo.params, lo.macs),
        line("space maximum", hi.params, hi.macs),
    ]
    dest = sys.stderr if args.json else sys.stdout
    print(f"{n} drawn, {unique} distinct (seed {seed}); space minimum = smallest architecture "
          f"{lo_spec.short_hash}, maximum = largest {hi_spec.short_hash}", file=dest)
    print(format_table(("", "params", "MACs"), summary_rows, align="lrr"), file=dest)
    if budget is not None:
        print(file=dest)
        scaling = "" if study is None else "fill_budget" if getattr(study, "fill_budget", False) else \
            "repair" if study.repair else ""
        for text in budget_lines(budget, limits, n, scaling=scaling):
            print(text, file=dest)
    return 0


def _pct(f: float) -> str:
    """A share as a percentage, with the digits a small one needs (``0.03%``, not ``0.0%``)."""
    return f"{f:.2%}" if 0 < f < 0.01 else f"{f:.1%}"


def budget_lines(budget: dict[str, Any], limits: dict[str, float], n: int, *, scaling: str = "") -> list[str]:
    """The budget answer in words: one line per limit, then the verdict. ``scaling``: how the study fits
    candidates to the budget (``"fill_budget"``: every one, up or down; ``"repair"``: over-budget ones
    down; ``""``: not at all, an over-budget candidate is rejected)."""
    from mgsearch.metrics import get_metric

    lines = []
    for name, limit in limits.items():
        b, metric = budget[name], get_metric(name)
        lines.append(f"under {metric.flag} {metric.format_limit(limit)}: {b['under']:,} of {n:,} drawn "
                     f"({_pct(b['fraction'])}); sample min / median / max {metric.cell(int(b['min']))} / "
                     f"{metric.cell(int(b['median']))} / {metric.cell(int(b['max']))}")
    both = budget["all"]
    if len(limits) > 1:
        lines.append(f"under every limit: {both['under']:,} of {n:,} drawn ({_pct(both['fraction'])})")
    if not both["space_minimum_under"]:
        lines.append("budget unreachable: the space's smallest architecture is over it; widen the budget or "
                     "use a space with smaller minima")
    elif scaling:
        how = ("fill_budget = true scales every candidate's widths up or down onto it" if scaling == "fill_budget"
               else "repair = true scales the others' widths down onto it")
        lines.append(f"budget reachable: {_pct(both['fraction'])} of random architectures fit as drawn, and the "
                     f"study's {how} (a structure over budget even at its narrowest stays infeasible)")
    elif both["under"] == 0:
        lines.append("budget reachable but rare: no sample is under it, the space's smallest architecture is; "
                     "let the study scale candidates (fill_budget / repair) or narrow the space")
    else:
        lines.append(f"budget reachable: {_pct(both['fraction'])} of random architectures fit (the others are "
                     "rejected as over budget unless the study scales them: fill_budget / repair)")
    return lines
