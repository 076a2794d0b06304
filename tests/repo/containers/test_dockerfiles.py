"""The Dockerfiles: hadolint, and the properties the image must have."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers.services import require_tool
from tests.repo.containers.lib import (
    APP_USER,
    DOCKERFILE,
    DOCKERFILES,
    FRONTEND_DOCKERFILE,
    ROOT,
    parse_dockerfile,
    settings_env_names,
)

SECRET_WORDS = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE", re.I)
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cc)\b")


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_is_clean(path: Path) -> None:
    hadolint = require_tool("hadolint")
    result = subprocess.run([hadolint, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_hadolint_ignore_says_why(path: Path) -> None:
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines):
        if re.match(r"\s*#\s*hadolint\s+ignore", line):
            above = lines[n - 1].strip() if n else ""
            assert above.startswith("#") and "hadolint" not in above, (
                f"{path.name}:{n + 1}: a hadolint ignore needs a comment above it saying why"
            )


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_builds_with_no_frontend_image_to_pull(path: Path) -> None:
    """A `# syntax=` line makes BuildKit pull its frontend image first, which
    fails offline; the built-in frontend handles everything used here."""
    assert not re.match(r"#\s*syntax\s*=", path.read_text(), re.I), path.name


def test_app_image_is_multi_stage_on_pinned_slim_python() -> None:
    stages = parse_dockerfile(DOCKERFILE)
    assert len(stages) >= 2, "wheels are built in a builder stage"
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-[a-z]+)?", stage.base), stage.base
    final = stages[-1]
    assert final.name is None or final.name not in {s.name for s in stages[:-1]}
    installs = " ".join(i.args for i in final.all("RUN"))
    assert "--mount=type=bind,from=" in installs, "wheels come from the builder, not a layer"
    assert not COMPILERS.search(installs), "no compiler in the final stage"
    assert not final.all("COPY"), "the final stage gets the package only as installed wheels"
    assert "--mount=type=bind,from=mysql-ca,source=/ca" in installs
    assert "install -D -m 0444 /ca/mysql-ca.pem /etc/countq/mysql-ca.pem" in installs


def test_the_mysql_ca_is_aws_bundle_checked_against_a_pin_unless_a_test_supplies_one() -> None:
    """Plain curl and sha256sum in a throwaway stage; MYSQL_CA_PEM skips the download."""
    (stage,) = [s for s in parse_dockerfile(DOCKERFILE) if s.name == "mysql-ca"]
    args = dict(a.args.split("=", 1) for a in stage.all("ARG"))
    assert args["RDS_CA_URL"] == (
        "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    )
    assert re.fullmatch(r"[0-9a-f]{64}", args["RDS_CA_SHA256"])
    assert args["MYSQL_CA_PEM"] == '""', "empty by default: a real build downloads"
    (run,) = [r.args for r in stage.all("RUN")]
    fetch = run.split("else", 1)[1]
    assert "curl --fail" in fetch and '"$RDS_CA_URL"' in fetch
    assert "sha256sum --check --strict" in fetch and '"$RDS_CA_SHA256"' in fetch
    assert 'if [ -n "$MYSQL_CA_PEM" ]' in run.split("else", 1)[0]


def test_app_image_installs_the_package_from_pyproject() -> None:
    builder = parse_dockerfile(DOCKERFILE)[0]
    copied = {src for c in builder.all("COPY") for src in c.args.split()[:-1]}
    assert {"pyproject.toml", "src"} <= copied
    # With the `tracing` extra: tracing in AWS is a matter of OTEL_* variables only.
    installs = r'pip (wheel|install)\b.*\s"\.\[tracing\]"$'
    assert any(re.search(installs, r.args) for r in builder.all("RUN"))


def test_app_image_runs_as_uid_10001_with_a_read_only_root() -> None:
    final = parse_dockerfile(DOCKERFILE)[-1]
    users = final.all("USER")
    assert users and users[-1].args == APP_USER, "numeric, so runAsNonRoot can verify it"
    env = final.env()
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["DATA_DIR"].startswith("/tmp/"), "the only writable path is the /tmp tmpfs"
    assert env["HOME"] == "/tmp"
    assert final.all("WORKDIR")[-1].args == "/tmp"


def test_app_image_env_names_are_the_applications() -> None:
    final = parse_dockerfile(DOCKERFILE)[-1]
    app_names = {k for k in final.env() if not k.startswith("PYTHON") and k != "HOME"}
    assert app_names <= settings_env_names(), app_names - settings_env_names()


def test_app_image_health_check_and_default_command_are_cli_commands() -> None:
    from countq import cli

    final = parse_dockerfile(DOCKERFILE)[-1]
    (health,) = final.all("HEALTHCHECK")
    assert health.exec_form() == ["countq", "check"]
    assert {"interval", "timeout", "start-period", "retries"} <= health.flags().keys()
    (cmd,) = final.all("CMD")
    argv = cmd.exec_form()
    assert argv[0] == "countq" and argv[1] in cli.names()
    assert not final.all("ENTRYPOINT"), "the command alone picks the role"


def test_app_image_port_is_the_settings_default() -> None:
    from countq.config import Settings

    final = parse_dockerfile(DOCKERFILE)[-1]
    port = Settings.model_fields["http_port"].default
    assert [e.args for e in final.all("EXPOSE")] == [str(port)]
    assert final.env()["HTTP_PORT"] == str(port)


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_secret_is_baked_in(path: Path) -> None:
    for stage in parse_dockerfile(path):
        for inst in stage.all("ENV") + stage.all("ARG"):
            assert not SECRET_WORDS.search(inst.args), f"{path.name}: {inst.keyword} {inst.args}"


def test_frontend_image_builds_the_page_and_serves_it_unprivileged() -> None:
    build, final = parse_dockerfile(FRONTEND_DOCKERFILE)
    assert re.fullmatch(r"node:\d+-[a-z]+-slim", build.base), build.base
    runs = [r.args for r in build.all("RUN")]
    assert any(r.startswith("npm ci") for r in runs), "the lock file decides the versions"
    assert "npm run build" in runs
    assert re.fullmatch(r"nginxinc/nginx-unprivileged:\d+\.\d+-alpine", final.base), final.base
    user = final.all("USER")[-1].args
    assert user.split(":")[0] not in {"root", "0"}
    copies = {c.args for c in final.all("COPY")}
    assert "frontend/nginx.conf /etc/nginx/nginx.conf" in copies
    assert f"--from={build.name} /app/dist /usr/share/nginx/html" in copies
    (health,) = final.all("HEALTHCHECK")
    assert "http://127.0.0.1:8080/healthz" in health.exec_form()


def test_frontend_image_uses_the_frontends_own_scripts_and_lock_file() -> None:
    import json

    package = json.loads((ROOT / "frontend" / "package.json").read_text())
    assert "build" in package["scripts"]
    assert (ROOT / "frontend" / "package-lock.json").is_file(), "npm ci needs the lock file"
    vite = (ROOT / "frontend" / "vite.config.ts").read_text()
    outdir = re.search(r"outDir:\s*[\"']([^\"']+)", vite)
    assert (outdir.group(1) if outdir else "dist") == "dist", "the image copies /app/dist"
