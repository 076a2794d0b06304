"""`countq producer | consumer | check | migrate | dev | importer | dead-letters | maintain`."""

from __future__ import annotations

import argparse
import logging.config
import sys
from collections.abc import Callable

from pydantic import ValidationError

from countq import logs
from countq.config import Settings, get_settings
from countq.errors import ConfigError

COMMANDS = (
    "producer",
    "consumer",
    "check",
    "migrate",
    "dev",
    "importer",
    "dead-letters",
    "maintain",
)

HELP = """commands:
  producer   the HTTP API (HTTP_PORT)
  consumer   the worker: stream -> database (/metrics on CONSUMER_PORT)
  check      health check for either: exit 0 when healthy
  migrate    upgrade the database schema; creates the database when missing
  dev        migrate, then producer and consumer on this host (make run)
  importer   the importer Lambda's actions from a shell: provision | import
  dead-letters  list | show | replay | purge the dead-letter stream
  maintain   partitions ahead, RETENTION_DAYS applied (MySQL: needs ALTER, DROP)
"""


def cmd_producer(settings: Settings) -> int:
    from countq.api.server import serve

    serve(settings)
    return 0


def cmd_consumer(settings: Settings) -> int:
    from countq.worker.main import run

    run(settings)
    return 0


def cmd_check(settings: Settings) -> int:
    """The container health check, for producer and consumer alike (see countq.health)."""
    from countq.health import check

    problem = check(settings)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


def cmd_migrate(settings: Settings) -> int:
    from countq.db.migrate import migrate

    migrate(settings)
    return 0


def cmd_maintain(settings: Settings) -> int:
    """The retention step (countq.db.retention); prints what it did as JSON."""
    import json
    from dataclasses import asdict

    from countq.db import retention

    print(json.dumps(asdict(retention.run(settings))))
    return 0


def cmd_dev(settings: Settings) -> int:
    from countq import dev

    return dev.run(settings)


HANDLERS: dict[str, Callable[[Settings], int]] = {
    "producer": cmd_producer,
    "consumer": cmd_consumer,
    "check": cmd_check,
    "migrate": cmd_migrate,
    "dev": cmd_dev,
    "maintain": cmd_maintain,
}


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 1 failed or unhealthy, 2 a setting to fix (one line says which)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="countq", epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="importer: provision | import ...; dead-letters: list | show | replay | purge ...",
    )
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            print(f"countq: {name}={error.get('input')!r}: {error['msg']}", file=sys.stderr)
        return 2
    logging.config.dictConfig(logs.config(settings.log_format, settings.log_level))
    try:
        if args.command in ("producer", "consumer", "dev", "dead-letters"):
            from countq.queue.iam import iam_login

            # Before any server starts: uvicorn would bury it in a traceback.
            iam_login(settings)
        if args.command == "importer":
            from countq.importer.handler import main as importer_main

            return importer_main(args.args)
        if args.command == "dead-letters":
            from countq import deadletters

            return deadletters.main(args.args, settings)
        return HANDLERS[args.command](settings)
    except ConfigError as exc:
        print(f"countq: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
