"""deploy.yml and plan.yml: triggers, environments, credentials, and their
steps run as GitHub would run them (bash -eo pipefail, RUNNER_TEMP,
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), with deploy.sh in --dry-run and a
stand-in for the gh CLI. actionlint and zizmor run over them in `make lint`
and in tests/repo/contrib/test_workflows.py."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.services import require_tool
from tests.repo.cd import bootstrap, iam
from tests.repo.cd.iam import Request
from tests.repo.infra import harness

ROOT = harness.ROOT
WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY = WORKFLOWS / "deploy.yml"
PLAN = WORKFLOWS / "plan.yml"
ENVIRONMENTS = list(harness.ENVIRONMENTS)
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"
SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
OIDC = "token.actions.githubusercontent.com"


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    # PyYAML reads the bare key `on` as True.
    return dict(workflow.get("on", workflow.get(True)))


def step(job: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [s for s in job["steps"] if s.get("name") == name or s.get("id") == name]
    return dict(found)


def assumes_a_role(job: dict[str, Any]) -> bool:
    return any(s.get("uses", "").startswith(CREDENTIALS_ACTION) for s in job.get("steps", []))


def run_step(
    script: str, env: dict[str, str], cwd: Path, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A `run:` block as a `shell: bash` step runs it."""
    base = {"PATH": path or os.environ["PATH"], "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- deploy.yml --------------------------------------------------------------


def test_deploy_triggers_and_order() -> None:
    workflow = load(DEPLOY)
    assert triggers(workflow) == {
        "push": {"branches": ["main"]},
        "release": {"types": ["published"]},
    }
    jobs = workflow["jobs"]
    assert set(jobs) == {"test", "stage", "prod"}
    assert jobs["test"]["if"] == "github.event_name == 'push'"
    assert jobs["stage"]["if"] == "github.event_name == 'release'"
    # prod only after stage succeeded, and never for a pre-release.
    assert jobs["prod"]["needs"] == "stage"
    assert "!github.event.release.prerelease" in jobs["prod"]["if"]


@pytest.mark.parametrize("env", ["test", "stage", "prod"])
def test_each_deploy_job_is_its_environment_one_at_a_time(env: str) -> None:
    job = load(DEPLOY)["jobs"][env]
    assert job["environment"]["name"] == env
    assert job["env"]["DEPLOY_ENV"] == env
    # Never cancelled once running; one group per environment.
    assert job["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}
    credentials = next(s for s in job["steps"] if s.get("uses", "").startswith(CREDENTIALS_ACTION))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert credentials["with"]["aws-region"] == "${{ vars.AWS_REGION }}"


def test_all_deploy_jobs_run_the_same_steps() -> None:
    jobs = load(DEPLOY)["jobs"]
    assert jobs["test"]["steps"] == jobs["stage"]["steps"] == jobs["prod"]["steps"]


@pytest.mark.parametrize("path", [DEPLOY, PLAN], ids=lambda p: p.name)
def test_id_token_only_in_jobs_that_assume_a_role(path: Path) -> None:
    for name, job in load(path)["jobs"].items():
        permissions = job["permissions"]
        assert (permissions.get("id-token") == "write") == assumes_a_role(job), name
        writes = {k for k, v in permissions.items() if v == "write"} - {"id-token"}
        if name == "comment":
            assert permissions == {"pull-requests": "write"}
        else:
            assert not writes, f"{name} writes {writes}"


def expected_subject(workflow: dict[str, Any], job: dict[str, Any], repository: str) -> str:
    """The sub claim GitHub puts in the job's OIDC token (its default format)."""
    if "environment" in job:
        environment = job["environment"]
        name = environment["name"] if isinstance(environment, dict) else environment
        return f"repo:{repository}:environment:{name}"
    if "pull_request" in triggers(workflow):
        return f"repo:{repository}:pull_request"
    return f"repo:{repository}:ref:refs/heads/main"


@pytest.mark.slow  # needs the bootstrap applied against moto
def test_each_job_token_opens_exactly_its_role(bootstrap_run: bootstrap.BootstrapRun) -> None:
    """The workflows and the bootstrap's trust policies agree: GitHub's token
    for each job that assumes a role opens that role and no other."""
    provider = f"arn:aws:iam::{bootstrap.ACCOUNT}:oidc-provider/{OIDC}"
    checked = 0
    for path in (DEPLOY, PLAN):
        workflow = load(path)
        for name, job in workflow["jobs"].items():
            if not assumes_a_role(job):
                continue
            subject = expected_subject(workflow, job, bootstrap.REPOSITORY)
            request = Request(
                "sts:AssumeRoleWithWebIdentity",
                context={f"{OIDC}:sub": subject, f"{OIDC}:aud": "sts.amazonaws.com"},
                principal=provider,
            )
            opened = {
                role
                for role, details in bootstrap_run.roles.items()
                if iam.allowed([details["AssumeRolePolicyDocument"]], request)
            }
            expected = "countq-github-plan" if path == PLAN else f"countq-github-deploy-{name}"
            assert opened == {expected}, f"{path.name} {name}: {subject}"
            checked += 1
    assert checked == 4  # test, stage, prod, and the plan matrix


def deploy_invocations() -> list[list[str]]:
    """Every scripts/deploy.sh command line in the workflows, as words."""
    found = []
    for path in (DEPLOY, PLAN):
        for job in load(path)["jobs"].values():
            for s in job.get("steps", []):
                script = s.get("run", "").replace("\\\n", " ")
                for line in script.splitlines():
                    if "scripts/deploy.sh" in line:
                        words = shlex.split(line)
                        start = words.index("scripts/deploy.sh")
                        end = next(
                            (i for i, w in enumerate(words) if w in ("2>&1", "|")), len(words)
                        )
                        found.append(words[start:end])
    return found


def deploy_usage_flags() -> set[str]:
    usage = subprocess.run(
        ["bash", str(ROOT / "scripts" / "deploy.sh"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", usage))


def test_every_flag_the_workflows_pass_exists_in_deploy_usage() -> None:
    invocations = deploy_invocations()
    assert invocations, "no workflow runs scripts/deploy.sh"
    usage = deploy_usage_flags()
    assert usage, "deploy.sh --help lists no flags"
    for words in invocations:
        passed = {w.split("=", 1)[0] for w in words if w.startswith("--")}
        assert passed <= usage, f"not in deploy.sh --help: {sorted(passed - usage)}"
        # Unattended: every prompt answered by a flag.
        assert {"--profile", "--region", "--env", "--yes"} <= passed


STUB = """#!/bin/sh
echo "stub $(basename "$0") must not run: $*" >&2
exit 97
"""


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    """A committed copy of what deploy.sh reads, with deploy.sh wrapped to add
    --dry-run: the workflow's own step then runs unchanged."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", repo / "scripts")
    shutil.copytree(ROOT / "terraform" / "infrastructure", repo / "terraform" / "infrastructure")
    real = repo / "scripts" / "deploy-real.sh"
    (repo / "scripts" / "deploy.sh").rename(real)
    (repo / "scripts" / "deploy.sh").write_text(
        '#!/usr/bin/env bash\nexec "$(dirname "$0")/deploy-real.sh" "$@" --dry-run\n'
    )
    (repo / "scripts" / "deploy.sh").chmod(0o755)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "scratch"], check=True)
    return repo


def stub_path(tmp_path: Path, *tools: str) -> str:
    """A PATH of stubs for `tools` in front of the real one."""
    bin_dir = tmp_path / "stubs"
    bin_dir.mkdir(exist_ok=True)
    for tool in tools:
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def github_files(tmp_path: Path) -> dict[str, str]:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    files = {"GITHUB_OUTPUT": "output", "GITHUB_STEP_SUMMARY": "summary"}
    env = {var: str(tmp_path / name) for var, name in files.items()}
    for path in env.values():
        Path(path).touch()
    return {"RUNNER_TEMP": str(runner_temp), **env}


def test_deploy_step_runs_unattended_and_reports_the_smoke_test(
    scratch_repo: Path, tmp_path: Path
) -> None:
    """The Deploy and Smoke test summary steps, as the workflow has them, on
    deploy.sh --dry-run: no prompt, the URL as the step's output, the smoke
    test in the job summary."""
    job = load(DEPLOY)["jobs"]["test"]
    gh = github_files(tmp_path)
    env = {**gh, "DEPLOY_ENV": "test", "AWS_REGION": "eu-west-1"}
    path = stub_path(tmp_path, "aws", "terraform", "terragrunt", "docker", "npm")
    deploy = run_step(step(job, "Deploy")["run"], env, scratch_repo, path)
    assert deploy.returncode == 0, deploy.stderr + deploy.stdout
    assert "[y/N]" not in deploy.stderr + deploy.stdout
    assert "==> [1/" in deploy.stdout
    assert Path(gh["GITHUB_OUTPUT"]).read_text() == "url=<cloudfront_url>\n"

    summary_env = {**env, "OUTCOME": "success", "URL": "<cloudfront_url>"}
    summary = run_step(step(job, "Smoke test summary")["run"], summary_env, scratch_repo)
    assert summary.returncode == 0, summary.stderr
    text = Path(gh["GITHUB_STEP_SUMMARY"]).read_text()
    assert text.startswith("### countq test: deployed, smoke test passed")
    assert re.search(r"^==> \[\d+/\d+\] Smoke test", text, re.M)
    assert "-X POST '<cloudfront_url>/count'" in text or "-X POST <cloudfront_url>/count" in text


def test_smoke_test_summary_when_the_deploy_fails(tmp_path: Path) -> None:
    job = load(DEPLOY)["jobs"]["prod"]
    script = step(job, "Smoke test summary")["run"]
    gh = github_files(tmp_path)
    log = Path(gh["RUNNER_TEMP"]) / "deploy.log"
    log.write_text(
        "==> [8/10] Waiting for the ECS services to be stable\n"
        "==> [9/10] Smoke test through CloudFront (POST then GET /count)\n"
        "deploy.sh: smoke test: GET /count never showed 1764400000 (last: {})\n"
    )
    env = {**gh, "DEPLOY_ENV": "prod", "OUTCOME": "failure", "URL": ""}
    assert run_step(script, env, tmp_path).returncode == 0
    text = Path(gh["GITHUB_STEP_SUMMARY"]).read_text()
    assert text.startswith("### countq prod: deploy failed (failure)")
    assert "GET /count never showed 1764400000" in text
    assert "Waiting for the ECS services" not in text

    # Credentials refused: deploy.sh never started, so there is no log.
    log.unlink()
    Path(gh["GITHUB_STEP_SUMMARY"]).write_text("")
    assert run_step(script, env, tmp_path).returncode == 0
    assert "The deploy did not start" in Path(gh["GITHUB_STEP_SUMMARY"]).read_text()


# --- plan.yml ----------------------------------------------------------------


def test_plan_runs_on_pull_requests_only_and_never_on_a_target_checkout() -> None:
    assert set(triggers(load(PLAN))) == {"pull_request"}
    for path in (DEPLOY, PLAN):
        assert "pull_request_target" not in triggers(load(path))


def test_plan_jobs_split_same_repository_and_forks() -> None:
    jobs = load(PLAN)["jobs"]
    assert jobs["plan"]["if"] == SAME_REPO
    assert jobs["fork"]["if"] == SAME_REPO.replace("==", "!=")
    assert jobs["fork"]["permissions"] == {}
    assert not assumes_a_role(jobs["fork"])
    assert "fork" in step(jobs["fork"], "Say why")["run"]
    assert jobs["comment"]["if"] == f"always() && {SAME_REPO}"
    assert jobs["comment"]["needs"] == "plan"
    # The comment job never runs the pull request's code.
    assert not any(
        s.get("uses", "").startswith("actions/checkout@") for s in jobs["comment"]["steps"]
    )


def test_plan_covers_every_environment_read_only() -> None:
    job = load(PLAN)["jobs"]["plan"]
    on_disk = {
        p.parent.name
        for p in (harness.TERRAFORM_DIR / "infrastructure").glob("*/terragrunt.hcl")
        if p.parent.name != "bootstrap"
    }
    assert set(job["strategy"]["matrix"]["environment"]) == on_disk == set(ENVIRONMENTS)
    assert job["strategy"]["fail-fast"] is False
    assert "environment" not in job  # see test_each_job_token_opens_exactly_its_role
    credentials = next(s for s in job["steps"] if s.get("uses", "").startswith(CREDENTIALS_ACTION))
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"
    plan = step(job, "Plan")["run"]
    assert "-lock=false" in plan and "-refresh=false" in plan


def test_terragrunt_is_pinned_and_checked_in_both_workflows() -> None:
    installs = [
        step(job, "Install Terragrunt")
        for path in (DEPLOY, PLAN)
        for job in load(path)["jobs"].values()
        if any(s.get("name") == "Install Terragrunt" for s in job.get("steps", []))
    ]
    assert len(installs) == 4
    for install in installs:
        assert re.fullmatch(r"\d+\.\d+\.\d+", install["env"]["TERRAGRUNT_VERSION"])
        assert re.fullmatch(r"[0-9a-f]{64}", install["env"]["TERRAGRUNT_SHA256"])
        assert "sha256sum --check --strict" in install["run"]
    assert len({json.dumps(i, sort_keys=True) for i in installs}) == 1


@pytest.mark.slow  # needs the bootstrap applied against moto
def test_plan_summary_from_a_real_plan(
    bootstrap_run: bootstrap.BootstrapRun, tmp_path: Path
) -> None:
    """The Summary step on the stack's real plan (made on moto): totals and
    one line per change."""
    require_tool("jq")
    job = load(PLAN)["jobs"]["plan"]
    gh = github_files(tmp_path)
    temp = Path(gh["RUNNER_TEMP"])
    (temp / "plan.log").write_text(bootstrap_run.stack_plan_log)
    (temp / "plan.json").write_text(json.dumps(bootstrap_run.stack_plan))
    env = {**gh, "PLAN_ENV": "prod", "OUTCOME": "success"}
    result = run_step(step(job, "Summary")["run"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    text = (temp / "summary" / "prod.md").read_text()
    creates = [
        rc["address"]
        for rc in bootstrap_run.stack_plan["resource_changes"]
        if rc["change"]["actions"] == ["create"]
    ]
    assert text.startswith(f"#### `prod`: Plan: {len(creates)} to add, 0 to change, 0 to destroy.")
    assert f"- create `{creates[0]}`" in text
    assert len(text.splitlines()) == 1 + len(creates)
    assert Path(gh["GITHUB_STEP_SUMMARY"]).read_text() == text

    failed = run_step(
        step(job, "Summary")["run"], {**env, "PLAN_ENV": "dev", "OUTCOME": "failure"}, tmp_path
    )
    assert failed.returncode == 0, failed.stderr
    assert "the plan failed" in (temp / "summary" / "dev.md").read_text()


GH_STUB = """#!/usr/bin/env bash
# Stands in for the gh CLI: logs each call, answers the comment listing from
# $GH_COMMENTS, keeps each body it is sent.
echo "$*" >>"$GH_LOG"
for arg in "$@"; do
  case "$arg" in body=@*) cp "${arg#body=@}" "$GH_BODIES/$(wc -l <"$GH_LOG")";; esac
done
case "$*" in
  "api --paginate repos/"*"/comments") cat "$GH_COMMENTS" ;;
esac
"""


def test_plan_comment_is_one_comment_updated_by_its_marker(tmp_path: Path) -> None:
    require_tool("jq")
    job = load(PLAN)["jobs"]["comment"]
    script = step(job, "Comment")["run"]
    work = tmp_path / "work"
    (work / "summary").mkdir(parents=True)
    (work / "summary" / "test.md").write_text("#### `test`: No changes.\n")
    (work / "summary" / "prod.md").write_text("#### `prod`: Plan: 1 to add\n- create `x`\n")
    bodies = tmp_path / "bodies"
    bodies.mkdir()
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir()
    (stub_dir / "gh").write_text(GH_STUB)
    (stub_dir / "gh").chmod(0o755)
    comments = tmp_path / "comments.json"
    env = {
        **github_files(tmp_path),
        "GH_TOKEN": "token",
        "REPO": "example-org/countq",
        "PR": "42",
        "HEAD_SHA": "0123abc",
        "RUN_URL": "https://github.com/example-org/countq/actions/runs/7",
        "GH_LOG": str(tmp_path / "gh.log"),
        "GH_BODIES": str(bodies),
        "GH_COMMENTS": str(comments),
    }
    path = f"{stub_dir}:{os.environ['PATH']}"

    # First push: no comment yet, so one is created.
    comments.write_text("[]")
    first = run_step(script, env, work, path)
    assert first.returncode == 0, first.stderr
    calls = (tmp_path / "gh.log").read_text().splitlines()
    assert calls[0] == "api --paginate repos/example-org/countq/issues/42/comments"
    assert calls[1].startswith(
        "api --method POST repos/example-org/countq/issues/42/comments -F body=@"
    )
    body = (bodies / "2").read_text()
    assert body.startswith("<!-- countq-terraform-plan -->\n### Terraform plan")
    for env_name in ENVIRONMENTS:
        assert f"#### `{env_name}`" in body
    assert "#### `dev`: no plan (the job did not finish)" in body
    assert "- create `x`" in body

    # Next push: the bot's comment (two pages; a person quoting the marker
    # comes first) is edited in place, nothing new is posted.
    page1 = [
        {"id": 5, "user": {"login": "octocat"}, "body": "<!-- countq-terraform-plan --> quoted"}
    ]
    page2 = [{"id": 9, "user": {"login": "github-actions[bot]"}, "body": body}]
    comments.write_text(json.dumps(page1) + "\n" + json.dumps(page2))
    (tmp_path / "gh.log").write_text("")
    second = run_step(script, env, work, path)
    assert second.returncode == 0, second.stderr
    calls = (tmp_path / "gh.log").read_text().splitlines()
    assert len(calls) == 2
    assert calls[1].startswith(
        "api --method PATCH repos/example-org/countq/issues/comments/9 -F body=@"
    )
