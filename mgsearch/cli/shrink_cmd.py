"""`mgsearch shrink`: (being written; owned by one developer)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `shrink` subcommand."""
    p = sub.add_parser("shrink", help="(not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mgsearch.errors import MgsearchError

    raise MgsearchError("mgsearch shrink is not built yet")
