"""`countq producer`: the HTTP API on HTTP_PORT."""

from __future__ import annotations

import argparse

from countq.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("producer", help="the HTTP API (HTTP_PORT)")
    p.set_defaults(handler=handler, iam_login=True)


def handler(args: argparse.Namespace, settings: Settings) -> int:
    from countq.api.server import serve

    serve(settings)
    return 0
