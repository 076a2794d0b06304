"""CONTRIBUTING.md and `make help` stay true: every target is listed, the
guide's commands and paths exist, and its migration recipe makes a revision
that applies.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from tests.helpers.doc_commands import make_database, make_targets

ROOT = Path(__file__).resolve().parents[3]
GUIDE = ROOT / "CONTRIBUTING.md"
MIGRATIONS = ROOT / "src" / "countq" / "db" / "migrations"


def test_make_help_lists_every_target_with_one_line() -> None:
    phony = {
        target
        for line in make_database(ROOT).splitlines()
        if line.startswith(".PHONY:")
        for target in line.split(":", 1)[1].split()
    }
    listed = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # Unindented lines are section headings, indented ones "target  description".
    headings = [line for line in listed if line and not line[0].isspace()]
    sections = ["Develop", "Frontend", "Containers", "Infrastructure", "Deploy", "Setup"]
    # No "Other": every target is in a HELP_<section> list (Makefile, mk/*.mk).
    assert headings == sections
    daily = [line.split()[0] for line in listed[listed.index("Develop") + 1 :][:5]]
    assert daily == ["run", "test-fast", "test", "lint", "format"]
    described = {}
    for line in listed:
        if not line.startswith(" "):
            continue
        target, _, description = line.strip().partition(" ")
        assert target not in described, f"{target} listed twice"
        assert description.strip(), f"{target} has no description"
        described[target] = description
    assert phony, "no .PHONY targets found"
    assert phony <= set(described), f"not in make help: {sorted(phony - set(described))}"


def test_make_run_installs_countq_without_the_test_and_lint_tools() -> None:
    # -n prints what would run, -B as on a fresh clone (no .venv, no stamps).
    plan = subprocess.run(
        ["make", "-nB", "run"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "pip install -q -e .\n" in plan
    assert not re.search(r"-e '?\.\[", plan), "make run installs an extra:\n" + plan


def test_every_make_target_in_the_guide_exists() -> None:
    mentioned = set(re.findall(r"\bmake ([a-z][\w-]*)", GUIDE.read_text()))
    assert {"venv", "test", "lint"} <= mentioned
    missing = mentioned - make_targets(ROOT)
    assert not missing, f"CONTRIBUTING.md names make targets that do not exist: {missing}"


def test_every_path_in_the_guide_exists() -> None:
    # Backticked paths into the repository (first part a top-level entry);
    # placeholders such as <name> are templates, not paths.
    top = {p.name for p in ROOT.iterdir()}
    quoted = re.findall(r"`([^`\s]+)`", GUIDE.read_text())
    paths = {q.rstrip("/") for q in quoted if "/" in q and "<" not in q and q.split("/")[0] in top}
    assert len(paths) > 10
    missing = {p for p in paths if not (ROOT / p.split("::")[0]).exists()}
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"
    for node in (p for p in paths if "::" in p):
        path, name = node.split("::")
        assert f"def {name}(" in (ROOT / path).read_text(), f"no test {node}"


def test_make_migration_adds_a_revision_that_applies(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    config = Config()
    config.set_main_option("script_location", str(migrations))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None

    result = subprocess.run(
        [
            "make",
            "-s",
            "-f",
            "mk/contrib.mk",
            "migration",
            f"MIGRATIONS_DIR={migrations}",
            "MSG=add the owner's column",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    new_head = ScriptDirectory.from_config(config).get_current_head()
    assert new_head == f"{int(head) + 1:04d}"
    (script,) = migrations.glob(f"versions/{new_head}_*.py")
    assert script.name == f"{new_head}_add_the_owner_s_column.py"
    text = script.read_text()
    assert f'down_revision = "{head}"' in text
    assert "add the owner's column" in text

    # The whole chain, the new revision included, applies to a fresh database.
    config.attributes["url"] = f"sqlite:///{tmp_path / 'countq.db'}"
    command.upgrade(config, "head")


def test_make_migration_needs_a_message() -> None:
    result = subprocess.run(
        ["make", "-s", "-f", "mk/contrib.mk", "migration"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "usage: make migration" in result.stderr
