"""scripts/deploy.sh and scripts/destroy.sh: lint, dry-run order, prerequisites, safety gates.

AWS, Docker and Terragrunt cannot run here, so the external CLIs are stubs on
a PATH built for each test: they log their arguments and fail if called,
except for the two read-only calls a real run makes before asking to go on
(`aws sts get-caller-identity`, `docker info`). git, bash and coreutils are real.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ["deploy.sh", "destroy.sh", "build-importer-zip.sh"]
STUBBED = ["aws", "terraform", "terragrunt", "docker", "npm"]
REAL = [
    "bash",
    "env",
    "git",
    "curl",
    "dirname",
    "mktemp",
    "rm",
    "date",
    "sed",
    "cat",
    "grep",
    "seq",
    "sleep",
    "mkdir",
    "basename",
]
ENVS = ["test", "dev", "stage", "prod"]

STUB = """#!/bin/sh
echo "$(basename "$0") $*" >>"$STUB_LOG"
case "$(basename "$0") $*" in
  "aws sts get-caller-identity"*) echo "arn:aws:iam::123456789012:user/tester" ;;
  "docker info") ;;
  *) echo "stub $(basename "$0") must not run: $*" >&2; exit 97 ;;
esac
"""


@dataclass
class Repo:
    path: Path
    sha: str


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    """A committed scratch copy: the scripts read git and terraform/infrastructure only."""
    path = tmp_path_factory.mktemp("repo")
    (path / "scripts").mkdir()
    for name in [*SCRIPTS, "image-tag.sh"]:
        shutil.copy2(ROOT / "scripts" / name, path / "scripts" / name)
    for env in ENVS:
        (path / "terraform/infrastructure" / env).mkdir(parents=True)
        shutil.copy2(
            ROOT / "terraform/infrastructure" / env / "terragrunt.hcl",
            path / "terraform/infrastructure" / env / "terragrunt.hcl",
        )
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "scratch"], check=True)
    sha = subprocess.run(
        [*git, "rev-parse", "--short=12", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return Repo(path, sha)


def make_path(tmp_path: Path, omit: str = "") -> tuple[str, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in REAL:
        real = shutil.which(name)
        assert real, f"{name} is needed by these tests"
        (bin_dir / name).symlink_to(real)
    for name in STUBBED:
        if name != omit:
            (bin_dir / name).write_text(STUB)
            (bin_dir / name).chmod(0o755)
    return str(bin_dir), tmp_path / "stub.log"


def run(
    repo: Repo, tmp_path: Path, script: str, *args: str, omit: str = "", stdin: str = ""
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    path, log = make_path(tmp_path, omit)
    env = {"PATH": path, "HOME": str(tmp_path), "STUB_LOG": str(log), "LANG": "C.UTF-8"}
    proc = subprocess.run(
        ["bash", str(repo.path / "scripts" / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return proc, calls


def commands(stdout: str) -> list[str]:
    return [line[2:] for line in stdout.splitlines() if line.startswith("+ ")]


def assert_in_order(actual: list[str], expected: list[str]) -> None:
    """Each actual command matches the expected pattern at the same position."""
    for i, (line, pattern) in enumerate(zip(actual, expected, strict=False)):
        assert re.fullmatch(pattern, line), f"command {i + 1}:\n {line}\nis not\n {pattern}"
    assert len(actual) == len(expected), "\n".join(actual)


def test_shellcheck_clean() -> None:
    shellcheck = require_tool("shellcheck")
    proc = subprocess.run(
        [shellcheck, *(str(ROOT / "scripts" / s) for s in SCRIPTS)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout


def deploy_expected(env: str, sha: str) -> list[str]:
    tag = f"{env}-{sha}"
    tg = rf"cd terraform/infrastructure/{env} && terragrunt"
    ecr = r"<account>\.dkr\.ecr\.eu-west-1\.amazonaws\.com"
    out = tg + " output -raw "
    return [
        r"export AWS_PROFILE=ops",
        rf"export AWS_REGION=eu-west-1 IMAGE_TAG={tag} TG_NON_INTERACTIVE=true",
        r"aws sts get-caller-identity --query Arn --output text",
        r"scripts/build-importer-zip\.sh build/importer\.zip",
        tg + r" apply -auto-approve -input=false -target=module\.ecr",
        out + "ecr_repository_url",
        rf"aws ecr describe-images --repository-name countq-{env} --image-ids imageTag={tag}",
        rf"aws ecr get-login-password \| docker login --username AWS --password-stdin {ecr}",
        rf"docker build --platform linux/amd64 --pull --tag {ecr}/countq-{env}:{tag} \.",
        rf"docker push {ecr}/countq-{env}:{tag}",
        tg + r" apply -auto-approve -input=false -target=module\.importer",
        out + "importer_function_name",
        r"aws lambda invoke --function-name <importer_function_name> --payload fileb://\S+/"
        r"migrate\.json --cli-read-timeout 900 --query FunctionError --output text "
        r"\S+/migrate-result\.json",
        tg + r" apply -auto-approve -input=false",
        out + "frontend_bucket",
        out + "cloudfront_distribution_id",
        r"cd frontend && npm ci",
        r"cd frontend && npm run build",
        r"aws s3 sync frontend/dist/assets s3://<frontend_bucket>/assets "
        r"--cache-control 'public, max-age=31536000, immutable'",
        r"aws s3 sync frontend/dist s3://<frontend_bucket> --delete --exclude 'assets/\*' "
        r"--cache-control no-cache",
        r"aws cloudfront create-invalidation --distribution-id <cloudfront_distribution_id> "
        r"--paths '/\*' --query Invalidation\.Id --output text",
        out + "ecs_cluster_name",
        out + "producer_service_name",
        out + "consumer_service_name",
        r"aws ecs wait services-stable --cluster <ecs_cluster_name> "
        r"--services <producer_service_name> <consumer_service_name>",
        out + "cloudfront_url",
        r"curl .* -X POST <cloudfront_url>/count -H 'content-type: application/json' "
        r"--data '\{\"count\": \d+\}'",
        r"curl .* <cloudfront_url>/count",
    ]


@pytest.mark.parametrize("env", ENVS)
def test_deploy_dry_run_prints_the_ordered_commands(repo: Repo, tmp_path: Path, env: str) -> None:
    proc, calls = run(
        repo,
        tmp_path,
        "deploy.sh",
        "--profile",
        "ops",
        "--region",
        "eu-west-1",
        "--env",
        env,
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    assert calls == []  # a dry run runs nothing, not even the read-only calls
    assert_in_order(commands(proc.stdout), deploy_expected(env, repo.sha))
    steps = re.findall(r"^==> \[(\d+)/10\]", proc.stdout, re.MULTILINE)
    assert steps == [str(i) for i in range(1, 11)]
    assert proc.stdout.rstrip().endswith(f"countq {env} is live: <cloudfront_url>")


def test_deploy_prompts_for_what_flags_do_not_give(repo: Repo, tmp_path: Path) -> None:
    proc, _ = run(repo, tmp_path, "deploy.sh", "--dry-run", stdin="ops\neu-central-1\nstage\n")
    assert proc.returncode == 0, proc.stderr
    for prompt in (
        "AWS profile [default]:",
        "AWS region [eu-west-1]:",
        "Environment (test, dev, stage, prod) [dev]:",
    ):
        assert prompt in proc.stderr
    assert commands(proc.stdout)[:2] == [
        "export AWS_PROFILE=ops",
        f"export AWS_REGION=eu-central-1 IMAGE_TAG=stage-{repo.sha} TG_NON_INTERACTIVE=true",
    ]


def test_empty_profile_uses_the_environment_credentials(repo: Repo, tmp_path: Path) -> None:
    proc, _ = run(
        repo,
        tmp_path,
        "deploy.sh",
        "--profile",
        "",
        "--region",
        "eu-west-1",
        "--env",
        "test",
        "--dry-run",
    )
    assert proc.returncode == 0, proc.stderr
    assert commands(proc.stdout)[0] == "unset AWS_PROFILE"


def test_deploy_without_answers_or_flags_fails_clearly(repo: Repo, tmp_path: Path) -> None:
    proc, _ = run(repo, tmp_path, "deploy.sh", "--dry-run", stdin="")
    assert proc.returncode == 1
    assert "no answer for 'AWS profile'" in proc.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["--env", "qa"], "environment must be test, dev, stage or prod, not 'qa'"),
        (["--env", "dev", "--region", "mars"], "'mars' is not an AWS region name"),
        (["--env", "dev", "--bogus"], "unknown argument: --bogus"),
    ],
)
def test_deploy_rejects_bad_input(
    repo: Repo, tmp_path: Path, args: list[str], message: str
) -> None:
    defaults = ["--profile", "ops", "--region", "eu-west-1"]
    proc, calls = run(repo, tmp_path, "deploy.sh", *defaults, *args, "--dry-run")
    assert proc.returncode != 0 and message in proc.stderr
    assert calls == [] and commands(proc.stdout) == []


@pytest.mark.parametrize(
    "script,tool",
    [
        (s, t)
        for s in ("deploy.sh", "destroy.sh")
        for t in STUBBED
        if s == "deploy.sh" or t in ("aws", "terraform", "terragrunt")
    ],
)
def test_missing_prerequisite_is_named_and_fails(
    repo: Repo, tmp_path: Path, script: str, tool: str
) -> None:
    flags = ["--profile", "ops", "--region", "eu-west-1", "--env", "dev", "--yes"]
    proc, calls = run(repo, tmp_path, script, *flags, omit=tool)
    assert proc.returncode == 1
    assert f"missing prerequisite: {tool} not found on PATH" in proc.stderr
    assert len(re.findall("missing prerequisite", proc.stderr)) == 1
    assert calls == []  # checked before the first AWS call


def test_deploy_asks_before_changing_anything(repo: Repo, tmp_path: Path) -> None:
    proc, calls = run(
        repo,
        tmp_path,
        "deploy.sh",
        "--profile",
        "ops",
        "--region",
        "eu-west-1",
        "--env",
        "dev",
        stdin="n\n",
    )
    assert proc.returncode == 1 and "cancelled" in proc.stderr
    assert "as arn:aws:iam::123456789012:user/tester" in proc.stdout
    assert calls == ["docker info", "aws sts get-caller-identity --query Arn --output text"]


def test_deploy_stops_when_the_identity_check_fails(repo: Repo, tmp_path: Path) -> None:
    path, _ = make_path(tmp_path)
    no_credentials = "#!/bin/sh\necho 'Unable to locate credentials' >&2; exit 253\n"
    (Path(path) / "aws").write_text(no_credentials)
    env = {"PATH": path, "HOME": str(tmp_path), "STUB_LOG": str(tmp_path / "log")}
    proc = subprocess.run(
        [
            "bash",
            str(repo.path / "scripts/deploy.sh"),
            "--profile",
            "ops",
            "--region",
            "eu-west-1",
            "--env",
            "dev",
            "--yes",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "AWS credentials do not work for profile 'ops'" in proc.stderr


def destroy_expected(env: str, sha: str) -> list[str]:
    tg = rf"cd terraform/infrastructure/{env} && terragrunt"
    out = tg + " output -raw "
    expected = [
        r"export AWS_PROFILE=ops",
        rf"export AWS_REGION=eu-west-1 IMAGE_TAG={env}-{sha} TG_NON_INTERACTIVE=true",
        r"aws sts get-caller-identity --query Arn --output text",
        r"scripts/build-importer-zip\.sh build/importer\.zip",
    ]
    if env == "prod":
        expected.append(
            tg + r" apply -auto-approve -input=false -var protect_data=false "
            r"-target=module\.alb -target=module\.rds -target=module\.redis "
            r"-target=module\.ecr -target=module\.importer -target=module\.frontend"
        )
    for bucket in ("frontend_bucket", "imports_bucket"):
        expected += [
            out + bucket,
            rf"aws s3 rm s3://<{bucket}> --recursive --only-show-errors",
            rf"aws s3api list-object-versions --bucket <{bucket}> --max-keys 1000 "
            r"--no-paginate --output json --query '\{Objects: \[Versions, DeleteMarkers\]"
            r"\[\]\.\{Key: Key, VersionId: VersionId\}\}'",
            rf"aws s3api delete-objects --bucket <{bucket}> --delete .* --output text "
            r"--query 'length\(Deleted\)'",
        ]
    return [
        *expected,
        out + "ecr_repository_url",
        rf"aws ecr list-images --repository-name countq-{env} --query 'imageIds\[:100\]' "
        r"--output json",
        rf"aws ecr batch-delete-image --repository-name countq-{env} --image-ids .* "
        r"--query 'length\(imageIds\)' --output text",
        tg + r" destroy -auto-approve -input=false",
    ]


@pytest.mark.parametrize("env", ENVS)
def test_destroy_dry_run_prints_the_ordered_commands(repo: Repo, tmp_path: Path, env: str) -> None:
    flags = ["--allow-prod"] if env == "prod" else []
    proc, calls = run(
        repo,
        tmp_path,
        "destroy.sh",
        "--profile",
        "ops",
        "--region",
        "eu-west-1",
        "--env",
        env,
        "--dry-run",
        *flags,
    )
    assert proc.returncode == 0, proc.stderr
    assert calls == []
    assert_in_order(commands(proc.stdout), destroy_expected(env, repo.sha))
    total = 7 if env == "prod" else 6
    steps = re.findall(rf"^==> \[(\d+)/{total}\]", proc.stdout, re.MULTILINE)
    assert steps == [str(i) for i in range(1, total + 1)]


def test_destroy_refuses_prod_without_the_flag(repo: Repo, tmp_path: Path) -> None:
    proc, calls = run(
        repo,
        tmp_path,
        "destroy.sh",
        "--profile",
        "ops",
        "--region",
        "eu-west-1",
        "--env",
        "prod",
        "--yes",
    )
    assert proc.returncode == 1
    assert "refusing to destroy prod without --allow-prod" in proc.stderr
    assert calls == [] and commands(proc.stdout) == []


def test_destroy_needs_the_environment_name_typed(repo: Repo, tmp_path: Path) -> None:
    proc, calls = run(
        repo,
        tmp_path,
        "destroy.sh",
        "--profile",
        "ops",
        "--region",
        "eu-west-1",
        "--env",
        "stage",
        stdin="yes\n",
    )
    assert proc.returncode == 1 and "cancelled (typed 'yes')" in proc.stderr
    assert "Type the environment name (stage) to confirm:" in proc.stderr
    assert calls == ["aws sts get-caller-identity --query Arn --output text"]


def test_scripts_are_executable() -> None:
    for name in SCRIPTS:
        assert os.access(ROOT / "scripts" / name, os.X_OK), name


def test_deploy_refuses_uncommitted_changes(repo: Repo, tmp_path: Path) -> None:
    dirty = Repo(tmp_path / "dirty", repo.sha)
    shutil.copytree(repo.path, dirty.path, symlinks=True)
    with (dirty.path / "terraform/infrastructure/dev/terragrunt.hcl").open("a") as f:
        f.write("# edited\n")
    proc, calls = run(
        dirty,
        tmp_path,
        "deploy.sh",
        "--profile",
        "ops",
        "--region",
        "eu-west-1",
        "--env",
        "dev",
        "--yes",
    )
    assert proc.returncode == 1
    assert f"uncommitted changes: commit first, the image tag dev-{repo.sha}" in proc.stderr
    assert calls == ["docker info"]
