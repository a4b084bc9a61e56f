"""`mgsearch presets`: (being written; owned by one developer)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `presets` subcommand."""
    p = sub.add_parser("presets", help="(not built yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mgsearch.errors import MgsearchError

    raise MgsearchError("mgsearch presets is not built yet")
