"""What the image build sees and does, without a Docker engine.

.dockerignore decides the build context; the builder stage copies part of it
and runs `pip wheel .`; the final stage installs the wheels and runs
`countq <command>` as a user who can write only DATA_DIR. These tests apply
the same filter, build the same wheel from the same files, install it apart
from the source tree and run the image's commands from it.
"""

from __future__ import annotations

import http.server
import os
import sqlite3
import subprocess
import sys
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.processes import free_port
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


@pytest.fixture(scope="module")
def installed(context: set[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """countq built as the builder stage builds it, installed as a plain directory."""
    tmp = tmp_path_factory.mktemp("image")
    src = tmp / "src"
    for source in copy_sources(DOCKERFILE):
        for rel in sorted(context):
            if rel == source or rel.startswith(source.rstrip("/") + "/"):
                (src / rel).parent.mkdir(parents=True, exist_ok=True)
                (src / rel).write_bytes((ROOT / rel).read_bytes())
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp / "wheels"), str(src)], check=True)
    (wheel,) = (tmp / "wheels").glob("countq-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        entry_points = next(n for n in zf.namelist() if n.endswith("entry_points.txt"))
        assert "countq = countq.cli:main" in zf.read(entry_points).decode()
    site = tmp / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)
    return site


def image_env(site: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    """The image's environment: no host configuration, only /tmp-like DATA_DIR."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "CI"}}
    return {
        **keep,
        "PYTHONPATH": str(site),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DATA_DIR": str(data_dir),
        "HOME": str(data_dir),
        **extra,
    }


def countq(site: Path, tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    cwd = tmp / "cwd"
    cwd.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "countq", *args],
        cwd=cwd,
        env=image_env(site, tmp / "data", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def snapshot(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def test_installed_package_is_the_one_run(installed: Path, tmp_path: Path) -> None:
    result = countq(installed, tmp_path, "no-such-command")
    assert result.returncode == 2 and "invalid choice" in result.stderr
    probe = subprocess.run(
        [sys.executable, "-c", "import countq; print(countq.__file__)"],
        env=image_env(installed, tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.startswith(str(installed)), "the source tree must not be the one imported"


def test_migrate_from_the_wheel_writes_only_data_dir(installed: Path, tmp_path: Path) -> None:
    before = snapshot(installed)
    result = countq(installed, tmp_path, "migrate")
    assert result.returncode == 0, result.stderr
    db = tmp_path / "data" / "countq.db"
    with sqlite3.connect(db) as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert version, "the migrations shipped in the wheel ran"
    assert snapshot(installed) == before, "nothing written next to the installed code"
    assert snapshot(tmp_path / "cwd") == set(), "nothing written to the working directory"


class Health(http.server.ThreadingHTTPServer):
    status = 200

    def __init__(self, port: int) -> None:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(server.status if self.path == "/health" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", port), Handler)


@pytest.fixture
def health() -> Iterator[Health]:
    server = Health(free_port())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_health_check_command_follows_health(
    installed: Path, tmp_path: Path, health: Health
) -> None:
    port = str(health.server_port)
    assert countq(installed, tmp_path, "check", HTTP_PORT=port).returncode == 0
    health.status = 503
    assert countq(installed, tmp_path, "check", HTTP_PORT=port).returncode == 1


def test_health_check_fails_when_nothing_listens(installed: Path, tmp_path: Path) -> None:
    result = countq(installed, tmp_path, "check", HTTP_PORT=str(free_port()))
    assert result.returncode == 1 and "unhealthy" in result.stderr
