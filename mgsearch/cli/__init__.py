"""The ``mgsearch`` command: a thin dispatcher over one module per subcommand.

Each module in :data:`COMMANDS` exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a function ``(args) -> int``. Command modules import torch / optuna inside ``run`` so
that ``mgsearch --help`` stays fast. User errors (:class:`~mgsearch.errors.MgsearchError`) print one
line on stderr and exit non-zero; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from mgsearch.errors import MgsearchError

COMMANDS = ("info", "presets", "space", "train", "search", "worker", "baseline", "confirm", "calibrate", "shrink", "report",
            "export")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand registered."""
    from mgsearch import __version__

    parser = argparse.ArgumentParser(
        prog="mgsearch",
        description="Find compact CNNs under a parameter / compute budget.",
    )
    parser.add_argument("--version", action="version", version=f"mgsearch {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mgsearch.cli.{name}_cmd").register(sub)
    for command in sub.choices.values():  # `mgsearch search x.toml --debug` as well as `mgsearch --debug search ...`
        # SUPPRESS: when not given after the subcommand, the value given (or not) before it stands
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show tracebacks instead of one-line errors")
    return parser


def command_line(argv: Sequence[str]) -> str:
    """The command as a user would type it again: ``mgsearch search studies/x.toml --n-trials 40``."""
    import shlex

    return shlex.join(["mgsearch", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MgsearchError as exc:
        if args.debug:
            raise
        print(f"mgsearch: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        if args.debug:
            raise
        if getattr(exc, "resumable", False):  # a search: say what was kept and how to go on
            print(f"mgsearch: {exc}; re-run `{command_line(argv)}` to resume", file=sys.stderr)
        else:
            print("mgsearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
