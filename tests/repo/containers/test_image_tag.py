"""scripts/image-tag.sh: `<env>-<git short sha>`, the tag deploy.sh pushes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.services import require_tool
from tests.repo.containers.lib import ROOT

SCRIPT = ROOT / "scripts" / "image-tag.sh"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    return subprocess.run(
        ["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A scratch repository holding a copy of the script, as a checkout would."""
    git(tmp_path, "init", "-q")
    (tmp_path / "scripts").mkdir()
    shutil.copy2(SCRIPT, tmp_path / "scripts" / "image-tag.sh")
    return tmp_path


def run(repo: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(repo / "scripts" / "image-tag.sh"), *args],
        cwd=cwd or repo,
        capture_output=True,
        text=True,
        check=False,
    )


def test_tag_is_env_and_twelve_hex_of_head(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    head = git(repo, "rev-parse", "HEAD")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    result = run(repo, "prod", cwd=elsewhere)  # deploy.sh may call it from anywhere
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"prod-{head[:12]}\n"


def test_a_new_commit_gives_a_new_tag_and_no_env_means_local(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "first")
    first = run(repo).stdout
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    second = run(repo).stdout
    assert re.fullmatch(r"local-[0-9a-f]{12}\n", first) and first != second


@pytest.mark.parametrize("env", ["Prod", "dev/1", "-dev", "dev_1", "a" * 40])
def test_an_env_a_tag_cannot_hold_is_refused(repo: Path, env: str) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    result = run(repo, env)
    assert result.returncode == 2 and "environment" in result.stderr
    assert result.stdout == ""


def test_no_commit_is_an_error_not_a_bad_tag(repo: Path) -> None:
    result = run(repo, "dev")
    assert result.returncode == 1 and "no git commit" in result.stderr
    assert result.stdout == ""


def test_shellcheck_is_clean() -> None:
    shellcheck = require_tool("shellcheck")
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
