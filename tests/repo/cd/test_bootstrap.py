"""terraform/bootstrap: its trust policies in the plan, then apply, re-plan
and destroy against moto (tests/repo/cd/bootstrap.py runs them once)."""

from __future__ import annotations

import json
import re
from typing import Any

import hcl2
import pytest

from tests.repo.cd import bootstrap, iam
from tests.repo.cd.iam import Request
from tests.repo.infra import harness

# terraform/bootstrap applied, re-planned and destroyed against moto: make test-fast leaves it out.
pytestmark = pytest.mark.slow

ENVIRONMENTS = harness.ENVIRONMENTS
OIDC = "token.actions.githubusercontent.com"
PROVIDER_ARN = f"arn:aws:iam::{bootstrap.ACCOUNT}:oidc-provider/{OIDC}"
REPO = bootstrap.REPOSITORY


def planned(plan: dict[str, Any], address: str) -> dict[str, Any]:
    for resource in bootstrap.planned_resources(plan):
        if resource["address"] == address:
            return dict(resource["values"])
    raise AssertionError(f"{address} is not in the plan")


def trust(plan: dict[str, Any], address: str) -> dict[str, Any]:
    return dict(json.loads(planned(plan, address)["assume_role_policy"]))


def deploy_address(env: str) -> str:
    return f'aws_iam_role.deploy["{env}"]'


def only_statement(policy: dict[str, Any]) -> dict[str, Any]:
    statements = policy["Statement"]
    assert isinstance(statements, list) and len(statements) == 1, statements
    return dict(statements[0])


ROLE_SUBJECTS = [(deploy_address(env), f"environment:{env}") for env in ENVIRONMENTS] + [
    ("aws_iam_role.plan", "pull_request")
]


@pytest.mark.parametrize(("address", "subject"), ROLE_SUBJECTS)
def test_each_role_trusts_only_its_subject_of_the_repository(
    bootstrap_run: bootstrap.BootstrapRun, address: str, subject: str
) -> None:
    """A deploy role: jobs in its GitHub environment; the plan role: pull requests."""
    statement = only_statement(trust(bootstrap_run.plan, address))
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    # Exact matches only: no StringLike, no wildcard, the audience AWS's STS.
    assert statement["Condition"] == {
        "StringEquals": {
            f"{OIDC}:aud": "sts.amazonaws.com",
            f"{OIDC}:sub": f"repo:{REPO}:{subject}",
        }
    }


def test_no_wildcard_reaches_a_trust_policy(bootstrap_run: bootstrap.BootstrapRun) -> None:
    addresses = [deploy_address(env) for env in ENVIRONMENTS] + ["aws_iam_role.plan"]
    for address in addresses:
        text = planned(bootstrap_run.plan, address)["assume_role_policy"]
        assert "*" not in text and "?" not in text, f"{address}: {text}"
    assert "without wildcards" in bootstrap_run.bad_repository_error


# Tokens GitHub would issue (sub, aud) and the one role each may assume.
TOKENS = [
    (f"repo:{REPO}:environment:test", "sts.amazonaws.com", "countq-github-deploy-test"),
    (f"repo:{REPO}:environment:prod", "sts.amazonaws.com", "countq-github-deploy-prod"),
    (f"repo:{REPO}:pull_request", "sts.amazonaws.com", "countq-github-plan"),
    # A branch or tag push without an environment: no role.
    (f"repo:{REPO}:ref:refs/heads/main", "sts.amazonaws.com", None),
    (f"repo:{REPO}:ref:refs/tags/v1.0.0", "sts.amazonaws.com", None),
    # Another repository, a look-alike name, other case, another audience.
    ("repo:someone-else/countq:environment:prod", "sts.amazonaws.com", None),
    (f"repo:{REPO}-fork:environment:prod", "sts.amazonaws.com", None),
    (f"repo:{REPO.upper()}:environment:prod", "sts.amazonaws.com", None),
    (f"repo:{REPO}:environment:prod", "https://github.com/example-org", None),
    (f"repo:{REPO}:environment:production", "sts.amazonaws.com", None),
]


@pytest.mark.parametrize(("sub", "aud", "role"), TOKENS, ids=[t[0] + " " + t[1] for t in TOKENS])
def test_each_token_opens_at_most_its_role(
    bootstrap_run: bootstrap.BootstrapRun, sub: str, aud: str, role: str | None
) -> None:
    request = Request(
        "sts:AssumeRoleWithWebIdentity",
        context={f"{OIDC}:sub": sub, f"{OIDC}:aud": aud},
        principal=PROVIDER_ARN,
    )
    opened = {
        name
        for name, details in bootstrap_run.roles.items()
        if iam.allowed([details["AssumeRolePolicyDocument"]], request)
    }
    assert opened == ({role} if role else set())
    # The same token from any other identity provider opens nothing.
    other = Request(request.action, context=request.context, principal=PROVIDER_ARN + "-other")
    assert not any(
        iam.allowed([d["AssumeRolePolicyDocument"]], other) for d in bootstrap_run.roles.values()
    )


def test_oidc_provider_is_github_for_sts(bootstrap_run: bootstrap.BootstrapRun) -> None:
    provider = planned(bootstrap_run.plan, "aws_iam_openid_connect_provider.github[0]")
    assert provider["url"] == f"https://{OIDC}"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    [applied] = bootstrap_run.oidc_providers
    assert applied["Arn"] == PROVIDER_ARN
    assert applied["ClientIDList"] == ["sts.amazonaws.com"]
    assert bootstrap_run.outputs["oidc_provider_arn"] == PROVIDER_ARN


def test_applied_roles_are_the_planned_ones(bootstrap_run: bootstrap.BootstrapRun) -> None:
    expected = {f"countq-github-deploy-{env}" for env in ENVIRONMENTS} | {"countq-github-plan"}
    assert set(bootstrap_run.roles) == expected
    for env in ENVIRONMENTS:
        name = f"countq-github-deploy-{env}"
        role = bootstrap_run.roles[name]
        assert role["AssumeRolePolicyDocument"] == trust(bootstrap_run.plan, deploy_address(env))
        # A first deploy (RDS, CloudFront) takes close to an hour.
        assert role["MaxSessionDuration"] == 7200
        planned = [n for n in bootstrap_run.policy_documents if n.startswith(f"{name}-")]
        assert len(bootstrap_run.attached[name]) == len(planned) == 6  # state-iam ... key-waf
        assert bootstrap_run.outputs["deploy_role_arns"][env] == role["Arn"]
    assert len(bootstrap_run.attached["countq-github-plan"]) == 1
    assert bootstrap_run.roles["countq-github-plan"]["MaxSessionDuration"] == 3600


def test_outputs_give_the_github_variables(bootstrap_run: bootstrap.BootstrapRun) -> None:
    lines = bootstrap_run.outputs["github_variables"].splitlines()
    assert f"gh variable set AWS_REGION --body '{harness.REGION}'" in lines
    plan_arn = bootstrap_run.outputs["plan_role_arn"]
    assert f"gh variable set AWS_PLAN_ROLE_ARN --body '{plan_arn}'" in lines
    for env, arn in bootstrap_run.outputs["deploy_role_arns"].items():
        assert f"gh variable set AWS_DEPLOY_ROLE_ARN --env {env} --body '{arn}'" in lines
    assert (
        bootstrap_run.outputs["state_bucket"]
        == f"countq-tfstate-{bootstrap.ACCOUNT}-{harness.REGION}"
    )


def test_replan_is_clean(bootstrap_run: bootstrap.BootstrapRun) -> None:
    assert bootstrap_run.replan_exit == 0


def test_existing_oidc_provider_is_reused(bootstrap_run: bootstrap.BootstrapRun) -> None:
    plan = bootstrap_run.existing_provider_plan
    types = {rc["type"] for rc in plan["resource_changes"] if "create" in rc["change"]["actions"]}
    assert "aws_iam_openid_connect_provider" not in types
    for env in ENVIRONMENTS:
        assert trust(plan, deploy_address(env)) == trust(bootstrap_run.plan, deploy_address(env))


def test_destroy_leaves_nothing(bootstrap_run: bootstrap.BootstrapRun) -> None:
    assert bootstrap_run.remaining_roles == []
    assert bootstrap_run.remaining_policies == []
    assert bootstrap_run.remaining_providers == []


def test_module_shape() -> None:
    """terraform-aws-modules layout; every variable typed and described."""
    path = bootstrap.BOOTSTRAP_DIR
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (path / name).is_file(), name
    with (path / "variables.tf").open() as f:
        for block in hcl2.load(f)["variable"]:
            for name, body in block.items():
                assert "type" in body and body.get("description", '""').strip('"'), name
    with (path / "outputs.tf").open() as f:
        for block in hcl2.load(f)["output"]:
            for name, body in block.items():
                assert body.get("description", '""').strip('"'), name


def test_terragrunt_file_runs_this_root_with_the_shared_state() -> None:
    path = harness.TERRAFORM_DIR / "infrastructure" / "bootstrap" / "terragrunt.hcl"
    with path.open() as f:
        config = hcl2.load(f)
    [include] = config["include"]
    # python-hcl2 keeps the quotes of block labels.
    assert include['"root"']["path"] == '${find_in_parent_folders("root.hcl")}'
    [terraform] = config["terraform"]
    assert terraform["source"].endswith('terraform//bootstrap"')
    assert "github_repository" in config["inputs"]
    # The inputs it passes are the root's variables (root.hcl's own are ignored by it).
    with (bootstrap.BOOTSTRAP_DIR / "variables.tf").open() as f:
        declared = {name.strip('"') for block in hcl2.load(f)["variable"] for name in block}
    assert set(config["inputs"]) <= declared
    assert re.search(r"terragrunt apply --backend-bootstrap", path.read_text())
