"""Commands quoted in Markdown, and the checks that they exist: `countq` against
the real CLI's parsers, `make` targets against make's database, `aws` commands
and options against the AWS CLI's own command tables (what `aws <svc> <op>
help` reads). Used by tests/repo/docs and tests/repo/contrib/test_runbook.py.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from awscli.clidriver import ServiceCommand, create_clidriver

from countq import cli

# Fences whose lines are commands; a ```text block is a synopsis, not a command.
SHELL_FENCES = {"sh", "bash", "shell", "console"}
SEPARATORS = {"&&", "||", ";", "|", "(", ")", "$("}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    where: str  # path:line, for the failure message
    inline: bool  # a `code span` in prose: may name a command without its arguments

    def __str__(self) -> str:
        return f"{self.where}: {shlex.join(self.argv)}"


def _simple_commands(line: str) -> Iterator[list[str]]:
    """The simple commands of one shell line, without env assignments."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words: list[str] = []
    try:
        tokens = list(lexer)
    except ValueError:  # an unterminated quote: not a shell line
        return
    for token in [*tokens, ";"]:
        if token in SEPARATORS or set(token) <= set("|&;()"):
            while words and ASSIGNMENT.match(words[0]):
                words.pop(0)
            if words:
                yield words
            words = []
        else:
            words.append(token)


def commands(path: Path, root: Path) -> list[Command]:
    """Every command line of the page's shell blocks (only `$ ` lines where a
    block shows prompts), every `$ ` line of any other block, and every
    `countq ...`, `make ...` and `aws ...` code span in the prose."""
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(root).as_posix()
    found: list[Command] = []
    fence = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
    for block in fence.finditer(text):
        kind, body = block[1], block[2]
        first_line = text[: block.start()].count("\n") + 2
        lines = body.splitlines()
        prompted = any(line.startswith("$ ") for line in lines)
        if kind not in SHELL_FENCES and not prompted:
            continue
        joined, start = "", 0
        for offset, line in enumerate(lines):
            if not joined:
                start = offset
            if line.endswith("\\"):  # continued on the next line
                joined += line[:-1] + " "
                continue
            line, joined = joined + line, ""
            if prompted and not line.startswith("$ "):
                continue
            for argv in _simple_commands(line.removeprefix("$ ")):
                found.append(Command(tuple(argv), f"{name}:{first_line + start}", False))
    prose = fence.sub(lambda m: "\n" * m[0].count("\n"), text)
    for span in re.finditer(r"`((?:\.venv/bin/)?(?:countq|make|aws) [^`]+)`", prose):
        line = prose[: span.start()].count("\n") + 1
        for argv in _simple_commands(span[1]):
            found.append(Command(tuple(argv), f"{name}:{line}", True))
    return found


def tool(command: Command) -> str:
    return command.argv[0].rsplit("/", 1)[-1]


# --- countq ----------------------------------------------------------------------------


# What a page writes for "an entry id"; `...` elides the rest of a command.
PLACEHOLDERS = {"<id>": "1764283170123-0"}


def check_countq(command: Command) -> None:
    """Parses as `countq` would, with the real CLI's parsers: a wrong command,
    action, option or value exits 2 (SystemExit fails the test). A `code span` in
    prose may name a command (`countq dead-letters`) without what it needs."""
    argv = [PLACEHOLDERS.get(a, a) for a in command.argv[1:] if a != "..."]
    if command.inline and len(argv) == 1:
        assert argv[0] in cli.names(), f"{command}: no command {argv[0]}"
        return
    cli.parse(argv)


# --- make ------------------------------------------------------------------------------


@cache
def make_database(root: Path) -> str:
    """make's database of rules and variables, as `make -p` prints it."""
    # -q: no rule runs (the database is printed without building anything).
    return subprocess.run(
        ["make", "-pRrq", "-f", "Makefile", ":"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout


def make_targets(root: Path) -> frozenset[str]:
    return frozenset(
        match[1]
        for match in re.finditer(r"^([A-Za-z0-9][\w.-]*):(?!=)", make_database(root), flags=re.M)
    )


def make_goals(command: Command) -> list[str]:
    goals, words = [], iter(command.argv[1:])
    for word in words:
        if word in ("-f", "-C"):
            next(words, None)  # another makefile or directory: not checked here
            return []
        if word.startswith("-") or "=" in word:
            continue
        goals.append(word)
    return goals


# --- aws -------------------------------------------------------------------------------


@cache
def aws_driver() -> Any:
    return create_clidriver()


def check_aws(command: Command) -> None:
    """`aws <service> <operation>` (or `wait <waiter>`, `s3 sync`) exists, and so does
    every `--option` it is given, in the installed AWS CLI's own tables."""
    driver = aws_driver()
    global_options = set(driver._get_argument_table())
    table = driver._get_command_table()
    found: Any = None
    for word in (a for a in command.argv[1:] if not a.startswith("-")):
        assert word in table, f"{command}: no command {word}"
        found = table[word]
        sub = getattr(found, "subcommand_table", None)
        if not sub and isinstance(found, ServiceCommand):
            sub = found._get_command_table()
        if not sub:
            break
        table = sub
    assert found is not None, f"{command}: no command"
    if isinstance(found, ServiceCommand):
        # A service named on its own (`aws ecs`) in prose, not an invocation.
        assert command.inline, f"{command}: a service without an operation"
        return
    options = set(found.arg_table) | global_options
    for arg in command.argv[2:]:
        if arg.startswith("--"):
            assert arg[2:].split("=", 1)[0] in options, f"{command}: no option {arg}"
