"""Static checks of terraform/: formatting, validation, module shape, the
environments' inputs, and checkov."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.repo.infra import harness

MODULES = sorted(p.name for p in (harness.TERRAFORM_DIR / "modules").iterdir() if p.is_dir())
ROOTS = [f"modules/{m}" for m in MODULES] + ["stack"]


def test_modules_exist() -> None:
    expected = {
        "network",
        "ecs-cluster",
        "ecs-service",
        "alb",
        "rds-mysql",
        "redis",
        "frontend",
        "importer",
        "ecr",
        "monitoring",
    }
    assert expected <= set(MODULES)


def test_fmt(tf: harness.Terraform) -> None:
    for path in (harness.TERRAFORM_DIR, harness.MOTO_OVERRIDES):
        result = tf(path, "fmt", "-check", "-recursive", "-diff", ok=(0, 3))
        assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}"


def _validate_copy(root: str) -> Path:
    """Each root in its own copy: the stack needs the modules beside it, a
    module is self-contained."""
    dest = harness.BUILD / "validate" / root.replace("/", "-")
    if root == "stack":
        return harness.copy_terraform(dest) / "stack"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        harness.TERRAFORM_DIR / root, dest, ignore=shutil.ignore_patterns(".terraform*")
    )
    return dest


def _init_and_validate(tf: harness.Terraform, root: str) -> dict[str, Any]:
    """`terraform validate -json`'s report for one root, after its init."""
    workdir = _validate_copy(root)
    versions = (workdir / "versions.tf").read_text()
    if "configuration_aliases" in versions:
        # Terragrunt generates these for the stack; a module is validated alone here.
        (workdir / "providers.tf").write_text(harness.provider_config(None))
    tf(workdir, "init", "-backend=false", "-no-color")
    result = tf(workdir, "validate", "-json", "-no-color", ok=(0, 1))
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@pytest.fixture(scope="module")
def validated(tf: harness.Terraform) -> Iterator[dict[str, Future[dict[str, Any]]]]:
    """Every root's init and validate, four at a time: each loads the AWS
    provider's schema (about 3 s a root); one at a time they took 38 s, four
    at a time 25 s on 2 cores."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield {root: pool.submit(_init_and_validate, tf, root) for root in ROOTS}


# 25 s for the twelve roots even four at a time: slow. make test-fast keeps
# the static checks that take seconds (fmt, module shape, inputs, checkov).
@pytest.mark.slow
@pytest.mark.parametrize("root", ROOTS)
def test_init_and_validate(validated: dict[str, Future[dict[str, Any]]], root: str) -> None:
    report = validated[root].result()
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    assert report["warning_count"] == 0, json.dumps(report["diagnostics"], indent=2)


@pytest.mark.parametrize("root", ROOTS)
def test_module_shape(root: str) -> None:
    """terraform-aws-modules layout; every variable typed and described, every output described."""
    path = harness.TERRAFORM_DIR / root
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf"):
        assert (path / name).is_file(), f"{root}/{name} missing"
    if root.startswith("modules/"):
        readme = path / "README.md"
        assert readme.is_file() and len(readme.read_text()) > 200, (
            f"{root}/README.md missing or empty"
        )
    with (path / "variables.tf").open() as f:
        variables = hcl2.load(f).get("variable", [])
    assert variables
    for block in variables:
        for name, body in block.items():
            assert "type" in body, f"{root}: variable {name} has no type"
            assert body.get("description", '""').strip('"'), (
                f"{root}: variable {name} has no description"
            )
    with (path / "outputs.tf").open() as f:
        for block in hcl2.load(f).get("output", []):
            for name, body in block.items():
                assert body.get("description", '""').strip('"'), (
                    f"{root}: output {name} has no description"
                )


def _stack_variables() -> set[str]:
    with (harness.TERRAFORM_DIR / "stack" / "variables.tf").open() as f:
        return {name.strip('"') for block in hcl2.load(f)["variable"] for name in block}


@pytest.mark.parametrize("env", harness.ENVIRONMENTS)
def test_environment_inputs(env: str) -> None:
    inputs = harness.environment_inputs(env)
    unknown = set(inputs) - _stack_variables()
    assert not unknown, f"{env} sets inputs the stack does not declare: {unknown}"
    text = (harness.TERRAFORM_DIR / "infrastructure" / env / "terragrunt.hcl").read_text()
    assert 'find_in_parent_folders("root.hcl")' in text


def test_root_terragrunt_config() -> None:
    """The root config generates the providers and an encrypted, locked S3 state."""
    text = (harness.TERRAFORM_DIR / "infrastructure" / "root.hcl").read_text()
    for needle in (
        'backend = "s3"',
        "encrypt      = true",
        "use_lockfile = true",
        'generate "provider"',
        "allowed_account_ids",
        "default_tags",
        'alias               = "us_east_1"',
        "terraform//stack",
    ):
        assert needle in text, f"root.hcl lacks {needle!r}"
    with (harness.TERRAFORM_DIR / "infrastructure" / "root.hcl").open() as f:
        root = hcl2.load(f)
    assert set(root["inputs"]) <= _stack_variables()
    # No fallback image tag (nothing ever pushed it): the scripts pass image_tag.
    assert "image_tag" not in root["inputs"] and "latest" not in text
    assert 'get_env("AWS_REGION", "eu-central-1")' in text


def test_root_terragrunt_config_states_the_versions_it_needs() -> None:
    with (harness.TERRAFORM_DIR / "infrastructure" / "root.hcl").open() as f:
        root = hcl2.load(f)
    for name, lowest in (("terragrunt", (0, 73, 0)), ("terraform", (1, 11, 0))):
        constraint = root[f"{name}_version_constraint"]
        floor = re.search(r">=\s*(\d+)\.(\d+)\.(\d+)", constraint)
        assert floor and tuple(map(int, floor.groups())) >= lowest, f"{name}: {constraint}"
        assert "<" in constraint, f"{name}: {constraint} has no upper bound"


def test_only_the_aws_provider() -> None:
    pattern = re.compile(r'source\s*=\s*"([^"]+)"')
    for tf_file in harness.TERRAFORM_DIR.rglob("*.tf"):
        for source in pattern.findall(tf_file.read_text()):
            assert source == "hashicorp/aws" or source.startswith("../"), f"{tf_file}: {source}"


SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+):(.*)")


def test_checkov(checkov_bin: str) -> None:
    """No failed check; every skip names its check and gives a reason."""
    result = subprocess.run(
        [
            checkov_bin,
            "-d",
            str(harness.TERRAFORM_DIR),
            "--framework",
            "terraform",
            "-o",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]})"
        for report in reports
        for c in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed:\n" + "\n".join(failed)
    skipped = [c for report in reports for c in report["results"]["skipped_checks"]]
    assert skipped, "checkov reported no skips: did it see the skip comments?"
    for tf_file in harness.TERRAFORM_DIR.rglob("*.tf"):
        for line in tf_file.read_text().splitlines():
            if "checkov:skip" in line:
                match = SKIP.search(line)
                assert match and len(match.group(2).strip()) >= 20, (
                    f"{tf_file}: skip without a reason: {line}"
                )
