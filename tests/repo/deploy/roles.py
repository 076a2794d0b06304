"""The CI roles on the replay's moto server, with IAM enforced: the
bootstrap (terraform/bootstrap) applied by the account's root user, then
each role assumed as GitHub's OIDC login assumes it (AssumeRoleWithWebIdentity),
so that deploy.sh, destroy.sh and plan.yml's commands run with exactly the
role's permissions (as far as moto evaluates them: tests/repo/cd/moto_iam.py).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from tests.repo.cd import bootstrap, plan_workflow
from tests.repo.infra import harness

# What the moto-enforcing server needs to start.
SERVER = ["-m", "tests.repo.cd.moto_iam"]
# The variables configure-aws-credentials exports, which the scripts and
# Terraform read.
CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
PLAN_ROLE = "countq-github-plan"


def enforcing_moto(workdir: Path) -> harness.MotoServer:
    """A moto server that evaluates every request against the caller's policies."""
    env = {"PYTHONPATH": str(harness.ROOT), "MOTO_IAM_LOG": str(iam_log(workdir))}
    return harness.MotoServer(workdir / "moto.log", server=SERVER, env=env)


def iam_log(workdir: Path) -> Path:
    return workdir / "moto-iam.jsonl"


def evaluated(workdir: Path) -> list[dict[str, Any]]:
    """Every request moto evaluated so far: principal, action, resource, allowed."""
    path = iam_log(workdir)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def root_client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=harness.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class Roles:
    url: str
    outputs: dict[str, Any]

    def assume(self, role_arn: str, session: str) -> dict[str, str]:
        """The role's temporary credentials, as configure-aws-credentials exports them."""
        sts = boto3.client(
            "sts",
            endpoint_url=self.url,
            region_name=harness.REGION,
            config=Config(signature_version=UNSIGNED),
        )
        credentials = sts.assume_role_with_web_identity(
            RoleArn=role_arn, RoleSessionName=session, WebIdentityToken="github-oidc-token"
        )["Credentials"]
        return dict(
            zip(
                CREDENTIAL_VARS,
                (
                    credentials["AccessKeyId"],
                    credentials["SecretAccessKey"],
                    credentials["SessionToken"],
                ),
                strict=True,
            )
        )

    def deploy(self, env: str) -> dict[str, str]:
        return self.assume(self.outputs["deploy_role_arns"][env], f"countq-deploy-{env}")

    def plan(self) -> dict[str, str]:
        return self.assume(self.outputs["plan_role_arn"], "countq-plan")

    @contextmanager
    def without(self, role: str, action: str) -> Iterator[None]:
        """`action` taken out of the role's managed policies for the duration
        (a new default policy version, the old one restored after)."""
        iam = root_client("iam", self.url)
        restore = []
        for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
                "Document"
            ]
            document = json.loads(document) if isinstance(document, str) else document
            statements = document["Statement"]
            for statement in statements if isinstance(statements, list) else [statements]:
                actions = statement["Action"]
                actions = actions if isinstance(actions, list) else [actions]
                statement["Action"] = [a for a in actions if a != action]
            created = iam.create_policy_version(
                PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True
            )["PolicyVersion"]["VersionId"]
            restore.append((arn, version, created))
        try:
            yield
        finally:
            for arn, version, created in restore:
                iam.set_default_policy_version(PolicyArn=arn, VersionId=version)
                iam.delete_policy_version(PolicyArn=arn, VersionId=created)


def apply_bootstrap(url: str, terraform: str, cli_config: Path, workdir: Path, env: str) -> Roles:
    """terraform/bootstrap applied on moto by the root user, as an operator
    applies it once; for `env` only (the roles differ only by environment:
    tests/repo/cd/test_permissions.py), which halves the apply."""
    root = workdir / "bootstrap"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(bootstrap.BOOTSTRAP_DIR, root, ignore=shutil.ignore_patterns(".terraform*"))
    (root / "providers.tf").write_text(harness.provider_config(url))
    (root / "terraform.tfvars.json").write_text(
        json.dumps({**bootstrap.INPUTS, "environments": [env]})
    )
    tf = harness.Terraform(terraform, harness.terraform_env(cli_config), workdir / "bootstrap.log")
    tf(root, "init", "-backend=false", "-no-color")
    tf(root, "apply", "-no-color", "-auto-approve", "-input=false")
    outputs = json.loads(tf(root, "output", "-json").stdout)
    return Roles(url, {k: v["value"] for k, v in outputs.items()})


def run_plan_workflow(
    roles: Roles, repo: Path, env: str, environ: dict[str, str], workdir: Path, label: str
) -> plan_workflow.PlanRun:
    """plan.yml's Plan step for `env`, as the plan role, on the replay's state."""
    before = len(evaluated(workdir))
    # What configure-aws-credentials exports: the role's keys and the region.
    exported = {**roles.plan(), "AWS_REGION": harness.REGION, "AWS_DEFAULT_REGION": harness.REGION}
    result = plan_workflow.run(
        repo, env, {**environ, **exported}, workdir / "plan-workflow" / label
    )
    result.denied = [
        e
        for e in evaluated(workdir)[before:]
        if not e["allowed"]
        and f":assumed-role/{PLAN_ROLE}/" in e["principal"]
        and e["action"] != ACCOUNT_ID_PROBE
    ]
    return result


# root.hcl's provider looks its account up (no skip_requesting_account_id): the
# AWS provider's aws-sdk-go-base tries iam:GetUser first, which a role session is
# refused, then sts:GetCallerIdentity. A refusal it expects and moves past.
ACCOUNT_ID_PROBE = "iam:GetUser"

WITHOUT_SECURITY_GROUPS = "plan role without ec2:DescribeSecurityGroups"
# What CloudFront names the security group it creates in the VPC for VPC origins
# (modules/alb's cloudfront_security_group).
VPC_ORIGIN_GROUP = "CloudFront-VPCOrigins-Service-SG"
# tests/repo/infra/moto_overrides/modules/alb/moto_override.tf's lookup of that group.
LOOKUP_LEFT_OUT = re.compile(r'data "aws_security_group" "cloudfront" \{\n  count = 0\n\}\n')


@contextmanager
def vpc_origin_group(url: str, workdir: Path, env: str) -> Iterator[None]:
    """CloudFront's side of the VPC origin, which moto lacks (CreateVpcOrigin
    answers 404, so the replay's override leaves out the origin, the lookup of
    its security group and the ALB's rule for it). For the plan alone: the
    group AWS would have made, in the environment's VPC, and the module's own
    lookup of it (data.aws_security_group.cloudfront) back in the stand-in's
    copy, so that the plan reads it as it does in AWS. Both undone after."""
    [override] = (workdir / "terragrunt-cache").rglob("modules/alb/moto_override.tf")
    original = override.read_text()
    if not LOOKUP_LEFT_OUT.search(original):
        raise AssertionError(f"{override} no longer leaves out the security group lookup")
    ec2 = root_client("ec2", url)
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "tag:Environment", "Values": [env]}])["Vpcs"]
    group = ec2.create_security_group(
        GroupName=VPC_ORIGIN_GROUP,
        Description="CloudFront VPC origins (made by AWS; stand-in)",
        VpcId=vpc["VpcId"],
    )["GroupId"]
    override.write_text(LOOKUP_LEFT_OUT.sub("", original))
    try:
        yield
    finally:
        override.write_text(original)
        ec2.delete_security_group(GroupId=group)


def plan_workflow_runs(
    roles: Roles, repo: Path, env: str, environ: dict[str, str], workdir: Path, negative: bool
) -> dict[str, plan_workflow.PlanRun]:
    """plan.yml's Plan step as the plan role; with `negative`, again with the
    one permission its data sources need taken away (it must fail then)."""
    with vpc_origin_group(roles.url, workdir, env):
        runs = {"plan role": run_plan_workflow(roles, repo, env, environ, workdir, "plan-role")}
        if negative:
            with roles.without(PLAN_ROLE, "ec2:DescribeSecurityGroups"):
                runs[WITHOUT_SECURITY_GROUPS] = run_plan_workflow(
                    roles, repo, env, environ, workdir, "without-describe-security-groups"
                )
    return runs
