"""countq dead-letters' argument parsing: every mistake is one line and exit 2,
before anything reaches Redis."""

from __future__ import annotations

import argparse

import pytest

from countq import cli
from countq.cli import dead_letters
from countq.cli.dead_letters import age_text, duration_s, entry_id, positive


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("30m", 1800), ("12h", 43200), ("7d", 604800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert duration_s(text) == seconds


@pytest.mark.parametrize("text", ["7", "7w", "-1d", "1.5h", "d", " 7d", "7d "])
def test_not_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a duration"):
        duration_s(text)


@pytest.mark.parametrize("text", ["1764283170123-0", "0-1", "1764283170123-12", "1764283170123"])
def test_entry_ids(text: str) -> None:
    assert entry_id(text) == text


@pytest.mark.parametrize("text", ["abc-0", "1764283170123-", "-0", "1-0-0", "1764283170123-*"])
def test_not_entry_ids(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a stream entry id"):
        entry_id(text)


def test_positive_whole_numbers() -> None:
    assert positive("20") == 20
    for text in ("0", "-3", "2.5", "many", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="is not a whole number above 0"):
            positive(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (12.9, "12s"), (303, "5m3s"), (7500, "2h5m"), (273600, "3d4h"), (86400, "1d0h")],
)
def test_ages_in_the_two_largest_units(seconds: float, text: str) -> None:
    assert age_text(seconds) == text


@pytest.mark.parametrize(
    ("argv", "prog", "says"),
    [
        (["replay"], "", "replay takes entry ids or --all (one of the two)"),
        (["replay", "1-0", "--all"], "", "replay takes entry ids or --all (one of the two)"),
        (["purge"], "", "purge takes entry ids or --older-than AGE (one of the two)"),
        (["purge", "1-0", "--older-than", "7d"], "", "purge takes entry ids or --older-than AGE"),
        (
            ["purge", "--older-than", "7 days"],
            " purge",
            "argument --older-than: '7 days' is not a duration",
        ),
        (["show"], " show", "the following arguments are required: id"),
        (["show", "latest"], " show", "argument id: 'latest' is not a stream entry id"),
        (["list", "--limit", "0"], " list", "argument --limit: '0' is not a whole number above 0"),
        (["drop"], "", "argument list|show|replay|purge: invalid choice: 'drop'"),
        ([], "", "the following arguments are required: list|show|replay|purge"),
    ],
)
def test_a_mistake_is_one_line_and_exit_2_before_redis(
    argv: list[str], prog: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Said by the parser of the (sub)command that was wrong, before any setting is read."""
    with pytest.raises(SystemExit) as exited:
        cli.parse(["dead-letters", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"countq dead-letters{prog}: {says}")
    assert err.endswith(f"(see countq dead-letters{prog} --help)\n")


def test_right_arguments_reach_the_handler_as_given() -> None:
    args = cli.parse(["dead-letters", "purge", "--older-than", "7d", "--yes"])
    assert args.handler is dead_letters.handler
    assert (args.action, args.ids, args.older_than, args.yes) == ("purge", [], 604800, True)
    assert args.iam_login, "it talks to Redis: the IAM login comes first"
    args = cli.parse(["dead-letters", "replay", "1764283170123-0", "1-0"])
    assert (args.action, args.ids, args.all) == ("replay", ["1764283170123-0", "1-0"], False)
