"""`countq <command>`: the entry layer. One module per command, in COMMANDS.

Each command module has `register(subparsers)`, which adds its parser and sets
its defaults: `handler` (the one calling convention, `handler(args, settings)
-> int`), and, when they apply, `iam_login=True` (log in to Redis before
anything starts: uvicorn would bury a refusal in a traceback) and `misuse`
(what argparse cannot check alone, such as "ids or --all").

Exit status: 0 done, 1 failed or unhealthy, 2 a setting or an argument to fix,
said in one line. Modules import what their handler runs only when it runs, so
`countq check` (the container health check) starts fast.
"""

from __future__ import annotations

import argparse
import logging.config
import sys
from collections.abc import Callable
from typing import NoReturn

from pydantic import ValidationError

from countq import logs
from countq.cli import check, consumer, dead_letters, dev, importer, maintain, migrate, producer
from countq.config import get_settings
from countq.errors import ConfigError

COMMANDS = (producer, consumer, check, migrate, dev, importer, dead_letters, maintain)


class OneLineParser(argparse.ArgumentParser):
    """A bad argument is one line and exit 2, like a bad setting (no usage dump).
    Sub-parsers are made of this class too (argparse's default)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def parser() -> tuple[OneLineParser, dict[str, OneLineParser]]:
    """The `countq` parser, and each command's parser by name."""
    top = OneLineParser(prog="countq", description="countq: HTTP -> Redis stream -> database.")
    subparsers = top.add_subparsers(dest="command", required=True, metavar="command")
    top.set_defaults(iam_login=False, misuse=None)
    for command in COMMANDS:
        command.register(subparsers)
    return top, subparsers.choices


def parse(argv: list[str]) -> argparse.Namespace:
    """The arguments as the command will get them; SystemExit(2) after one line when wrong."""
    top, by_name = parser()
    args = top.parse_args(argv)
    misuse: Callable[[argparse.Namespace], str | None] | None = args.misuse
    if misuse and (problem := misuse(args)):
        by_name[args.command].error(problem)
    return args


def names() -> list[str]:
    return list(parser()[1])


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 1 failed or unhealthy, 2 a setting to fix (one line says which)."""
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as exited:  # --help (0), or a wrong argument, already said (2)
        return exited.code if isinstance(exited.code, int) else 2
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper()
            print(f"countq: {name}={error.get('input')!r}: {error['msg']}", file=sys.stderr)
        return 2
    logging.config.dictConfig(logs.config(settings.log_format, settings.log_level))
    try:
        if args.iam_login:
            from countq.queue.iam import iam_login

            iam_login(settings)
        status: int = args.handler(args, settings)
        return status
    except ConfigError as exc:
        print(f"countq: {exc}", file=sys.stderr)
        return 2
