"""Analytic cost vs fvcore on the same sampled specs: exact agreement and speed-up.

    python benchmarks/bench_cost.py [--n 500] [--seed 0] [--max-width 64]

For each of N reproducible random valid specs (all five families in turn, seeded generator
``tests.strategies.seeded_specs``): the analytic ``mgsearch.cost(spec)`` (timed over repeats), and
the measured path: build the model, count distinct parameters, run fvcore's conv + linear count.
Totals must agree exactly (the script exits 1 otherwise). Prints a markdown snippet.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import mgsearch  # noqa: E402
from mgsearch.cost import cost, count_params, fvcore_macs  # noqa: E402
from tests.strategies import seeded_specs  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-width", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=20, help="analytic repeats per spec (timing)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    specs = list(seeded_specs(args.n, seed=args.seed, max_width=args.max_width))

    analytic_s, build_s, fvcore_s, mismatches = [], [], [], []
    total_params = total_macs = 0
    for spec in specs:
        c = cost(spec)
        t0 = time.perf_counter()
        for _ in range(args.repeats):
            c = cost(spec)
        analytic_s.append((time.perf_counter() - t0) / args.repeats)
        t0 = time.perf_counter()
        model = mgsearch.build(spec)
        t1 = time.perf_counter()
        params = count_params(model)
        macs = fvcore_macs(model, spec)
        t2 = time.perf_counter()
        build_s.append(t1 - t0)
        fvcore_s.append(t2 - t1)
        total_params += c.params
        total_macs += c.macs
        if (params, macs) != (c.params, c.macs):
            mismatches.append((spec.short_hash, spec.family, c.params, params, c.macs, macs))

    a_med, f_med, b_med = (statistics.median(x) for x in (analytic_s, fvcore_s, build_s))
    a_tot, f_tot, b_tot = sum(analytic_s), sum(fvcore_s), sum(build_s)
    per_family: dict[str, list[float]] = {}
    for spec, a, f, b in zip(specs, analytic_s, fvcore_s, build_s):
        per_family.setdefault(spec.family, []).append((b + f) / a)
    lines = [
        f"Specs: {len(specs)} (seed {args.seed}, widths <= {args.max_width}, all families in turn); "
        f"torch {torch.__version__}, Python {platform.python_version()}, 1 torch thread.",
        "",
        f"- agreement: **{len(specs) - len(mismatches)}/{len(specs)}** specs exact on both params and MACs "
        f"(sum of params {total_params:,}, sum of MACs {total_macs:,})",
        "",
        "| path | total (500 specs) | median per spec |".replace("500", str(len(specs))),
        "|---|---|---|",
        f"| analytic `mgsearch.cost(spec)` | {a_tot * 1e3:.1f} ms | {a_med * 1e6:.1f} us |",
        f"| `mgsearch.build(spec)` | {b_tot:.2f} s | {b_med * 1e3:.2f} ms |",
        f"| fvcore conv+linear count (+ param count) on the built model | {f_tot:.2f} s | {f_med * 1e3:.2f} ms |",
        "",
        f"- speed-up, analytic vs fvcore alone: **{f_tot / a_tot:,.0f}x** in total, "
        f"{f_med / a_med:,.0f}x median per spec",
        f"- speed-up, analytic vs build + fvcore (what a search would otherwise pay): **{(b_tot + f_tot) / a_tot:,.0f}x**"
        f" in total; per family (median of per-spec ratios): "
        + ", ".join(f"{fam} {statistics.median(r):,.0f}x" for fam, r in per_family.items()),
    ]
    print("\n".join(lines))
    if mismatches:
        print("\nMISMATCHES (hash, family, analytic params, model params, analytic MACs, fvcore MACs):")
        for m in mismatches:
            print("  ", m)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
