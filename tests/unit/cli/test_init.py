"""The dispatcher (countq.cli): one list of commands, one calling convention, and
the exit statuses: 0 done, 1 failed, 2 a setting or an argument to fix, in one line."""

from __future__ import annotations

import argparse
import re
import socket
from collections.abc import Iterator

import pytest

from countq import cli
from countq.config import get_settings

# The least each command needs to parse.
ARGUMENTS = {"importer": ["provision"], "dead-letters": ["list"]}
# The commands that reach Redis: the IAM login goes first, before anything starts.
LOGIN_FIRST = {"producer", "consumer", "dev", "dead-letters"}


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def registered_by(module: object) -> list[str]:
    subparsers = argparse.ArgumentParser().add_subparsers()
    module.register(subparsers)  # type: ignore[attr-defined]
    return list(subparsers.choices)


def test_each_command_module_registers_one_command_and_no_name_twice() -> None:
    per_module = [registered_by(module) for module in cli.COMMANDS]
    assert all(len(names) == 1 for names in per_module), per_module
    assert cli.names() == [names[0] for names in per_module]
    assert len(set(cli.names())) == len(cli.COMMANDS)
    assert set(cli.names()) == {
        "producer", "consumer", "check", "migrate", "dev", "importer", "dead-letters", "maintain"
    }  # fmt: skip


@pytest.mark.parametrize("module", cli.COMMANDS, ids=lambda m: m.__name__)
def test_each_command_reaches_its_modules_one_handler(module: object) -> None:
    (name,) = registered_by(module)
    args = cli.parse([name, *ARGUMENTS.get(name, [])])
    assert args.command == name
    assert args.handler is module.handler  # type: ignore[attr-defined]
    assert args.iam_login == (name in LOGIN_FIRST)


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^    (\S+)", out, flags=re.M)
    assert listed == cli.names()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["serve"], "countq: argument command: invalid choice: 'serve'"),
        ([], "countq: the following arguments are required: command"),
        (["migrate", "--force"], "countq: unrecognized arguments: --force"),
        (["importer", "provison"], "countq importer: argument provision|maintain|import: invalid"),
        (["importer", "import", "--bucket", "b"], "countq importer import: the following"),
    ],
)
def test_a_wrong_command_or_argument_is_one_line_and_exit_2(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(line), captured.err


def test_a_bad_setting_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HTTP_PORT", "eighty")
    assert cli.main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("countq: HTTP_PORT='eighty': "), err


def test_a_setting_a_command_refuses_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ConfigError raised by a handler (the producer's HTTP_PORT is taken) is
    said in one line, with no traceback."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setenv("HTTP_PORT", str(port))
        assert cli.main(["producer"]) == 2
    assert capsys.readouterr().err == (
        f"countq: HTTP_PORT={port} is in use on this host: set HTTP_PORT to a free port\n"
    )
