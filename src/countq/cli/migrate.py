"""`countq migrate`: the database schema upgraded; the database created when missing."""

from __future__ import annotations

import argparse

from countq.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "migrate", help="upgrade the database schema; creates the database when missing"
    )
    p.set_defaults(handler=handler)


def handler(args: argparse.Namespace, settings: Settings) -> int:
    from countq.db.migrate import migrate

    migrate(settings)
    return 0
