"""`countq maintain`: the retention step (countq.db.retention); prints what it did as JSON."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from countq.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "maintain",
        help="partitions ahead, RETENTION_DAYS applied (MySQL: needs ALTER, DROP)",
    )
    p.set_defaults(handler=handler)


def handler(args: argparse.Namespace, settings: Settings) -> int:
    from countq.db import retention

    print(json.dumps(asdict(retention.run(settings))))
    return 0
