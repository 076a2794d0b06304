"""pre-commit: offline-only hooks that pass on the tree and catch real problems.

Both runs happen in a throwaway git repository (a copy of the tree, or a few
planted files), never in the working tree: the fixers rewrite files, and
pre-commit must not touch this repository's index or install git hooks.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.services import require_tool
from tests.repo.contrib.tree import ROOT, source_files

CONFIG = ROOT / ".pre-commit-config.yaml"
VENV_BIN = Path(sys.executable).parent
STATUS = re.compile(
    r"^(?P<name>.+?)\.{3,}(?:\(no files to check\))?(?P<status>Passed|Failed|Skipped)$"
)


def hooks() -> list[dict[str, Any]]:
    config = yaml.safe_load(CONFIG.read_text())
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def git_repo(path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=path, check=True)


def run_pre_commit(repo: Path, tmp_path: Path) -> tuple[dict[str, str], str]:
    """Run every hook on every file of `repo`: (hook name -> status, output)."""
    (repo / ".venv").symlink_to(ROOT / ".venv")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRE_COMMIT_COLOR": "never",
    }
    result = subprocess.run(
        [str(VENV_BIN / "pre-commit"), "run", "--all-files", "--config", str(CONFIG)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    statuses = {}
    for line in result.stdout.splitlines():
        match = STATUS.match(line.strip())
        if match:
            statuses[match["name"]] = match["status"]
    assert statuses, result.stdout + result.stderr
    return statuses, result.stdout


def test_config_is_valid() -> None:
    result = subprocess.run(
        [str(VENV_BIN / "pre-commit"), "validate-config", str(CONFIG)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_hook_is_local_and_installed() -> None:
    # A `repo: <url>` hook would be cloned from GitHub on first use: not
    # possible offline, and not what `make lint` runs.
    config = yaml.safe_load(CONFIG.read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    for hook in hooks():
        assert hook["language"] == "system", hook["id"]
        program = shlex.split(hook["entry"])[0]
        if program.startswith(".venv/"):
            assert (ROOT / program).exists(), f"{hook['id']}: {program} missing (make venv)"
        else:
            require_tool(program)


def test_frontend_hooks_match_its_npm_scripts() -> None:
    scripts = json.loads((ROOT / "frontend" / "package.json").read_text())["scripts"]
    checks = {name for name in scripts if re.match(r"^(lint|format|typecheck)", name)}
    # A `format` that rewrites files is for humans; the hook uses the check.
    if "format:check" in scripts:
        checks.discard("format")
    hooked = {
        shlex.split(hook["entry"])[-1]
        for hook in hooks()
        if hook["entry"].startswith("npm --prefix frontend run")
    }
    assert hooked == checks


# Every linter over a copy of the whole tree (make lint already runs them
# on it): minutes under load.
@pytest.mark.slow
def test_all_hooks_pass_on_the_tree(tmp_path: Path) -> None:
    require_tool("terraform")
    require_tool("npm")
    tree = tmp_path / "tree"
    for name in source_files():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    node_modules = ROOT / "frontend" / "node_modules"
    assert node_modules.is_dir(), "run `make frontend-deps` first (make test does)"
    (tree / "frontend" / "node_modules").symlink_to(node_modules)
    if (ROOT / ".mypy_cache").is_dir():
        shutil.copytree(ROOT / ".mypy_cache", tree / ".mypy_cache")
    git_repo(tree)

    statuses, output = run_pre_commit(tree, tmp_path)

    assert statuses == {hook["name"]: "Passed" for hook in hooks()}, output


def test_hooks_catch_planted_problems(tmp_path: Path) -> None:
    require_tool("terraform")
    repo = tmp_path / "planted"
    files = {
        # The real settings, so the Python hooks judge as `make lint` does.
        "pyproject.toml": (ROOT / "pyproject.toml").read_text(),
        "src/countq/planted.py": "import os\nx: int = 'a'\n",
        "scripts/planted.sh": "#!/bin/sh\necho $1\n",
        "Dockerfile": "FROM debian:bookworm-slim\nWORKDIR app\n",
        "terraform/main.tf": 'variable "x" {\ntype=string\n}\n',
        "notes.txt": "trailing space \n",
        "no-newline.txt": "no final newline",
        # Built at run time so this file itself stays clean for the hooks.
        "conflict.txt": "<" * 7 + " HEAD\nours\n" + "=" * 7 + "\ntheirs\n" + ">" * 7 + " b\n",
        "id_rsa": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE\n",
        "broken.yaml": "key: [unclosed\n",
        "big.bin": "0" * (1100 * 1024) + "\n",
        # Unpinned action (zizmor) and an unquoted variable (actionlint's
        # shellcheck).
        ".github/workflows/planted.yml": (
            "on: push\npermissions: {}\njobs:\n  j:\n    runs-on: ubuntu-24.04\n"
            "    timeout-minutes: 5\n    permissions: {}\n    steps:\n"
            "      - uses: actions/setup-python@v6\n"
            "      - run: echo $HOME\n"
        ),
    }
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git_repo(repo)

    statuses, output = run_pre_commit(repo, tmp_path)

    frontend = {hook["name"] for hook in hooks() if hook["id"].startswith("frontend-")}
    expected = {
        hook["name"]: "Skipped" if hook["name"] in frontend else "Failed" for hook in hooks()
    }
    assert statuses == expected, output
    # Each hook failed for the planted reason, not a setup error.
    for finding in (
        "F401",  # ruff check
        "Incompatible types in assignment",  # mypy
        "SC2086",  # shellcheck
        "DL3000",  # hadolint
        "unpinned-uses",  # zizmor
        "shellcheck reported issue in this script",  # actionlint
        "Fixing notes.txt",  # trailing whitespace
        "Fixing no-newline.txt",  # end of file
        "conflict.txt",
        "id_rsa",
        "broken.yaml",
        "big.bin",
    ):
        assert finding in output, f"{finding!r} not reported:\n{output}"
