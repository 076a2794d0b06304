"""`countq consumer`: the worker, stream -> database, /metrics on CONSUMER_PORT."""

from __future__ import annotations

import argparse

from countq.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "consumer", help="the worker: stream -> database (/metrics on CONSUMER_PORT)"
    )
    p.set_defaults(handler=handler, iam_login=True)


def handler(args: argparse.Namespace, settings: Settings) -> int:
    from countq.worker.main import run

    run(settings)
    return 0
