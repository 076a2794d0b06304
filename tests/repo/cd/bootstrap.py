"""terraform/bootstrap against moto: plan, apply, re-plan, destroy, and a plan
of the stack on the same server for the names its resources get.

Terragrunt is not installed here, so as in tests/repo/infra the Terraform
root runs directly, in a copy under build/cd/, with the providers pointed at
a local moto server (tests/repo/infra/harness.py supplies those pieces).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tests.repo.infra import harness

BUILD = harness.ROOT / "build" / "cd"
BOOTSTRAP_DIR = harness.TERRAFORM_DIR / "bootstrap"
REPOSITORY = "example-org/countq"
ZONE_ID = "Z0EXAMPLE"
# The environment whose stack plan names the resources the permissions are
# checked against: prod has every resource type the others have, and more AZs.
STACK_ENV = "prod"
ACCOUNT = "123456789012"  # moto's default account
INPUTS = {"github_repository": REPOSITORY, "route53_zone_ids": [ZONE_ID]}


@dataclass
class BootstrapRun:
    """What the bootstrap did on moto, for the tests to assert on."""

    plan: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Read back from moto after the apply.
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    attached: dict[str, list[str]] = field(default_factory=dict)
    policy_documents: dict[str, str] = field(default_factory=dict)
    oidc_providers: list[dict[str, Any]] = field(default_factory=list)
    replan_exit: int | None = None
    existing_provider_plan: dict[str, Any] = field(default_factory=dict)
    bad_repository_error: str = ""
    remaining_roles: list[str] | None = None
    remaining_policies: list[str] | None = None
    remaining_providers: list[str] | None = None
    stack_plan: dict[str, Any] = field(default_factory=dict)
    stack_plan_log: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def iam_client(moto: harness.MotoServer) -> Any:
    return boto3.client(
        "iam",
        endpoint_url=moto.url,
        region_name=harness.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _read_back(run: BootstrapRun, moto: harness.MotoServer) -> None:
    iam = iam_client(moto)
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        if not name.startswith("countq-github-"):
            continue
        run.roles[name] = iam.get_role(RoleName=name)["Role"]
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        run.attached[name] = [p["PolicyArn"] for p in attached]
        for arn in run.attached[name]:
            policy = iam.get_policy(PolicyArn=arn)["Policy"]
            version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
            document = version["PolicyVersion"]["Document"]
            run.policy_documents[policy["PolicyName"]] = (
                document if isinstance(document, str) else json.dumps(document)
            )
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        details = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
        run.oidc_providers.append({"Arn": provider["Arn"], **details})


def _remaining(run: BootstrapRun, moto: harness.MotoServer) -> None:
    iam = iam_client(moto)
    run.remaining_roles = [
        r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("countq-")
    ]
    run.remaining_policies = [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]]
    run.remaining_providers = [
        p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    ]


def _stack_plan(
    run: BootstrapRun, tf: harness.Terraform, moto: harness.MotoServer
) -> dict[str, Any]:
    """Plan (never apply) the stack with STACK_ENV's inputs: the names every
    resource would get. Only data sources reach moto."""
    workdir = harness.copy_terraform(BUILD / "stack-terraform") / "stack"
    (workdir / "providers.tf").write_text(harness.provider_config(moto.url))
    # The plan only hashes the Lambda package; any zip will do.
    zip_path = BUILD / "importer-placeholder.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        z.writestr("placeholder.txt", "not deployed: the plan only hashes this file\n")
    inputs = {
        **harness.environment_inputs(STACK_ENV),
        "environment": STACK_ENV,
        "image_tag": f"{STACK_ENV}-0000000",
        "importer_zip_path": str(zip_path),
    }
    (workdir / "terraform.tfvars.json").write_text(json.dumps(inputs, indent=2))
    tf(workdir, "init", "-backend=false", "-no-color")
    run.stack_plan_log = tf(workdir, "plan", "-no-color", "-refresh=false", "-out=tfplan").stdout
    return dict(json.loads(tf(workdir, "show", "-json", "tfplan").stdout))


def run_bootstrap(terraform_bin: str, config: Path, moto_server: str) -> BootstrapRun:
    run = BootstrapRun()
    if BUILD.exists():
        shutil.rmtree(BUILD)
    BUILD.mkdir(parents=True)
    moto = harness.MotoServer(BUILD / "moto.log")  # runs moto_server.py (harness)
    tf = harness.Terraform(terraform_bin, harness.terraform_env(config), BUILD / "terraform.log")
    try:
        _pipeline(run, tf, moto)
    except Exception as exc:  # reported by the tests that need this run
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        moto.stop()
    return run


def _pipeline(run: BootstrapRun, tf: harness.Terraform, moto: harness.MotoServer) -> None:
    workdir = BUILD / "bootstrap"
    shutil.copytree(BOOTSTRAP_DIR, workdir, ignore=shutil.ignore_patterns(".terraform*"))
    (workdir / "providers.tf").write_text(harness.provider_config(moto.url))
    (workdir / "terraform.tfvars.json").write_text(json.dumps(INPUTS, indent=2))

    def timed(
        stage: str, *args: str, ok: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        try:
            return tf(workdir, *args, ok=ok)
        finally:
            run.seconds[stage] = round(time.monotonic() - started, 1)

    timed("init", "init", "-backend=false", "-no-color")
    # Meanwhile, in a second Terraform: a plan with a bad input (it must stop
    # at validation) and the stack's plan, which needs moto only for its
    # data sources.
    side_tf = harness.Terraform(tf.binary, tf.env, BUILD / "side-terraform.log")
    with ThreadPoolExecutor(max_workers=1) as pool:
        side = pool.submit(_side_runs, run, side_tf, moto, workdir)
        _bootstrap_pipeline(run, tf, moto, workdir, timed)
        side.result()
    timed("destroy", "destroy", "-no-color", "-auto-approve")
    _remaining(run, moto)


def _side_runs(
    run: BootstrapRun, tf: harness.Terraform, moto: harness.MotoServer, workdir: Path
) -> None:
    started = time.monotonic()
    bad_input = _copy_root(BUILD / "bootstrap-bad-input", workdir)
    tf(bad_input, "init", "-backend=false", "-no-color")
    wildcard = "github_repository=example-org/*"
    run.bad_repository_error = tf(bad_input, "plan", "-no-color", "-var", wildcard, ok=(1,)).stderr
    run.seconds["validation"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    run.stack_plan = _stack_plan(run, tf, moto)
    run.seconds["stack_plan"] = round(time.monotonic() - started, 1)


def _copy_root(dest: Path, configured: Path) -> Path:
    """A fresh copy of the bootstrap root with `configured`'s providers and inputs."""
    shutil.copytree(BOOTSTRAP_DIR, dest, ignore=shutil.ignore_patterns(".terraform*"))
    for name in ("providers.tf", "terraform.tfvars.json"):
        shutil.copy(configured / name, dest / name)
    return dest


def _bootstrap_pipeline(
    run: BootstrapRun,
    tf: harness.Terraform,
    moto: harness.MotoServer,
    workdir: Path,
    timed: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    timed("plan", "plan", "-no-color", "-out=tfplan")
    run.plan = json.loads(tf(workdir, "show", "-json", "tfplan").stdout)
    timed("apply", "apply", "-no-color", "-auto-approve", "tfplan")
    run.outputs = {
        k: v["value"] for k, v in json.loads(tf(workdir, "output", "-json").stdout).items()
    }
    _read_back(run, moto)
    replan = timed("replan", "plan", "-no-color", "-detailed-exitcode", ok=(0, 2))
    run.replan_exit = replan.returncode

    # An account that already has the provider: the same roles, found by ARN.
    existing = _copy_root(BUILD / "bootstrap-existing-provider", workdir)
    tf(existing, "init", "-backend=false", "-no-color")
    tf(existing, "plan", "-no-color", "-var", "create_oidc_provider=false", "-out=tfplan")
    run.existing_provider_plan = json.loads(tf(existing, "show", "-json", "tfplan").stdout)


def planned_resources(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource instance in the plan's planned values, modules included."""
    return _walk(plan["planned_values"]["root_module"])


def data_read_in_plan(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The data sources the plan read (its prior state holds them)."""
    root = plan.get("prior_state", {}).get("values", {}).get("root_module", {})
    return [r for r in _walk(root) if r["mode"] == "data"]


def _walk(root: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(module: dict[str, Any]) -> None:
        found.extend(module.get("resources", []))
        for child in module.get("child_modules", []):
            walk(child)

    walk(root)
    return found
