"""The deploy and plan roles' permissions: the part moto cannot evaluate.

The deploy replay (tests/repo/deploy) runs deploy.sh and destroy.sh as the
deploy role, and plan.yml's Plan step as the plan role, on a moto server that
enforces IAM (tests/repo/cd/moto_iam.py): a call the role does not allow
fails there. moto checks each call's action, the ARN of S3 buckets and
objects and of existing IAM roles, and no condition. What it matched by its
action alone is checked here, against the role's documents read back from
the bootstrap's apply, with a small IAM evaluator (iam.py):

- the resource patterns and conditions of every call the replay made that
  moto could only match by action (test_hand_kept_list_covers_...: each such
  action must be in the list below or among the scripts' CLI calls);
- calls the replay never makes: what a service does with the caller's
  permissions (iam:PassRole, iam:CreateServiceLinkedRole, Cloud Map's hosted
  zone, RDS's managed secret, ECR's key grant), resource types moto cannot
  create (gated off in the replay) and inputs it does not use (SAMPLES);
- what a role must NOT reach (another environment, the CI roles, other
  state): a run shows only what was allowed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.repo.cd import bootstrap, iam
from tests.repo.cd.iam import Request
from tests.repo.deploy import roles
from tests.repo.deploy.replay import Replay
from tests.repo.infra import harness

# Reads back the bootstrap's apply against moto: make test-fast leaves it out.
pytestmark = pytest.mark.slow

ROOT = harness.ROOT
ENVIRONMENTS = harness.ENVIRONMENTS
ACCOUNT = bootstrap.ACCOUNT
REGION = harness.REGION
SCRIPTS = ["scripts/deploy.sh", "scripts/destroy.sh", "scripts/lib/common.sh"]
LAMBDA_VPC = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
IAM_POLICY_LIMIT = 6144  # characters of a managed policy, whitespace not counted


@dataclass(frozen=True)
class Env:
    """One environment's names, as the stack builds them."""

    name: str

    @property
    def prefix(self) -> str:
        return f"countq-{self.name}"

    def arn(self, service: str, rest: str) -> str:
        region = "" if service in ("iam", "s3", "cloudfront", "route53") else REGION
        account = "" if service in ("s3", "route53") else ACCOUNT
        return f"arn:aws:{service}:{region}:{account}:{rest}"

    @property
    def new(self) -> dict[str, str]:
        """Tags requested on a create call (the provider's default tags)."""
        return {"aws:RequestTag/Environment": self.name, "aws:RequestTag/Project": "countq"}

    @property
    def own(self) -> dict[str, str]:
        """Tags an existing EC2 resource of this environment carries."""
        return {"aws:ResourceTag/Environment": self.name}


# --- the roles' documents ----------------------------------------------------


def documents(run: bootstrap.BootstrapRun, role: str) -> list[dict[str, Any]]:
    names = [n for n in run.policy_documents if n.startswith(f"{role}-")]
    assert names, f"no policy attached to {role}"
    return [json.loads(run.policy_documents[n]) for n in sorted(names)]


def deploy_docs(run: bootstrap.BootstrapRun, env: str) -> list[dict[str, Any]]:
    return documents(run, f"countq-github-deploy-{env}")


def plan_docs(run: bootstrap.BootstrapRun) -> list[dict[str, Any]]:
    return documents(run, "countq-github-plan")


def test_each_policy_fits_the_iam_limit(bootstrap_run: bootstrap.BootstrapRun) -> None:
    for name, text in bootstrap_run.policy_documents.items():
        size = len(re.sub(r"\s", "", text))
        assert size <= IAM_POLICY_LIMIT, f"{name}: {size} characters"


def test_roles_differ_only_by_environment(bootstrap_run: bootstrap.BootstrapRun) -> None:
    """What is checked for prod below holds for every environment."""
    reference = json.dumps(deploy_docs(bootstrap_run, "prod"))
    for env in ENVIRONMENTS:
        expected = reference.replace("prod", env)
        assert json.dumps(deploy_docs(bootstrap_run, env)) == expected, env


# Actions granted on "*" (no resource to name). Reads are fine; anything else
# must be listed here, next to the reason in terraform/bootstrap/policies.tf.
UNSCOPED_WRITES = {
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "application-autoscaling:RegisterScalableTarget",  # with a condition on the namespace
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:DeleteScalingPolicy",
    "servicediscovery:CreatePrivateDnsNamespace",
    "route53:CreateHostedZone",
    "ecr:GetAuthorizationToken",
    "secretsmanager:GetRandomPassword",
    "kms:CreateKey",  # with a condition on the Environment tag requested
    "kms:TagResource",  # the tags of CreateKey, same condition
}
READ = re.compile(r"^[\w-]+:(Describe|Get|List)\w*\*?$")


@pytest.mark.parametrize("role", ["deploy", "plan"])
def test_unscoped_statements_only_read_or_are_listed(
    bootstrap_run: bootstrap.BootstrapRun, role: str
) -> None:
    docs = deploy_docs(bootstrap_run, "prod") if role == "deploy" else plan_docs(bootstrap_run)
    for statement in iam.statements(docs):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for action in actions:
            assert not action.endswith(":*") and action != "*", f"{statement['Sid']}: {action}"
        if statement.get("Resource") in ("*", ["*"]):
            writes = {a for a in actions if not READ.match(a)} - UNSCOPED_WRITES
            assert not writes, f"{statement['Sid']} grants {sorted(writes)} on every resource"


def test_every_star_resource_says_why() -> None:
    """A `resources = ["*"]` in policies.tf has a comment in its statement."""
    text = (bootstrap.BOOTSTRAP_DIR / "policies.tf").read_text()
    blocks = re.findall(r"statement \{\n(.*?)\n  \}", text, flags=re.S)
    unscoped = [b for b in blocks if re.search(r'resources\s*=\s*\["\*"\]', b)]
    assert unscoped
    for block in unscoped:
        assert "#" in block, f"a statement on every resource gives no reason:\n{block}"


# --- the scripts' AWS CLI calls ----------------------------------------------

# CLI services whose IAM prefix differs.
IAM_PREFIX = {"s3api": "s3", "elbv2": "elasticloadbalancing", "logs": "logs"}
# Commands that are not one API call of the same name.
HIGH_LEVEL: dict[tuple[str, str], list[str]] = {
    ("sts", "get-caller-identity"): [],  # AWS answers it for any credentials, no permission
    ("ecr", "get-login-password"): ["ecr:GetAuthorizationToken"],
    ("lambda", "invoke"): ["lambda:InvokeFunction"],
    ("ecs", "wait services-stable"): ["ecs:DescribeServices"],
    ("s3", "sync"): ["s3:ListBucket", "s3:PutObject", "s3:DeleteObject"],
    ("s3", "rm"): ["s3:ListBucket", "s3:DeleteObject"],
    ("s3", "cp"): ["s3:PutObject", "s3:GetObject"],
    ("s3api", "list-object-versions"): ["s3:ListBucketVersions"],
    ("s3api", "head-bucket"): ["s3:ListBucket"],  # deploy.sh: is there a state bucket?
    ("s3api", "delete-objects"): ["s3:DeleteObject", "s3:DeleteObjectVersion"],
    # Not the AWS CLI, but AWS all the same: the image push to ECR.
    ("docker", "push"): [
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
    ],
}
CLI_CALL = re.compile(r"\b(?:aws\s+([a-z0-9-]+)|(docker))\s+(wait\s+[a-z0-9-]+|[a-z0-9-]+)")


def calls_in(text: str) -> set[tuple[str, str]]:
    """(service, command) of each aws CLI call in shell text, comments skipped
    (`${x##*/}` is no comment: one needs a blank before and after the #)."""
    calls = set()
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for service, docker, command in CLI_CALL.findall(re.split(r"\s#\s", line)[0]):
            if docker and command != "push":
                continue  # only a push reaches AWS (build and login are local)
            calls.add((service or docker, re.sub(r"\s+", " ", command)))
    return calls


def cli_calls() -> set[tuple[str, str]]:
    """Every aws CLI call in the deploy scripts, read now."""
    return {call for script in SCRIPTS for call in calls_in((ROOT / script).read_text())}


def iam_actions(service: str, command: str) -> list[str]:
    if (service, command) in HIGH_LEVEL:
        return HIGH_LEVEL[(service, command)]
    if command.startswith("wait "):
        raise AssertionError(f"map the waiter `aws {service} {command}` to its describe call")
    return [f"{IAM_PREFIX.get(service, service)}:{command.title().replace('-', '')}"]


def cli_resources(service: str, action: str, env: Env, names: Names) -> list[str]:
    """The ARNs a call of that service touches in `env`."""
    if action == "ecr:GetAuthorizationToken":
        return ["*"]
    if service in ("ecr", "docker"):  # the application's image and the collector's copy
        return [env.arn("ecr", f"repository/{name}") for name in names.repositories]
    if service == "lambda":
        return [env.arn("lambda", f"function:{names.importer}")]
    if service == "ecs":
        return [env.arn("ecs", f"service/{names.cluster}/{s}") for s in names.services]
    if service == "cloudfront":
        return [env.arn("cloudfront", "distribution/E2QWRUHEXAMPLE")]
    if service in ("s3", "s3api"):
        buckets = [f"arn:aws:s3:::{b}" for b in names.buckets]
        if action in ("s3:ListBucket", "s3:ListBucketVersions"):
            return buckets
        return [f"{b}/assets/index-3f2a.js" for b in buckets]
    raise AssertionError(f"say which {service} resources the deploy touches")


@dataclass(frozen=True)
class Names:
    """Names the stack's plan gives the resources the scripts touch."""

    repositories: list[str]
    importer: str
    cluster: str
    services: list[str]
    buckets: list[str]


def stack_names(run: bootstrap.BootstrapRun, env: str) -> Names:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in bootstrap.planned_resources(run.stack_plan):
        by_type.setdefault(resource["type"], []).append(resource.get("values", {}))
    names = Names(
        repositories=[v["name"] for v in by_type["aws_ecr_repository"]],
        importer=by_type["aws_lambda_function"][0]["function_name"],
        cluster=by_type["aws_ecs_cluster"][0]["name"],
        services=[v["name"] for v in by_type["aws_ecs_service"]],
        buckets=[v["bucket"] for v in by_type["aws_s3_bucket"]],
    )
    # The plan is of STACK_ENV; the others differ only by the environment name.
    return Names(
        **{
            k: json.loads(json.dumps(v).replace(bootstrap.STACK_ENV, env))
            for k, v in names.__dict__.items()
        }
    )


def test_the_scripts_call_aws() -> None:
    calls = cli_calls()
    assert {("lambda", "invoke"), ("s3", "sync"), ("docker", "push")} <= calls, calls


# The replay's S3 calls are checked by moto against the bucket and object ARNs.
MOTO_CHECKS_ARNS = {"s3", "s3api"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_deploy_role_allows_every_cli_call_of_the_scripts(
    bootstrap_run: bootstrap.BootstrapRun, env: str
) -> None:
    docs = deploy_docs(bootstrap_run, env)
    names = stack_names(bootstrap_run, env)
    # The plan's inputs (prod's) have tracing on: deploy.sh pushes the collector's copy too.
    assert f"countq-{env}/otel-collector" in names.repositories, names.repositories
    missing = []
    for service, command in sorted(cli_calls()):
        if service in MOTO_CHECKS_ARNS:
            continue
        for action in iam_actions(service, command):
            for resource in cli_resources(service, action, Env(env), names):
                if not iam.allowed(docs, Request(action, resource)):
                    missing.append(f"aws {service} {command}: {action} on {resource}")
    assert not missing, "the deploy role lacks:\n" + "\n".join(missing)


def test_deploy_role_cannot_touch_another_environment(
    bootstrap_run: bootstrap.BootstrapRun,
) -> None:
    """test's role (deployed on every push, no reviewer) against prod's resources."""
    docs = deploy_docs(bootstrap_run, "test")
    prod = stack_names(bootstrap_run, "prod")
    for service, command in sorted(cli_calls()):
        for action in iam_actions(service, command):
            for resource in cli_resources(service, action, Env("prod"), prod):
                if resource == "*" or "cloudfront" in resource:
                    continue  # no name to tell environments apart (see policies.tf)
                assert not iam.allowed(docs, Request(action, resource)), (
                    f"test's role may {action} on {resource}"
                )
    ec2_prod = Env("prod").own
    for action in ("ec2:DeleteVpc", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateTags"):
        resource = Env("prod").arn("ec2", "security-group/sg-0prod")
        assert not iam.allowed(docs, Request(action, resource, ec2_prod)), action
    # A rule tagged as test's on prod's security group: the group is prod's.
    both = {**Env("test").new, **ec2_prod}
    resource = Env("prod").arn("ec2", "security-group/sg-0prod")
    assert not iam.allowed(docs, Request("ec2:AuthorizeSecurityGroupIngress", resource, both))


# --- the stack's resource types ----------------------------------------------

TERRAFORM_CALLS_FILE = Path(__file__).with_name("terraform_calls.yaml")


def terraform_calls() -> dict[str, list[tuple[str, str, Any]]]:
    """terraform_calls.yaml, its ec2_create shorthands expanded."""
    table = yaml.safe_load(TERRAFORM_CALLS_FILE.read_text())
    calls: dict[str, list[tuple[str, str, Any]]] = {}
    for kind, entries in table.items():
        calls[kind] = []
        for entry in entries:
            if isinstance(entry, dict):
                new_kind, action, *existing = entry["ec2_create"]
                calls[kind] += [
                    (action, f"{{ec2}}:{new_kind}/*", "new"),
                    ("ec2:CreateTags", f"{{ec2}}:{new_kind}/*", {"ec2:CreateAction": action[4:]}),
                    *((action, f"{{ec2}}:{e}", "own") for e in existing),
                ]
            else:
                calls[kind].append(tuple(entry))
    return calls


TERRAFORM_CALLS = terraform_calls()
ARN_SERVICES = [
    "ec2", "ecr", "ecs", "elasticloadbalancing", "lambda", "logs", "rds", "elasticache",
    "secretsmanager", "sns", "cloudwatch", "iam", "cloudfront", "servicediscovery",
    "application-autoscaling", "events",
]  # fmt: skip


def requests_for(kind: str, values: Mapping[str, Any], env: Env) -> list[Request]:
    """The calls of TERRAFORM_CALLS[kind] for one instance, templates filled in."""
    fields: dict[str, str] = {
        "env": env.name,
        "p": env.prefix,
        "account": ACCOUNT,
        "region": REGION,
        "zone": bootstrap.ZONE_ID,
        "final_snapshot_identifier": f"{env.prefix}-final",
        **{s: env.arn(s, "").rstrip(":") for s in ARN_SERVICES},
        **{k: v for k, v in values.items() if isinstance(v, str) and v},
    }
    if "assume_role_policy" in values:
        principal = json.loads(values["assume_role_policy"])["Statement"][0]["Principal"]
        fields["trusted_service"] = principal["Service"]
    result = []
    for actions, template, context in TERRAFORM_CALLS[kind]:
        if isinstance(context, str):
            context = {"new": env.new, "own": env.own}[context]
        assert isinstance(context, Mapping), f"{kind}: context {context!r}"
        filled = {k: v.format(**fields) for k, v in context.items()}
        for action in actions.split():
            result.append(Request(action, template.format(**fields), filled))
    return result


# Types only some inputs create (a custom domain, an alarm e-mail, the NAT
# gateway that prod's interface endpoints leave out): checked with samples
# when the plan has none of them.
SAMPLES = {
    "aws_acm_certificate",
    "aws_acm_certificate_validation",
    "aws_eip",
    "aws_nat_gateway",
    "aws_route53_record",
    "aws_sns_topic_subscription",
}
DECLARATION = re.compile(r'^(resource|data|ephemeral)\s+"(aws_[a-z0-9_]+)"', re.M)


def stack_types() -> set[str]:
    """Every resource, data source and ephemeral type the stack can create or read."""
    stack, modules = harness.TERRAFORM_DIR / "stack", harness.TERRAFORM_DIR / "modules"
    tf_files = [*stack.glob("*.tf"), *modules.rglob("*.tf")]
    return {t for f in tf_files for _, t in DECLARATION.findall(f.read_text())}


def replayed_types(replays: dict[str, Future[Replay]]) -> set[str]:
    """The types of what the enforced replays deployed (their state before destroy)."""
    found = set()
    for env, future in replays.items():
        done = future.result()
        if done.environment_run is None or not done.environment_run.state:
            pytest.fail(f"{env}: the replay stopped before its re-plan: {done.error}")
        state = done.environment_run.state["values"]["root_module"]
        found |= {r["type"] for r in bootstrap._walk(state)}
    return found


def test_every_stack_type_is_replayed_or_listed(replays: dict[str, Future[Replay]]) -> None:
    """A type the replay never applies (moto lacks it, or only some inputs
    create it) is checked by the list alone; for the others, the run decides."""
    unlisted = stack_types() - set(TERRAFORM_CALLS) - replayed_types(replays)
    assert not unlisted, (
        f"the stack uses {sorted(unlisted)}, which the enforced replay does not apply: add them "
        "to terraform_calls.yaml (the calls Terraform makes for them) and grant those in "
        "terraform/bootstrap/policies.tf"
    )


def role_of(principal: str) -> str:
    """The role in arn:aws:sts::<account>:assumed-role/<role>/<session>."""
    return principal.split(":assumed-role/")[1].split("/")[0]


def test_hand_kept_list_covers_what_moto_matched_by_action_only(
    bootstrap_run: bootstrap.BootstrapRun, replays: dict[str, Future[Replay]]
) -> None:
    """Each call the replays made that moto allowed without knowing its
    resource or evaluating its condition is in the list (or is a CLI call of
    the scripts), where its ARN and condition keys are checked."""
    listed = {
        a for calls in TERRAFORM_CALLS.values() for actions, _, _ in calls for a in actions.split()
    }
    listed |= {a for service, command in cli_calls() for a in iam_actions(service, command)}
    unchecked, evaluated = set(), 0
    for future in replays.values():
        for call in roles.evaluated(future.result().workdir):
            if ":assumed-role/" not in call["principal"] or not call["allowed"]:
                continue
            if call["action"] == "sts:GetCallerIdentity":
                continue  # AWS answers it for any credentials, with no permission
            evaluated += 1
            docs = documents(bootstrap_run, role_of(call["principal"]))
            # Allowed with no request context on the resource moto named: moto's verdict
            # is the whole answer (a statement on "*", or an ARN it checked, no condition).
            if not iam.allowed(docs, Request(call["action"], call["resource"])):
                unchecked.add(call["action"])
    assert evaluated > 100, "the replays made almost no call as a role: is IAM enforced?"
    assert unchecked, "moto matched nothing by action alone: has it learnt resources?"
    missing = sorted(unchecked - listed)
    assert not missing, (
        f"moto allowed {missing} by action alone: add them to terraform_calls.yaml with the "
        "resource and condition keys AWS would evaluate"
    )


def instances(run: bootstrap.BootstrapRun) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(type, address, planned values) of every instance in the stack's plan;
    ephemeral types (never in a plan) and SAMPLES without values."""
    found = [
        (res["type"], res["address"], res.get("values", {}))
        for res in [
            *bootstrap.planned_resources(run.stack_plan),
            *bootstrap.data_read_in_plan(run.stack_plan),
        ]
    ]
    found = [(kind, address, values) for kind, address, values in found if kind in TERRAFORM_CALLS]
    planned = {kind for kind, _, _ in found}
    unplanned = (stack_types() & set(TERRAFORM_CALLS)) - planned
    assert unplanned <= SAMPLES | {"aws_secretsmanager_random_password"}, unplanned
    return found + [(kind, f"{kind} (no instance planned)", {}) for kind in sorted(unplanned)]


def test_deploy_role_allows_what_terraform_calls(bootstrap_run: bootstrap.BootstrapRun) -> None:
    env = Env(bootstrap.STACK_ENV)
    docs = deploy_docs(bootstrap_run, env.name)
    missing = set()
    for kind, address, values in instances(bootstrap_run):
        for request in requests_for(kind, values, env):
            if not iam.allowed(docs, request):
                missing.add(
                    f"{address}: {request.action} on {request.resource} {dict(request.context)}"
                )
    assert not missing, "the deploy role lacks:\n" + "\n".join(sorted(missing))


def test_plan_role_is_read_only(bootstrap_run: bootstrap.BootstrapRun) -> None:
    docs = plan_docs(bootstrap_run)
    for statement in iam.statements(docs):
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        ):
            assert READ.match(action), f"{statement['Sid']}: {action} is not a read"
    e = Env("prod")
    names = stack_names(bootstrap_run, "prod")
    refused = [
        # Pull request code runs with this role: no data, no other secret, no change.
        Request("s3:GetObject", f"arn:aws:s3:::{names.buckets[0]}/dump.sql.gz"),
        Request("s3:GetObject", f"arn:aws:s3:::{names.buckets[1]}/dump.sql.gz"),
        Request(
            "secretsmanager:GetSecretValue",
            e.arn("secretsmanager", f"secret:{e.prefix}/mysql-app-AbCdEf"),
        ),
        Request(
            "secretsmanager:GetSecretValue", e.arn("secretsmanager", "secret:rds!db-0f1e-AbCdEf")
        ),
        # Nor the Redis secret that IAM authentication replaced.
        Request(
            "secretsmanager:GetSecretValue",
            e.arn("secretsmanager", f"secret:{e.prefix}/redis-app-AbCdEf"),
        ),
        Request("lambda:InvokeFunction", e.arn("lambda", f"function:{names.importer}")),
        Request(
            "s3:PutObject", f"arn:aws:s3:::countq-tfstate-{ACCOUNT}-{REGION}/prod/terraform.tfstate"
        ),
        Request(
            "s3:PutObject",
            f"arn:aws:s3:::countq-tfstate-{ACCOUNT}-{REGION}/prod/terraform.tfstate.tflock",
        ),
        Request(
            "s3:GetObject",
            f"arn:aws:s3:::countq-tfstate-{ACCOUNT}-{REGION}/bootstrap/terraform.tfstate",
        ),
    ]
    for request in refused:
        assert not iam.allowed(docs, request), request


def test_state_access_per_role(bootstrap_run: bootstrap.BootstrapRun) -> None:
    bucket = f"arn:aws:s3:::countq-tfstate-{ACCOUNT}-{REGION}"
    plan = plan_docs(bootstrap_run)
    for env in ENVIRONMENTS:
        docs = deploy_docs(bootstrap_run, env)
        state, lock = (
            f"{bucket}/{env}/terraform.tfstate",
            f"{bucket}/{env}/terraform.tfstate.tflock",
        )
        for action, resource in [
            ("s3:ListBucket", bucket),
            ("s3:GetObject", state),
            ("s3:PutObject", state),
            ("s3:GetObject", lock),
            ("s3:PutObject", lock),
            ("s3:DeleteObject", lock),
        ]:
            assert iam.allowed(docs, Request(action, resource)), (env, action, resource)
        assert not iam.allowed(docs, Request("s3:DeleteObject", state)), env
        for other in set(ENVIRONMENTS) - {env}:
            assert not iam.allowed(
                docs, Request("s3:PutObject", f"{bucket}/{other}/terraform.tfstate")
            )
        assert iam.allowed(plan, Request("s3:GetObject", state))
        assert not iam.allowed(plan, Request("s3:PutObject", lock))


def test_no_role_can_change_the_ci_roles(bootstrap_run: bootstrap.BootstrapRun) -> None:
    """A deploy role that could edit itself (or the plan role) would be admin."""
    targets = [f"countq-github-deploy-{env}" for env in ENVIRONMENTS] + ["countq-github-plan"]
    for env in ENVIRONMENTS:
        docs = deploy_docs(bootstrap_run, env)
        for target in targets:
            role = f"arn:aws:iam::{ACCOUNT}:role/{target}"
            for action in (
                "iam:PutRolePolicy",
                "iam:AttachRolePolicy",
                "iam:UpdateAssumeRolePolicy",
                "iam:DeleteRole",
                "iam:PassRole",
            ):
                context = {
                    "iam:PolicyARN": LAMBDA_VPC,
                    "iam:PassedToService": "lambda.amazonaws.com",
                }
                assert not iam.allowed(docs, Request(action, role, context)), (env, action, target)
            policy = f"arn:aws:iam::{ACCOUNT}:policy/{target}-network"
            assert not iam.allowed(docs, Request("iam:CreatePolicyVersion", policy))
        # Only the one AWS-managed policy the importer needs may be attached.
        own = f"arn:aws:iam::{ACCOUNT}:role/countq-{env}-importer"
        admin = {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
        assert not iam.allowed(docs, Request("iam:AttachRolePolicy", own, admin))
        assert not iam.allowed(
            docs, Request("iam:PassRole", own, {"iam:PassedToService": "ec2.amazonaws.com"})
        )


def test_evaluator_is_not_vacuous() -> None:
    """The evaluator refuses what it should (or every check above proves nothing)."""
    doc = {
        "Statement": [
            {
                "Sid": "A",
                "Effect": "Allow",
                "Action": ["s3:Get*"],
                "Resource": ["arn:aws:s3:::b/*"],
                "Condition": {"StringEquals": {"aws:ResourceTag/Environment": "test"}},
            }
        ]
    }
    tagged = {"aws:ResourceTag/Environment": "test"}
    assert iam.allowed([doc], Request("s3:GetObject", "arn:aws:s3:::b/k", tagged))
    assert not iam.allowed([doc], Request("s3:PutObject", "arn:aws:s3:::b/k", tagged))
    assert not iam.allowed([doc], Request("s3:GetObject", "arn:aws:s3:::c/k", tagged))
    assert not iam.allowed([doc], Request("s3:GetObject", "arn:aws:s3:::b/k"))
    assert not iam.allowed(
        [doc], Request("s3:GetObject", "arn:aws:s3:::b/k", {"aws:ResourceTag/Environment": "prod"})
    )
    deny = {"Statement": [{**doc["Statement"][0], "Effect": "Deny", "Condition": {}}]}
    assert not iam.allowed([doc, deny], Request("s3:GetObject", "arn:aws:s3:::b/k", tagged))
    with pytest.raises(iam.UnsupportedPolicy):
        iam.allowed(
            [{"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}],
            Request("s3:GetObject"),
        )


def test_cli_parser_finds_every_form() -> None:
    """The forms the scripts use: run, show, value and plain calls; comments skipped."""
    sample = """
    run aws s3 sync a b
    x="$(value '[...]' aws ecr list-images --repository-name "${ecr_url##*/}")"
    show aws ecs wait services-stable --cluster c
    # aws iam create-user: a comment, not a call
    aws sts get-caller-identity  # trailing comment: aws kms decrypt
    run docker build --tag x . && run docker push "$image"
    """
    assert calls_in(sample) == {
        ("s3", "sync"),
        ("ecr", "list-images"),
        ("ecs", "wait services-stable"),
        ("sts", "get-caller-identity"),
        ("docker", "push"),
    }
    assert iam_actions("ecr", "batch-delete-image") == ["ecr:BatchDeleteImage"]
    assert iam_actions("s3api", "put-object") == ["s3:PutObject"]
