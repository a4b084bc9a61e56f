"""`mgsearch info`: (being written; owned by one developer)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `info` subcommand."""
    p = sub.add_parser("info", help="(not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mgsearch.errors import MgsearchError

    raise MgsearchError("mgsearch info is not built yet")
