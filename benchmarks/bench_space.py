"""Time `mgsearch space SPACE.toml --sample 10000` for every shipped search space.

    python benchmarks/bench_space.py [--n 10000] [--seed 0] [--update-docs]

For each ``search_spaces/*.toml``: (1) in-process, ``mgsearch.cli.main(["space", ..., "--json"])``
with stdout discarded (sampling, analytic cost, JSON output, min/max spec); (2) the same as a CLI
subprocess (``python -m mgsearch ...``, including interpreter start-up and imports); (3) the bare
mapping ``space.to_spec(RandomChooser)`` + ``cost(spec)`` per spec. Prints a markdown section;
``--update-docs`` replaces the ``## Search-space sampling`` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mgsearch.cli import main as cli_main  # noqa: E402
from mgsearch.cost import cost  # noqa: E402
from mgsearch.space import SearchSpace  # noqa: E402

SECTION = "## Search-space sampling"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench(n: int, seed: int) -> list[dict]:
    rows = []
    for path in sorted((ROOT / "search_spaces").glob("*.toml")):
        rel = str(path.relative_to(ROOT))
        args = ["space", rel, "--sample", str(n), "--seed", str(seed), "--json"]
        sink_out, sink_err = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sink_out), contextlib.redirect_stderr(sink_err):
            rc = cli_main(args)
        in_process = time.perf_counter() - t0
        assert rc == 0, sink_err.getvalue()
        assert sink_out.getvalue().count('"spec"') == n
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mgsearch", *args], cwd=ROOT, capture_output=True, text=True)
        as_cli = time.perf_counter() - t0
        assert proc.returncode == 0, proc.stderr
        space = SearchSpace.from_file(path)
        t0 = time.perf_counter()
        specs = space.sample(n, seed)
        t_map = time.perf_counter() - t0
        t0 = time.perf_counter()
        params = sorted(cost(s).params for s in specs)
        t_cost = time.perf_counter() - t0
        rows.append({
            "space": rel, "knobs": len(space.knob_names()), "in_process": in_process, "cli": as_cli,
            "map_us": t_map / n * 1e6, "cost_us": t_cost / n * 1e6,
            "distinct": len({s.hash for s in specs}), "p_min": params[0], "p_med": params[n // 2], "p_max": params[-1],
            "space_min": cost(space.min_spec()).params, "space_max": cost(space.max_spec()).params,
        })
        print(f"{rel}: in-process {in_process:.2f} s, CLI {as_cli:.2f} s", file=sys.stderr)
    return rows


def markdown(rows: list[dict], n: int, seed: int) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"Command: `python benchmarks/bench_space.py --n {n} --seed {seed}` (times "
        f"`mgsearch space search_spaces/<space>.toml --sample {n} --seed {seed} --json`). Date: {now}. "
        f"Machine: {os.cpu_count()}-core CPU ({_cpu()}), shared with other jobs while it ran; "
        f"Python {platform.python_version()}.",
        "",
        "| space | knobs | in-process (s) | CLI incl. start-up (s) | to_spec per spec (us) | cost per spec (us) "
        "| distinct | sample params min / median / max | space min / max params |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['space']}` | {r['knobs']} | {r['in_process']:.2f} | {r['cli']:.2f} | {r['map_us']:.0f} "
            f"| {r['cost_us']:.0f} | {r['distinct']:,} | {r['p_min']:,} / {r['p_med']:,} / {r['p_max']:,} "
            f"| {r['space_min']:,} / {r['space_max']:,} |"
        )
    worst = max(max(r["in_process"], r["cli"]) for r in rows)
    lines += [
        "",
        f"Reading: drawing, costing and printing {n:,} architectures as JSON takes at most {worst:.1f} s per space "
        "on this shared 2-core machine (the CLI column adds interpreter start-up and imports). The in-process time "
        "includes the JSON encoding of every spec and `min_spec` / `max_spec`; the bare mapping plus analytic cost "
        "is the sum of the two per-spec columns.",
        "",
    ]
    return "\n".join(lines)


def update_docs(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--update-docs", action="store_true", help="replace the section in docs/benchmarks.md")
    args = ap.parse_args(argv)
    text = markdown(bench(args.n, args.seed), args.n, args.seed)
    print(text)
    if args.update_docs:
        update_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
