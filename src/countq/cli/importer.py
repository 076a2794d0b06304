"""`countq importer provision | maintain | import`: what the importer Lambda does
(countq.importer.handler), from a shell; prints the result as JSON."""

from __future__ import annotations

import argparse
import json

from countq.config import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "importer",
        help="the importer Lambda's actions: provision | maintain | import",
        description="What the importer Lambda does, from a shell.",
    )
    p.set_defaults(handler=handler)
    actions = p.add_subparsers(dest="action", required=True, metavar="provision|maintain|import")
    actions.add_parser(
        "provision",
        help="create the database, run the migrations as the master user, "
        "create or update the application's user",
    )
    actions.add_parser(
        "maintain", help="create partitions ahead, drop the ones past RETENTION_DAYS"
    )
    imp = actions.add_parser("import", help="run an SQL dump from S3 (.gz accepted)")
    imp.add_argument("--bucket", required=True)
    imp.add_argument("--key", required=True)


def handler(args: argparse.Namespace, settings: Settings) -> int:
    """0 when the result says ok, else 1. The importer reads its own Settings,
    as the Lambda does."""
    from countq.importer.run import run

    event = {"action": args.action}
    if args.action == "import":
        event.update(bucket=args.bucket, key=args.key)
    result = run(event).as_json()
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["ok"] else 1
