"""`mgsearch search`: (being written; owned by one developer)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `search` subcommand."""
    p = sub.add_parser("search", help="(not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mgsearch.errors import MgsearchError

    raise MgsearchError("mgsearch search is not built yet")
