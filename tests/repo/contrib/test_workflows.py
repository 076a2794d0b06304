"""The GitHub Actions workflows: linted, hardened, and in step with the repo.

`make lint` already runs actionlint and zizmor over the real workflows; these
tests check what those tools do not (timeouts, the test command, the files the
workflow relies on) and that the lint itself would catch a bad workflow.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.repo.contrib.tree import ROOT, source_files

WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
VENV_BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path} is not a mapping"
    return data


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps", [])]


def venv_tool(name: str) -> str:
    # These come from the project's own dev extras (`make venv`), so a missing
    # one is a broken install, not an optional tool: fail, never skip.
    path = VENV_BIN / name
    assert path.exists(), f"{path} missing: run `make venv`"
    return str(path)


def actionlint(*paths: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    cmd = [
        venv_tool("actionlint"),
        "-no-color",
        "-shellcheck",
        venv_tool("shellcheck"),
        "-pyflakes=",
    ]
    return subprocess.run(
        [*cmd, *map(str, paths)], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    cmd = [venv_tool("zizmor"), "--offline", "--no-progress", *map(str, paths)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_there_is_a_ci_workflow() -> None:
    assert CI in workflow_files()


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_every_job_has_a_timeout_and_least_privilege(path: Path) -> None:
    workflow = load(path)
    # No default token scopes: each job lists the ones it needs.
    assert workflow.get("permissions") == {}, "top-level permissions must be {}"
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"job {name} has no timeout-minutes"
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"job {name} must list its permissions"
        writes = {k for k, v in perms.items() if v == "write"}
        # id-token: write only in a job that assumes an AWS role (OIDC) or
        # publishes the docs, pull-requests: write only in plan.yml's comment
        # job, pages: write only in docs.yml's publish job.
        assumes_role = any(
            s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
            for s in job.get("steps", [])
        )
        allowed = {"id-token"} if assumes_role else set()
        if (path.name, name) == ("plan.yml", "comment"):
            allowed.add("pull-requests")
        # GitHub Pages' deployment: its API, and the OIDC token deploy-pages presents.
        if (path.name, name) == ("docs.yml", "publish"):
            allowed |= {"pages", "id-token"}
        assert writes <= allowed, f"job {name} asks for write access: {sorted(writes - allowed)}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_actions_are_pinned_by_sha_with_their_version(path: Path) -> None:
    uses_lines = [line.strip() for line in path.read_text().splitlines() if "uses:" in line]
    assert uses_lines
    for line in uses_lines:
        ref, _, comment = line.split("uses:", 1)[1].partition("#")
        assert SHA_PIN.match(ref.strip()), f"not pinned to a full commit SHA: {line}"
        # The tag beside the SHA is what a reviewer (or Dependabot) reads.
        assert re.search(r"\d+\.\d+", comment), f"no version comment: {line}"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_checkout_never_persists_credentials(path: Path) -> None:
    for step in steps(load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False


def test_ci_services_match_the_versions_the_tests_expect() -> None:
    services = load(CI)["jobs"]["test"]["services"]
    assert services["mariadb"]["image"] == "mariadb:10.11"
    assert services["redis"]["image"] == "redis:7"
    assert "127.0.0.1:3306:3306" in services["mariadb"]["ports"]
    assert "127.0.0.1:6379:6379" in services["redis"]["ports"]


def test_ci_caches_pip_and_npm_on_files_that_exist() -> None:
    caches = {}
    for step in steps(load(CI)):
        with_ = step.get("with", {})
        if "cache" in with_:
            caches[with_["cache"]] = with_["cache-dependency-path"]
    assert set(caches) == {"pip", "npm"}
    for dependency_file in caches.values():
        assert (ROOT / dependency_file).is_file(), f"cache key file {dependency_file} missing"


def shell_command(line: str) -> str:
    """A shell line without its prompt or trailing comment, words normalised."""
    return shlex.join(shlex.split(line.strip().removeprefix("$ "), comments=True))


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text()
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", readme, flags=re.M | re.S):
        for line in block.splitlines():
            command = shell_command(line)
            if command.startswith("make test"):
                return command
    raise AssertionError("README.md has no fenced code block with a `make test` line")


def test_ci_runs_the_readme_test_command() -> None:
    test_steps = [s for s in load(CI)["jobs"]["test"]["steps"] if s.get("name") == "Test"]
    assert len(test_steps) == 1
    assert shell_command(test_steps[0]["run"]) == readme_test_command()


def test_image_job_builds_and_scans_every_dockerfile() -> None:
    image_job = load(CI)["jobs"]["image"]
    assert image_job["if"] == "github.event_name == 'push'"
    matrix = image_job["strategy"]["matrix"]["include"]
    built = {entry["dockerfile"] for entry in matrix}
    on_disk = {
        name
        for name in source_files()
        # The stand-ins for upstream base images (scripts/containers/standins/)
        # are built only where no registry answers, never shipped.
        if re.fullmatch(r"(.*/)?(Dockerfile(\.[\w-]+)?|[\w-]+\.Dockerfile)", name)
        and not name.startswith(("tests/", "scripts/containers/standins/"))
    }
    assert built == on_disk
    for entry in matrix:
        assert (ROOT / entry["context"]).is_dir()
    assert any(
        s.get("uses", "").startswith("aquasecurity/trivy-action@") for s in image_job["steps"]
    )


def test_real_workflows_lint_clean() -> None:
    result = actionlint(*workflow_files())
    assert result.returncode == 0, result.stdout + result.stderr
    result = zizmor(*workflow_files())
    assert result.returncode == 0, result.stdout + result.stderr


# Each mutation of ci.yml must be caught, or the lint above proves nothing.
MUTATIONS: dict[str, tuple[Callable[[str], str], str, str]] = {
    "unpinned action": (
        lambda text: re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v5", text, count=1),
        "zizmor",
        "unpinned-uses",
    ),
    "persisted credentials": (
        # The first checkout keeps its other inputs (fetch-depth), so `with:` stays valid.
        lambda text: text.replace("          persist-credentials: false\n", "", 1),
        "zizmor",
        "artipacked",
    ),
    "template injection": (
        lambda text: text.replace(
            "run: make venv", "run: echo ${{ github.event.pull_request.title }}", 1
        ),
        "zizmor",
        "template-injection",
    ),
    "unquoted shell variable": (
        lambda text: text.replace('"$IMAGE"', "$IMAGE", 1),
        "actionlint",
        "SC2086",
    ),
    "unknown job key": (
        lambda text: text.replace("timeout-minutes: 60", "timeout-minute: 60", 1),
        "actionlint",
        "timeout-minute",
    ),
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_lint_catches_a_broken_workflow(name: str, tmp_path: Path) -> None:
    mutate, tool, finding = MUTATIONS[name]
    original = CI.read_text()
    mutated = mutate(original)
    assert mutated != original, "mutation no longer applies to ci.yml"
    # actionlint only checks files under a .github/workflows directory.
    target = tmp_path / ".github" / "workflows" / "ci.yml"
    target.parent.mkdir(parents=True)
    target.write_text(mutated)
    result = actionlint(target, cwd=tmp_path) if tool == "actionlint" else zizmor(target)
    assert result.returncode != 0
    assert finding in result.stdout + result.stderr
