"""The terragrunt stand-in behaves like the Terragrunt the workflows pin
(terragrunt_stand_in.py cites the release notes and docs): root.hcl's version
constraint, a missing state bucket refused unless bootstrapped, the bucket
bootstrap makes, and the provider generated from root.hcl itself, whose
default tags the deploy role's IAM conditions depend on.

Each test runs the stand-in in a small git repository holding the real
root.hcl and the test environment's terragrunt.hcl, with a one-bucket stack,
against its own moto server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from tests.helpers.services import require_tool
from tests.repo.deploy import terragrunt_stand_in
from tests.repo.deploy.replay import git
from tests.repo.infra import harness

ROOT = harness.ROOT
ROOT_HCL = ROOT / "terraform" / "infrastructure" / "root.hcl"
STATE_BUCKET = "countq-tfstate-123456789012-eu-central-1"  # moto's account, the region
PROBE = 'resource "aws_s3_bucket" "probe" {\n  bucket = "countq-tag-probe"\n}\n'


@pytest.fixture(scope="module")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.MotoServer]:
    server = harness.MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: harness.MotoServer) -> harness.MotoServer:
    """One server for the module, emptied before each test."""
    httpx.post(f"{moto_server.url}/moto-api/reset", timeout=10).raise_for_status()
    return moto_server


def scratch(tmp_path: Path, root_hcl: str | None = None) -> Path:
    """A repository with root.hcl (as given, else the real one), the test
    environment's terragrunt.hcl and a stack of one bucket."""
    repo = tmp_path / "repo"
    infra = repo / "terraform" / "infrastructure"
    (infra / "test").mkdir(parents=True)
    (infra / "root.hcl").write_text(root_hcl if root_hcl is not None else ROOT_HCL.read_text())
    shutil.copy(ROOT_HCL.parent / "test" / "terragrunt.hcl", infra / "test")
    (repo / "terraform" / "stack").mkdir()
    (repo / "terraform" / "stack" / "main.tf").write_text(PROBE)
    git(repo, "init", "-q")
    return infra / "test"


def terragrunt(
    unit: Path, moto: harness.MotoServer, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    workdir = unit.parents[3]
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_", "TG_"))}
    return subprocess.run(
        [sys.executable, "-m", "tests.repo.deploy.stand_ins", "terragrunt", *args],
        cwd=unit,
        env={
            **keep,
            "PYTHONPATH": str(ROOT),
            "AWS_ENDPOINT_URL": moto.url,
            "AWS_REGION": harness.REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "REPLAY_DIR": str(workdir),
            "REPLAY_TERRAFORM": require_tool("terraform"),
            "REPLAY_TF_CONFIG": str(harness.cli_config()),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def client(moto: harness.MotoServer, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=moto.url,
        region_name=harness.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def buckets(moto: harness.MotoServer) -> list[str]:
    return sorted(b["Name"] for b in client(moto, "s3").list_buckets()["Buckets"])


@pytest.mark.slow  # Terraform on moto
def test_a_missing_state_bucket_is_refused_without_bootstrap(
    tmp_path: Path, moto: harness.MotoServer
) -> None:
    unit = scratch(tmp_path)
    # TG_NON_INTERACTIVE no longer means "create it" (v0.87.0 release notes).
    proc = terragrunt(unit, moto, "output", "-json", TG_NON_INTERACTIVE="true")
    assert proc.returncode == 1, proc.stderr
    assert f'S3 bucket "{STATE_BUCKET}" does not exist' in proc.stderr
    assert "--backend-bootstrap" in proc.stderr
    assert buckets(moto) == []


@pytest.mark.slow  # Terraform on moto
@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("backend", "bootstrap"), {}),
        (("output", "-json", "--backend-bootstrap"), {}),
        (("output", "-json"), {"TG_BACKEND_BOOTSTRAP": "true"}),
    ],
    ids=["backend-bootstrap-command", "flag", "env"],
)
def test_bootstrap_makes_the_bucket_as_documented(
    tmp_path: Path, moto: harness.MotoServer, args: tuple[str, ...], env: dict[str, str]
) -> None:
    unit = scratch(tmp_path)
    proc = terragrunt(unit, moto, *args, **env)
    assert proc.returncode == 0, proc.stderr
    assert buckets(moto) == [STATE_BUCKET]
    s3 = client(moto, "s3")
    assert s3.get_bucket_versioning(Bucket=STATE_BUCKET)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=STATE_BUCKET)["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    block = s3.get_public_access_block(Bucket=STATE_BUCKET)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    policy = json.loads(s3.get_bucket_policy(Bucket=STATE_BUCKET)["Policy"])
    (tls,) = [s for s in policy["Statement"] if s["Sid"] == "EnforcedTLS"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
    # Idempotent: the next command finds the bucket and needs no opt-in.
    again = terragrunt(unit, moto, "output", "-json")
    assert again.returncode == 0, again.stderr
    assert buckets(moto) == [STATE_BUCKET]


# The stand-in's whole bootstrap against moto, to reach its version check (5-13 s): slow.
@pytest.mark.slow
def test_a_version_outside_root_hcls_constraint_is_refused(
    tmp_path: Path, moto: harness.MotoServer
) -> None:
    text = ROOT_HCL.read_text()
    older = re.sub(
        r'terragrunt_version_constraint = "[^"]*"',
        'terragrunt_version_constraint = ">= 0.73.0, < 1.0.0"',
        text,
    )
    assert older != text
    proc = terragrunt(scratch(tmp_path, older), moto, "backend", "bootstrap")
    assert proc.returncode == 1
    assert (
        f"The currently installed version of Terragrunt (v{terragrunt_stand_in.VERSION}) "
        "is not compatible with the version constraint requiring (>= 0.73.0, < 1.0.0)."
    ) in proc.stderr
    assert buckets(moto) == []


def root_constraint() -> str:
    (line,) = re.findall(r'^terragrunt_version_constraint = "([^"]*)"', ROOT_HCL.read_text(), re.M)
    return line


@pytest.mark.parametrize("workflow", ["deploy.yml", "plan.yml"])
def test_workflows_pin_the_modelled_version_inside_root_hcls_range(workflow: str) -> None:
    text = (ROOT / ".github" / "workflows" / workflow).read_text()
    (pinned,) = re.findall(r'TERRAGRUNT_VERSION: "([^"]+)"', text)
    assert pinned == terragrunt_stand_in.VERSION
    assert terragrunt_stand_in.satisfies(pinned, root_constraint())
    # The range excludes what created a missing state bucket on its own (< 0.87).
    assert not terragrunt_stand_in.satisfies("0.86.3", root_constraint())


@pytest.mark.parametrize(
    ("version", "constraint", "ok"),
    [
        ("1.1.6", ">= 1.1.6, < 1.2.0", True),
        ("1.2.0", ">= 1.1.6, < 1.2.0", False),
        ("1.1.5", ">= 1.1.6, < 1.2.0", False),
        ("1.1.9", "~> 1.1.6", True),
        ("1.2.0", "~> 1.1.6", False),
        ("1.9.0", "~> 1.1", True),
    ],
)
def test_version_constraints_read_as_terragrunt_reads_them(
    version: str, constraint: str, ok: bool
) -> None:
    assert terragrunt_stand_in.satisfies(version, constraint) is ok


def probe_tags(tmp_path: Path, moto: harness.MotoServer, root_hcl: str, **env: str) -> Any:
    unit = scratch(tmp_path, root_hcl)
    assert terragrunt(unit, moto, "backend", "bootstrap", **env).returncode == 0
    proc = terragrunt(unit, moto, "apply", "-auto-approve", "-input=false", **env)
    if proc.returncode:
        return proc
    tags = client(moto, "s3").get_bucket_tagging(Bucket="countq-tag-probe")["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}


@pytest.mark.slow  # Terraform on moto
def test_root_hcls_default_tags_reach_a_created_resource(
    tmp_path: Path, moto: harness.MotoServer
) -> None:
    """The deploy role's policies condition creates on aws:RequestTag/Environment
    and /Project: those come from root.hcl's generated provider, nowhere else."""
    tags = probe_tags(tmp_path, moto, ROOT_HCL.read_text())
    assert tags == {"Project": "countq", "Environment": "test", "ManagedBy": "terragrunt"}


@pytest.mark.slow  # Terraform on moto
def test_a_root_hcl_without_the_environment_tag_is_seen(
    tmp_path: Path, moto: harness.MotoServer
) -> None:
    """The check above can fail: drop Environment from root.hcl and it is gone."""
    text = ROOT_HCL.read_text()
    dropped = re.sub(r"\n *Environment *= *\"\$\{local\.environment\}\"", "", text)
    assert dropped != text
    tags = probe_tags(tmp_path, moto, dropped)
    assert "Environment" not in tags and tags["Project"] == "countq"


@pytest.mark.slow  # Terraform on moto
def test_root_hcls_allowed_account_ids_reach_the_provider(
    tmp_path: Path, moto: harness.MotoServer
) -> None:
    """The generated provider refuses credentials of another account (moto's is 123456789012)."""
    proc = probe_tags(tmp_path, moto, ROOT_HCL.read_text(), COUNTQ_AWS_ACCOUNT_ID="111111111111")
    assert isinstance(proc, subprocess.CompletedProcess) and proc.returncode == 1
    assert "123456789012" in proc.stderr and "not allowed" in proc.stderr
