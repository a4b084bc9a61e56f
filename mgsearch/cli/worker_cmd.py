"""`mgsearch worker`: (being written; owned by one developer)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `worker` subcommand."""
    p = sub.add_parser("worker", help="(not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mgsearch.errors import MgsearchError

    raise MgsearchError("mgsearch worker is not built yet")
