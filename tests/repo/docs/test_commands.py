"""The documentation is tested like the runbook: every `countq` command on any
page parses against the real CLI, every `make` target it names exists, and
every `aws` command and option is in the AWS CLI's own tables. The pages are
docs/**/*.md, README.md and CONTRIBUTING.md (which the site includes)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.helpers import doc_commands
from tests.helpers.doc_commands import Command, check_aws, check_countq, commands, tool
from tests.helpers.services import ROOT

PAGES = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md", ROOT / "CONTRIBUTING.md"]


def quoted(name: str) -> list[Command]:
    return [c for page in PAGES for c in commands(page, ROOT) if tool(c) == name]


def test_the_pages_quote_each_kind_of_command() -> None:
    # A parser that finds nothing would let every check below pass.
    assert len(quoted("countq")) >= 20
    assert len(quoted("make")) >= 30
    assert len(quoted("aws")) >= 20


@pytest.mark.parametrize("command", quoted("countq"), ids=str)
def test_countq_commands_parse(command: Command) -> None:
    check_countq(command)


def test_every_make_target_named_exists() -> None:
    targets = doc_commands.make_targets(ROOT)
    missing = [
        f"{command} (no target {goal})"
        for command in quoted("make")
        for goal in doc_commands.make_goals(command)
        if goal not in targets
    ]
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("command", quoted("aws"), ids=str)
def test_aws_commands_and_options_exist(command: Command) -> None:
    check_aws(command)


# The checks themselves, on planted mistakes: each must be caught.


def planted(tmp_path: Path, text: str) -> list[Command]:
    page = tmp_path / "page.md"
    page.write_text(text)
    return commands(page, tmp_path)


def test_a_wrong_countq_command_is_caught(tmp_path: Path) -> None:
    for text in (
        "```sh\ncountq dead-letters replay --everything\n```\n",
        "Run `countq migrate --force` first.\n",
        "```sh\nMYSQL_HOST=db countq serve\n```\n",
        "```\n$ countq importer provison\n```\n",
        "```sh\ncountq importer import --bucket b\n```\n",
        "```sh\ncountq dead-letters purge --yes\n```\n",  # ids or --older-than: neither
        "Then `countq serve`.\n",
    ):
        (command,) = planted(tmp_path, text)
        with pytest.raises((SystemExit, AssertionError, argparse.ArgumentError)):
            check_countq(command)


def test_a_missing_make_target_is_caught(tmp_path: Path) -> None:
    (command,) = planted(tmp_path, "```sh\nmake docs-serve ARGS=-x\n```\n")
    assert doc_commands.make_goals(command) == ["docs-serve"]
    assert "docs-serve" not in doc_commands.make_targets(ROOT)


def test_a_wrong_aws_command_or_option_is_caught(tmp_path: Path) -> None:
    for text in (
        "```sh\naws ecs describe-servicez --cluster x\n```\n",
        "```sh\naws ecs describe-services --clusters x\n```\n",
        "`aws cloudwatch set-alarm-state --alarm x --state-value ALARM`\n",
    ):
        (command,) = planted(tmp_path, text)
        with pytest.raises(AssertionError):
            check_aws(command)


def test_what_counts_as_a_command(tmp_path: Path) -> None:
    found = planted(
        tmp_path,
        "```sh\n"
        "export AWS_REGION=eu-central-1\n"
        'aws lambda invoke --function-name "$(terragrunt output -raw f)" \\\n'
        "  --payload fileb://p.json out.json && cat out.json   # a comment\n"
        "```\n"
        "```text\ncountq dead-letters replay ID... | --all\n```\n"
        "```\n$ RETENTION_DAYS=30 countq maintain\n"
        '{"ran": true}\n```\n'
        "Prose: `make run`, then `countq dead-letters`.\n",
    )
    assert [c.argv for c in found] == [
        ("export", "AWS_REGION=eu-central-1"),
        (
            "aws",
            "lambda",
            "invoke",
            "--function-name",
            "$(terragrunt output -raw f)",
            "--payload",
            "fileb://p.json",
            "out.json",
        ),
        ("cat", "out.json"),
        ("countq", "maintain"),
        ("make", "run"),
        ("countq", "dead-letters"),
    ]
    assert [c.inline for c in found][-2:] == [True, True]
