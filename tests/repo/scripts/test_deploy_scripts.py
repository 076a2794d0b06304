"""scripts/deploy.sh and scripts/destroy.sh: lint, the dry run's format,
prompts, prerequisites, safety gates. What the scripts do, and in which
order, is replayed against moto in tests/repo/deploy.

The external CLIs are stubs on a PATH built for each test: they log their
arguments and fail if called, except for the two read-only calls a real run
makes before asking to go on (`aws sts get-caller-identity`, `docker info`).
git, bash and coreutils are real.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import hcl2
import pytest

from tests.helpers.services import require_tool

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = ["deploy.sh", "destroy.sh", "build-importer-zip.sh"]
LIB = "lib/common.sh"  # sourced by deploy.sh and destroy.sh, not run
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
  "aws sts get-caller-identity --query Account"*) echo "123456789012" ;;
  "aws sts get-caller-identity"*) echo "arn:aws:iam::123456789012:user/tester" ;;
  "aws s3api head-bucket --bucket countq-tfstate-123456789012-"*) ;;
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
    (path / "scripts/lib").mkdir(parents=True)
    for name in [*SCRIPTS, LIB, "image-tag.sh"]:
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


def flags(env: str, *more: str) -> list[str]:
    """The flags that answer every prompt, for environment `env`."""
    return ["--profile", "ops", "--region", "eu-west-1", "--env", env, *more]


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
    repo: Repo,
    tmp_path: Path,
    script: str,
    *args: str,
    omit: str = "",
    stdin: str = "",
    replace: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `script` on a PATH of stubs, without `omit`, with `replace` as {tool: script}."""
    path, log = make_path(tmp_path, omit)
    for tool, text in (replace or {}).items():
        (Path(path) / tool).write_text(text)
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


def assert_dry_run(proc: subprocess.CompletedProcess[str], calls: list[str], total: int) -> None:
    """A dry run that runs nothing and announces steps 1..total."""
    assert proc.returncode == 0, proc.stderr
    assert calls == []  # a dry run runs nothing, not even the read-only calls
    steps = re.findall(rf"^==> \[(\d+)/{total}\]", proc.stdout, re.MULTILINE)
    assert steps == [str(i) for i in range(1, total + 1)]


@pytest.mark.parametrize("follow", [True, False], ids=["-x", "one-file-at-a-time"])
def test_shellcheck_clean(follow: bool) -> None:
    # Without -x (pre-commit, editors) scripts/.shellcheckrc must still make
    # shellcheck follow lib/common.sh into each script.
    shellcheck = require_tool("shellcheck")
    names = [*SCRIPTS, LIB]
    batches = [names] if follow else [[name] for name in names]
    for batch in batches:
        proc = subprocess.run(
            [shellcheck, *(["-x"] if follow else []), *(str(ROOT / "scripts" / s) for s in batch)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout


def stack_outputs() -> set[str]:
    with (ROOT / "terraform" / "stack" / "outputs.tf").open() as f:
        return {name.strip('"') for block in hcl2.load(f)["output"] for name in block}


def assert_dry_run_format(
    proc: subprocess.CompletedProcess[str], calls: list[str], total: int
) -> None:
    """A dry run runs nothing, announces steps 1..total, prints each command as `+ ...`, and
    shows a value only Terraform knows as <the output's name>."""
    assert_dry_run(proc, calls, total)
    outputs = stack_outputs()
    for command in commands(proc.stdout):
        for placeholder in re.findall(r"<([a-z_]+)>", command):
            assert placeholder in outputs | {"account"}, f"<{placeholder}> in: {command}"
    assert any("terragrunt" in c for c in commands(proc.stdout))


@pytest.mark.parametrize("env", ENVS)
def test_deploy_dry_run_format(repo: Repo, tmp_path: Path, env: str) -> None:
    proc, calls = run(repo, tmp_path, "deploy.sh", *flags(env, "--dry-run"))
    assert_dry_run_format(proc, calls, 10)
    assert commands(proc.stdout)[:3] == [
        "export AWS_PROFILE=ops",
        "export AWS_REGION=eu-west-1 TG_NON_INTERACTIVE=true",
        "aws sts get-caller-identity --query Arn --output text",
    ]
    assert proc.stdout.rstrip().endswith(f"countq {env} is live: <cloudfront_url>")


@pytest.mark.parametrize(
    "script,env_prompt",
    [
        ("deploy.sh", "Environment (test, dev, stage, prod) [dev]:"),
        ("destroy.sh", "Environment to DESTROY (test, dev, stage, prod) []:"),
    ],
)
def test_prompts_for_what_flags_do_not_give(
    repo: Repo, tmp_path: Path, script: str, env_prompt: str
) -> None:
    stdin = "ops\n\nstage\n"  # the region's default
    proc, _ = run(repo, tmp_path, script, "--dry-run", stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    for prompt in ("AWS profile [default]:", "AWS region [eu-central-1]:", env_prompt):
        assert prompt in proc.stderr
    assert commands(proc.stdout)[:2] == [
        "export AWS_PROFILE=ops",
        "export AWS_REGION=eu-central-1 TG_NON_INTERACTIVE=true",
    ]


@pytest.mark.parametrize(
    "script,first_line",
    [
        ("deploy.sh", "Deploy countq to one AWS environment, end to end, and smoke-test it."),
        ("destroy.sh", "Destroy one countq environment: the reverse of deploy.sh."),
    ],
)
def test_help_is_the_header_comment(
    repo: Repo, tmp_path: Path, script: str, first_line: str
) -> None:
    proc, calls = run(repo, tmp_path, script, "--help")
    assert proc.returncode == 0 and proc.stderr == "" and calls == []
    lines = proc.stdout.splitlines()
    assert lines[0] == first_line
    assert lines[2].startswith(f"Usage: scripts/{script} [--profile P]")
    assert not any(line.startswith(("#", "set ")) for line in lines), proc.stdout


@pytest.mark.parametrize("script", ["deploy.sh", "destroy.sh"])
def test_empty_profile_uses_the_environment_credentials(
    repo: Repo, tmp_path: Path, script: str
) -> None:
    proc, _ = run(repo, tmp_path, script, *flags("test", "--dry-run"), "--profile", "")
    assert proc.returncode == 0, proc.stderr
    assert commands(proc.stdout)[0] == "unset AWS_PROFILE"


@pytest.mark.parametrize("script", ["deploy.sh", "destroy.sh"])
def test_without_answers_or_flags_fails_clearly(repo: Repo, tmp_path: Path, script: str) -> None:
    proc, _ = run(repo, tmp_path, script, "--dry-run", stdin="")
    assert proc.returncode == 1
    assert "no answer for 'AWS profile'" in proc.stderr


@pytest.mark.parametrize("script", ["deploy.sh", "destroy.sh"])
@pytest.mark.parametrize(
    "args,message",
    [
        (["--env", "qa"], "environment must be test, dev, stage or prod, not 'qa'"),
        (["--env", "dev", "--region", "mars"], "'mars' is not an AWS region name"),
        (["--env", "dev", "--bogus"], "unknown argument: --bogus"),
    ],
)
def test_rejects_bad_input(
    repo: Repo, tmp_path: Path, script: str, args: list[str], message: str
) -> None:
    defaults = ["--profile", "ops", "--region", "eu-west-1"]
    proc, calls = run(repo, tmp_path, script, *defaults, *args, "--dry-run")
    assert proc.returncode == 1 and f"{script}: {message}" in proc.stderr
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
    proc, calls = run(repo, tmp_path, script, *flags("dev", "--yes"), omit=tool)
    assert proc.returncode == 1
    assert f"{script}: missing prerequisite: {tool} not found on PATH" in proc.stderr
    assert len(re.findall("missing prerequisite", proc.stderr)) == 1
    assert calls == []  # checked before the first AWS call


def test_deploy_asks_before_changing_anything(repo: Repo, tmp_path: Path) -> None:
    proc, calls = run(repo, tmp_path, "deploy.sh", *flags("dev"), stdin="n\n")
    assert proc.returncode == 1 and "cancelled" in proc.stderr
    assert "as arn:aws:iam::123456789012:user/tester" in proc.stdout
    assert calls == [
        "docker info",
        "aws sts get-caller-identity --query Arn --output text",
        # Read-only: is there a state bucket (else it stops, see tests/repo/deploy)?
        "aws sts get-caller-identity --query Account --output text",
        "aws s3api head-bucket --bucket countq-tfstate-123456789012-eu-west-1",
    ]


@pytest.mark.parametrize("script", ["deploy.sh", "destroy.sh"])
def test_stops_when_the_identity_check_fails(repo: Repo, tmp_path: Path, script: str) -> None:
    no_credentials = "#!/bin/sh\necho 'Unable to locate credentials' >&2; exit 253\n"
    proc, calls = run(
        repo, tmp_path, script, *flags("dev", "--yes"), replace={"aws": no_credentials}
    )
    assert proc.returncode == 1
    assert f"{script}: AWS credentials do not work for profile 'ops'" in proc.stderr
    assert calls == ([] if script == "destroy.sh" else ["docker info"])


@pytest.mark.parametrize("env", ENVS)
def test_destroy_dry_run_format(repo: Repo, tmp_path: Path, env: str) -> None:
    allow = ["--allow-prod"] if env == "prod" else []
    proc, calls = run(repo, tmp_path, "destroy.sh", *flags(env, "--dry-run", *allow))
    assert_dry_run_format(proc, calls, 7 if env == "prod" else 6)
    snapshot = re.search(r"final snapshot: (countq-prod-final-\d{8}-\d{6})", proc.stdout)
    assert (snapshot is not None) is (env == "prod")


def test_destroy_prod_can_skip_the_final_snapshot(repo: Repo, tmp_path: Path) -> None:
    flags_ = flags("prod", "--dry-run", "--allow-prod", "--skip-final-snapshot")
    proc, calls = run(repo, tmp_path, "destroy.sh", *flags_)
    assert_dry_run_format(proc, calls, 7)
    assert "No final snapshot (--skip-final-snapshot)" in proc.stdout
    assert not any("db_final_snapshot_identifier" in c for c in commands(proc.stdout))


def test_destroy_refuses_prod_without_the_flag(repo: Repo, tmp_path: Path) -> None:
    proc, calls = run(repo, tmp_path, "destroy.sh", *flags("prod", "--yes"))
    assert proc.returncode == 1
    assert "refusing to destroy prod without --allow-prod" in proc.stderr
    assert calls == [] and commands(proc.stdout) == []


def test_destroy_needs_the_environment_name_typed(repo: Repo, tmp_path: Path) -> None:
    proc, calls = run(repo, tmp_path, "destroy.sh", *flags("stage"), stdin="yes\n")
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
    proc, calls = run(dirty, tmp_path, "deploy.sh", *flags("dev", "--yes"))
    assert proc.returncode == 1
    assert f"uncommitted changes: commit first, the image tag dev-{repo.sha}" in proc.stderr
    assert calls == ["docker info"]
