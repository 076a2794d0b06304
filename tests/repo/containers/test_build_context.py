"""What the image build sees: .dockerignore decides the build context, and
the builder stage copies part of it and runs `pip wheel .`. These tests apply
the same filter to the tree, so a secret or a local build never reaches a
build context; test_images.py builds and runs the images themselves.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.repo.containers.lib import (
    DOCKERFILE,
    DOCKERFILES,
    ROOT,
    DockerIgnore,
    parse_dockerfile,
)

NEVER_IN_AN_IMAGE = (
    ".env",
    ".env.local",
    ".git/config",
    ".venv/bin/python",
    ".venv-checkov/bin/checkov",
    ".cache/containers/nginx/usr/sbin/nginx",
    ".data/countq.db",
    "build/importer.zip",
    "frontend/node_modules/react/index.js",
    "frontend/dist/index.html",
    "frontend/.env.production",
    "terraform/infrastructure/dev/terraform.tfstate",
    "src/countq/__pycache__/cli.cpython-311.pyc",
    "tests/conftest.py",
)


@pytest.fixture(scope="module")
def context() -> set[str]:
    return DockerIgnore.load().context_files()


def copy_sources(path: Path) -> list[str]:
    """Sources of the COPY instructions that read the build context."""
    sources = []
    for stage in parse_dockerfile(path):
        for copy in stage.all("COPY"):
            args = [a for a in copy.args.split() if not a.startswith("--")]
            if "--from=" not in copy.args:
                sources.extend(args[:-1])
    return sources


@pytest.mark.parametrize("path", NEVER_IN_AN_IMAGE)
def test_context_leaves_out(path: str) -> None:
    assert DockerIgnore.load().excluded(path)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_copy_source_is_in_the_context(dockerfile: Path, context: set[str]) -> None:
    for source in copy_sources(dockerfile):
        source = source.rstrip("/")
        assert source in context or any(f.startswith(source + "/") for f in context), source


def test_the_builder_copies_every_file_pyproject_names(context: set[str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {"pyproject.toml"}
    readme = project.get("readme")
    needed |= {readme if isinstance(readme, str) else readme["file"]} if readme else set()
    license_ = project.get("license")
    if isinstance(license_, dict) and "file" in license_:
        needed.add(license_["file"])
    needed |= set(project.get("license-files", []))
    copied = set(copy_sources(DOCKERFILE))
    assert needed <= copied, needed - copied
    assert needed <= context, needed - context
