"""The documentation site builds with `mkdocs build --strict` (as `make lint`
does), and strict mode is what catches a broken relative link, a missing
anchor and a page left out of the nav: each is planted here and must fail the
build. Also: the README stays short and its links resolve, CONTRIBUTING.md is
included rather than copied, and the page's dead-letter link names a page the
site has."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.services import ROOT

MKDOCS = Path(sys.executable).with_name("mkdocs")
README_MAX_LINES = 200


def build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "-f", str(root / "mkdocs.yml"), "-d", str(site)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """What the build reads: mkdocs.yml, docs/ and the included CONTRIBUTING.md."""
    for name in ("mkdocs.yml", "CONTRIBUTING.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def config() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def test_strict_is_on() -> None:
    assert config()["strict"] is True


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    result = build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    for page in ("index.html", "configuration/index.html", "performance/results/index.html"):
        assert (tmp_path / "site" / page).is_file(), page


@pytest.mark.parametrize(
    ("planted", "message"),
    [
        ("[the settings](configuraton.md)", "configuraton.md"),
        ("[dead letters](operations/dead-letters.md#no-such-heading)", "no-such-heading"),
        ("[a picture](architecture/missing.svg)", "missing.svg"),
    ],
)
def test_a_broken_link_fails_the_build(copy: Path, planted: str, message: str) -> None:
    page = copy / "docs" / "getting-started.md"
    page.write_text(page.read_text() + f"\nSee {planted}.\n")
    result = build(copy, copy / "site")
    assert result.returncode != 0
    assert message in result.stderr
    assert "strict mode" in result.stdout + result.stderr


def test_a_page_left_out_of_the_nav_fails_the_build(copy: Path) -> None:
    (copy / "docs" / "orphan.md").write_text("# Nobody links here\n")
    result = build(copy, copy / "site")
    assert result.returncode != 0
    assert "orphan.md" in result.stderr


def test_every_nav_entry_is_a_page() -> None:
    def files(entries: list) -> list[str]:  # type: ignore[type-arg]
        out = []
        for entry in entries:
            for value in entry.values() if isinstance(entry, dict) else [entry]:
                out += files(value) if isinstance(value, list) else [value]
        return out

    nav = files(config()["nav"])
    assert len(nav) == len(set(nav))
    for name in nav:
        assert (ROOT / "docs" / name).is_file(), name


def test_contributing_is_included_not_copied(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "development" / "contributing.md").read_text()
    assert '--8<-- "CONTRIBUTING.md"' in page
    assert "## Where is what" not in page
    assert build(ROOT, tmp_path / "site").returncode == 0
    built = (tmp_path / "site" / "development" / "contributing" / "index.html").read_text()
    assert 'id="where-is-what"' in built


def test_the_readme_is_short_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    relative = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert len(relative) >= 20
    for link in relative:
        assert (ROOT / link).exists(), f"README.md links to {link}, which does not exist"


def test_the_pages_dead_letter_link_names_a_page_of_the_site() -> None:
    figures = (ROOT / "frontend" / "src" / "figures.tsx").read_text()
    (path,) = re.findall(r'DEAD_LETTERS_PAGE = "([^"]+)"', figures)
    # mkdocs publishes docs/<p>.md at <p>/ (use_directory_urls, the default).
    source = ROOT / "docs" / (path.rstrip("/") + ".md")
    assert source.is_file(), source
    assert "countq dead-letters" in source.read_text()


def test_make_lints_the_site_with_a_build_that_fails_on_a_broken_link(copy: Path) -> None:
    """The recipe `make lint` runs (docs-build), as make prints it, run on a copy
    with a broken link: it must fail. (`--quiet` once hid the warnings strict
    mode counts, and the same build passed.)"""
    lint = subprocess.run(
        ["make", "-n", "lint"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    (line,) = [line for line in lint.splitlines() if "mkdocs build" in line]
    env_words, command = [], shlex.split(line)
    while "=" in command[0]:
        env_words.append(command.pop(0))
    command[0] = str(ROOT / command[0])  # .venv/bin/mkdocs, from the copy
    page = copy / "docs" / "api.md"
    page.write_text(page.read_text() + "\n[the settings](configuraton.md)\n")
    env = {**os.environ, **dict(word.split("=", 1) for word in env_words)}
    result = subprocess.run(command, cwd=copy, capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "configuraton.md" in result.stdout + result.stderr
