"""`mgsearch confirm STUDY.toml --top K --seeds S`: retrain the top found networks and the baselines with S seeds."""

from __future__ import annotations

import argparse
from typing import Any


def add_derived_arguments(p: argparse.ArgumentParser) -> None:
    """The study file, the flags that say where it runs (shared by confirm and calibrate) and the protocol."""
    p.add_argument("study", help="the study file (TOML), e.g. studies/quickstart.toml")
    g = p.add_argument_group("where (overrides of study-file values)")
    g.add_argument("--name", help="study name (default: study.name, else the file's stem)")
    g.add_argument("--storage", help="SQLAlchemy URL of the study database (default: <study>.db next to the file)")
    g.add_argument("--data-root", help="dataset folder or archive")
    g.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    g.add_argument("--threads", type=int, help="torch CPU threads")
    g.add_argument("--jobs", metavar="N", help="runs trained at a time, each in its own worker process with "
                   "its share of the threads (default 1; on a CPU, one per core or two is usually fastest "
                   "for small networks)")
    q = p.add_argument_group("the final protocol (default: the study's [confirm] table)")
    q.add_argument("--epochs", metavar="E", help="epochs of every retraining (default: [confirm] epochs, "
                   "else twice the search's)")
    q.add_argument("--train-fraction", metavar="F", help="share of the training split (default: [confirm] "
                   "train_fraction, else 1.0)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--verbose", action="store_true", help="show Optuna's log lines")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress output (default: a line per epoch and per finished run on stderr)")


def derived_config(args: argparse.Namespace) -> Any:
    """The study config with the where-flags applied."""
    from mgsearch.study import load_study_config

    overrides = {k: getattr(args, k) for k in ("name", "storage", "data_root", "device", "threads")
                 if getattr(args, k, None) is not None}
    return load_study_config(args.study, overrides)


#: the most runs ``--jobs`` trains at a time
MAX_JOBS = 256


def jobs_flag(args: argparse.Namespace) -> int:
    """``--jobs`` validated (1 when not given)."""
    from mgsearch.cli.common import positive_int
    from mgsearch.errors import ConfigError

    jobs = positive_int("--jobs", args.jobs, default=1)
    if jobs > MAX_JOBS:
        raise ConfigError(f"--jobs={jobs} must be <= {MAX_JOBS}")
    return jobs


def protocol_flags(args: argparse.Namespace) -> tuple[int | None, float | None]:
    """``(--epochs, --train-fraction)`` validated (None where not given)."""
    from mgsearch.cli.common import positive_int
    from mgsearch.errors import ConfigError

    epochs = positive_int("--epochs", args.epochs)
    if epochs is not None and epochs > 10_000:
        raise ConfigError(f"--epochs={epochs} must be <= 10000")
    fraction = None
    if args.train_fraction is not None:
        try:
            fraction = float(args.train_fraction)
        except ValueError:
            fraction = None
        if fraction is None or not 0 < fraction <= 1:
            raise ConfigError(f"--train-fraction={str(args.train_fraction)[:50]!r} must be a number in (0, 1]")
    return epochs, fraction


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `confirm` subcommand."""
    p = sub.add_parser(
        "confirm",
        help="retrain the top found networks and the baselines with several seeds; test accuracy mean ± sd",
        description="Retrain the K most accurate distinct feasible trials and the study's baselines within the "
        "budget from scratch at the final protocol with S seeds, measure test accuracy once at the end, and store "
        "the runs as the study <name>.confirm in the same database. Re-running resumes: finished runs are kept.",
    )
    add_derived_arguments(p)
    p.add_argument("--top", metavar="K", help="distinct found networks to confirm (default: [confirm] top, else 3)")
    p.add_argument("--seeds", metavar="S", help="seeds per network (default: [confirm] seeds, else 3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mgsearch.cli.common import format_table, positive_int, print_json
    from mgsearch.search.confirm import run_confirm
    from mgsearch.store.records import confirm_study_name

    top = positive_int("--top", args.top)
    seeds = positive_int("--seeds", args.seeds)
    epochs, fraction = protocol_flags(args)
    jobs = jobs_flag(args)
    config = derived_config(args)
    result = run_confirm(config, top=top, seeds=seeds, epochs=epochs, train_fraction=fraction,
                         progress=not args.no_progress, verbose=args.verbose, jobs=jobs)
    if args.json:
        print_json(result.to_dict())
        return 0
    p = result.protocol
    print(f"confirmed {config.name} ({config.storage_display}, study {confirm_study_name(config.name)}): "
          f"{p['epochs']} epochs on {p['train_fraction']:g} of the training split, seeds "
          f"{', '.join(map(str, result.seeds))}; test accuracy:")
    rows = [[g.role, g.label, g.params, f"{100 * g.mean:.2f} ± {100 * g.sd:.2f}",
             " ".join(f"{100 * a:.2f}" for a in g.accs)] for g in result.comparison.groups]
    print(format_table(["role", "network", "params", "test acc % (mean ± sd)", "per seed"], rows, align="llrrl"))
    print(result.comparison.sentence())
    return 0
