"""scripts/deploy.sh and scripts/destroy.sh replayed for test and prod against
moto: a first deploy refused without --first-deploy, one that fails at
migrate, the same command again, for test a deploy of the next commit, then
destroy (replay.py runs the sequence).

What is not real, and why (stand_ins.py and lambda_runtime.py say more):

- terragrunt: a stand-in for the pinned Terragrunt 1.1.6
  (terragrunt_stand_in.py) that runs the real Terraform as root.hcl
  configures it (its version constraint, its state bucket, its generated
  provider), with moto for AWS and a local state file in place of the bucket;
- docker build/pull/tag/push: stubbed, no registry data plane (the stub keeps
  the local image names docker would, and a push puts the manifest in moto's
  ECR as a real one would leave it);
- aws ecs wait services-stable: stubbed, moto runs no task (the stub checks
  each service's task count and that its image is in ECR);
- curl (the CloudFront smoke test): stubbed, moto serves no distribution;
- aws lambda invoke: moto cannot run code, so the handler the function names
  runs from the function's zip in a clean Python process, after a check that
  the function could reach the database and its secrets; a private MariaDB
  (TLS required) answers for the RDS endpoint.

Every other call is the real AWS CLI against moto, real Terraform, git and npm.
"""

from __future__ import annotations

import re
from concurrent.futures import Future
from typing import Any

import pytest

from tests.repo.deploy.replay import (
    DESTROY,
    FAILED,
    NEXT,
    NEXT_COMMIT,
    REFUSED,
    RERUN,
    Replay,
    ScriptRun,
)
from tests.repo.infra.harness import REGION, environment_inputs

# root.hcl's remote_state bucket in moto's account (123456789012).
STATE_BUCKET = f"countq-tfstate-123456789012-{REGION}"

# deploy.sh and destroy.sh replayed against moto: make test-fast leaves it out.
pytestmark = pytest.mark.slow

# What the deploy must have created (so that "none left" cannot pass vacuously).
CREATED = (
    "vpcs",
    "subnets",
    "internet_gateways",
    "nat_gateways",
    "elastic_ips",
    "security_groups",
    "buckets",
    "ecr_repositories",
    "lambda_functions",
    "db_instances",
    "log_groups",
    "secrets",
    "ecs_clusters",
    "load_balancers",
    "cloudfront_distributions",
    "iam_roles",
)


def reached(done: Replay, label: str) -> ScriptRun:
    """The run `label`, after checking that the whole replay ended without error:
    a check after an unfinished sequence would pass on nothing."""
    if label not in done.runs:
        pytest.fail(f"{done.env}: the replay stopped before '{label}': {done.error}")
    assert done.error is None, f"{done.env}: the replay ended with an error: {done.error}"
    return done.runs[label]


def applies(done: Replay, label: str) -> list[list[str]]:
    """The terragrunt applies of one script run, in order (their flags)."""
    return [
        call["args"][1:]
        for call in done.calls("terragrunt")
        if call["run"] == label and call["args"][0] == "apply"
    ]


def invocation(done: Replay, label: str) -> dict[str, Any]:
    (found,) = [c for c in done.calls("lambda") if c["run"] == label]
    return found


def test_a_region_without_state_bucket_needs_the_first_deploy_flag(done: Replay) -> None:
    run = reached(done, REFUSED)
    assert run.returncode == 1, run.tail()
    (line,) = run.stderr.splitlines()
    assert REGION in line and STATE_BUCKET in line and "--first-deploy" in line, line
    # Stopped before anything was built or changed.
    assert [c for c in done.calls("terragrunt") if c["run"] == REFUSED] == []
    docker = [c["args"] for c in done.calls("docker") if c["run"] == REFUSED]
    assert docker == [["info"]]  # the prerequisite check, nothing built
    assert done.inventories["refused"] == done.inventories["before"]


def test_the_first_deploy_bootstraps_the_state_bucket_first(done: Replay) -> None:
    reached(done, FAILED)
    calls = [c["args"] for c in done.calls("terragrunt") if c["run"] == FAILED]
    assert calls[0] == ["backend", "bootstrap"], calls
    assert STATE_BUCKET in done.inventories["deployed"]["buckets"]
    # The rerun (no flag) found the bucket: nothing was bootstrapped again.
    assert ["backend", "bootstrap"] not in [
        c["args"] for c in done.calls("terragrunt") if c["run"] == RERUN
    ]


def test_root_hcls_default_tags_reach_what_the_deploy_created(done: Replay) -> None:
    """The deploy role's policies condition creates on aws:RequestTag/Environment
    and /Project; in AWS they come only from root.hcl's generated provider."""
    reached(done, RERUN)
    assert len(done.resource_tags) == 2, done.resource_tags  # the VPC and the ALB
    for resource, tags in done.resource_tags.items():
        assert tags.get("Environment") == done.env, resource
        assert tags.get("Project") == "countq", resource


def test_first_deploy_stops_at_migrate_with_no_service_started(done: Replay) -> None:
    run = reached(done, FAILED)
    assert run.returncode == 1, run.tail()
    assert "deploy.sh: migration failed" in run.stderr
    migrate = invocation(done, FAILED)
    # Everything the function needs was there; only the database did not answer.
    assert migrate["problems"] == []
    assert migrate["result"]["ok"] is False and "Can't connect" in migrate["result"]["error"]
    # No service existed when migrate ran, nor after: no task can start on a
    # schema or a database user that is not there yet.
    assert migrate["services"] == {}
    assert done.services["after failed deploy"] == {}
    # One apply, keeping the (absent) release: nothing was targeted or left out.
    assert applies(done, FAILED) == [["-auto-approve", "-input=false", "-var", "image_tag="]]


def test_running_it_again_completes_the_first_deploy(done: Replay) -> None:
    run = reached(done, RERUN)
    assert run.returncode == 0, run.tail()
    tag = done.tags[0]
    migrate = invocation(done, RERUN)
    assert migrate["problems"] == []
    assert migrate["payload"] == {"action": "provision"}
    assert migrate["result"]["ok"] is True, migrate["result"]
    assert migrate["services"] == {}, "services started before their migrations"
    assert applies(done, RERUN) == [
        ["-auto-approve", "-input=false", "-var", "image_tag="],
        ["-auto-approve", "-input=false", "-var", f"image_tag={tag}"],
    ]
    # The image was pushed once, by the failed run; the rerun found it in ECR.
    ecr = done.outputs["ecr_repository_url"]
    pushes = [
        c["args"][1]
        for c in done.calls("docker")
        if c["args"][0] == "push"
        and c["run"] in (FAILED, RERUN)
        and c["args"][1].startswith(ecr + ":")
    ]
    assert pushes == [f"{ecr}:{tag}"]
    assert "already in ECR: not built again" in run.stdout


def test_services_run_the_release_at_the_environments_counts(done: Replay) -> None:
    reached(done, RERUN)
    wanted = environment_inputs(done.env)
    services = done.services["after first deploy"]
    assert set(services) == {"producer", "consumer"}
    image = f"{done.outputs['ecr_repository_url']}:{done.tags[0]}"
    for name, service in services.items():
        assert service["image"] == image
        assert service["desiredCount"] == wanted[name]["desired_count"], name
    (target,) = services["producer"]["loadBalancers"]
    assert target["containerPort"] == 5080 and ":targetgroup/" in target["targetGroupArn"]
    assert services["consumer"]["loadBalancers"] == []
    (wait,) = [w for w in done.calls("ecs-wait") if w.get("run") == RERUN]
    assert wait["problems"] == []


def test_the_collector_runs_from_a_copy_in_ecr_made_before_the_services(done: Replay) -> None:
    """With tracing (prod, which has no internet egress): deploy.sh copies the
    pinned collector image into the account's ECR before any service exists,
    once, and the task definitions run that copy, never public.ecr.aws."""
    run = reached(done, RERUN)
    docker = [c["args"] for c in done.calls("docker") if c["run"] in (FAILED, RERUN)]
    copying = [a for a in docker if a[0] in ("pull", "tag") or "otel-collector" in a[-1]]
    services = done.services["after first deploy"]
    if not environment_inputs(done.env).get("tracing"):
        assert copying == [] and done.collector_tags["after failed deploy"] == []
        assert done.outputs["collector_mirror_image"] == ""
        assert {name: s["sidecars"] for name, s in services.items()} == {
            "producer": {},
            "consumer": {},
        }
        return
    source = done.outputs["collector_mirror_source"]
    copy = done.outputs["collector_mirror_image"]
    registry = done.outputs["ecr_repository_url"].split("/")[0]
    assert re.fullmatch(r"public\.ecr\.aws/aws-observability/aws-otel-collector:v[\d.]+", source)
    pinned = source.rsplit(":", 1)[1]
    assert copy == f"{registry}/countq-{done.env}/otel-collector:{pinned}"
    # The first run copied it before migrate stopped it, when no service existed.
    assert done.services["after failed deploy"] == {}
    assert done.collector_tags["after failed deploy"] == [pinned]
    assert copying == [
        ["pull", "--platform", "linux/amd64", source],
        ["tag", source, copy],
        ["push", copy],
    ]
    assert "collector already in ECR: not copied again" in run.stdout
    for name, service in services.items():
        assert service["sidecars"] == {"otel-collector": copy}, name
        assert "public.ecr.aws" not in str(service), name


def test_migrate_leaves_the_schema_and_a_least_privilege_app_user(done: Replay) -> None:
    reached(done, RERUN)
    app = done.app_user
    assert "error" not in app, app
    assert "alembic_version" in app["tables"] and len(app["tables"]) > 1
    assert app["tls"], "the app user's connection was not encrypted"
    granted = [g for g in app["grants"] if not g.startswith("GRANT USAGE ON *.*")]
    assert len(granted) == 1
    assert re.match(r"GRANT SELECT, INSERT, UPDATE ON `countq`\.\* TO `[^`]+`@`%`$", granted[0])


def test_frontend_is_uploaded_cached_right_and_smoke_tested(done: Replay) -> None:
    reached(done, RERUN)
    objects = done.frontend_objects
    assert objects.get("index.html") == "no-cache"
    assets = {k: v for k, v in objects.items() if k.startswith("assets/")}
    assert assets and set(assets.values()) == {"public, max-age=31536000, immutable"}
    assert done.invalidations >= 1
    url = done.outputs["cloudfront_url"].rstrip("/") + "/count"
    smoke = [c for c in done.calls("curl") if c.get("run") == RERUN]
    assert [c["method"] for c in smoke][:2] == ["POST", "GET"]
    assert {c["url"] for c in smoke} == {url}


def test_next_release_runs_only_after_its_migrations(
    replays: dict[str, Future[Replay]],
) -> None:
    (env,) = NEXT_COMMIT
    done = replays[env].result()
    run = reached(done, NEXT)
    assert run.returncode == 0, run.tail()
    old, new = done.tags
    assert old != new
    ecr = done.outputs["ecr_repository_url"]
    migrate = invocation(done, NEXT)
    assert migrate["result"]["ok"] is True, migrate["result"]
    # While the new image's migrations ran, the services still ran the old one.
    assert migrate["services"] == {"producer": f"{ecr}:{old}", "consumer": f"{ecr}:{old}"}
    assert applies(done, NEXT) == [
        ["-auto-approve", "-input=false", "-var", f"image_tag={old}"],
        ["-auto-approve", "-input=false", "-var", f"image_tag={new}"],
    ]
    assert {s["image"] for s in done.services["after next deploy"].values()} == {f"{ecr}:{new}"}


def test_a_bumped_password_version_reaches_mysql_before_awscurrent(
    replays: dict[str, Future[Replay]],
) -> None:
    """The first deploy's version is AWSCURRENT and AWSPENDING at once; the next
    deploy (mysql_app_password_version 1 -> 2) applies a new AWSPENDING version
    that no service reads, and provision makes it AWSCURRENT once MySQL takes it."""
    (env,) = NEXT_COMMIT
    done = replays[env].result()
    reached(done, NEXT)
    first = invocation(done, RERUN)
    assert first["app_secret_stages"] == {
        "before": [["AWSCURRENT", "AWSPENDING"]],
        "after": [["AWSCURRENT"]],
    }
    assert first["result"]["password_rotated"] is False
    rotation = invocation(done, NEXT)
    assert rotation["app_secret_stages"] == {
        "before": [["AWSCURRENT"], ["AWSPENDING"]],
        "after": [["AWSPREVIOUS"], ["AWSCURRENT"]],
    }
    assert rotation["result"]["password_rotated"] is True, rotation["result"]
    assert done.rotation["AWSCURRENT"] == "accepted"
    assert "Access denied" in done.rotation["AWSPREVIOUS"], done.rotation


def test_migrate_runs_the_handler_the_function_names(done: Replay) -> None:
    reached(done, RERUN)
    handlers = {c["handler"] for c in done.calls("lambda")}
    assert len(handlers) == 1
    (handler,) = handlers
    assert re.fullmatch(r"[\w.]+\.\w+", handler), handler


def test_destroy_leaves_nothing_of_the_deploy(done: Replay) -> None:
    run = reached(done, DESTROY)
    assert run.returncode == 0, run.tail()
    before, deployed, after = (done.inventories[k] for k in ("before", "deployed", "destroyed"))
    # With interface endpoints there is no NAT gateway, nor an address for one.
    no_nat = environment_inputs(done.env)["interface_endpoints"]
    for kind in CREATED:
        made = set(deployed[kind]) - set(before[kind])
        if no_nat and kind in ("nat_gateways", "elastic_ips"):
            assert not made, f"{kind} in {done.env}: {made}"
        else:
            assert made, f"the deploy created no {kind}"
    left = {kind: sorted(set(after[kind]) - set(before[kind])) for kind in after}
    # The state bucket outlives the stack (destroy.sh keeps it, as Terragrunt does).
    assert left.pop("buckets") == [STATE_BUCKET]
    assert {k: v for k, v in left.items() if v} == {}
    assert done.environment_run is not None
    assert done.environment_run.remaining_after_destroy == []
    created = set(deployed["secrets"]) - set(before["secrets"])
    for secret in done.secrets_after_destroy:
        if secret["Name"] in created:
            assert "DeletedDate" in secret, f"{secret['Name']} is neither deleted nor scheduled"


def test_prod_keeps_a_dated_final_snapshot(done: Replay) -> None:
    run = reached(done, DESTROY)
    if done.env == "prod":
        (snapshot,) = done.snapshots_after_destroy
        assert re.fullmatch(r"countq-prod-final-\d{8}-\d{6}", snapshot)
        assert f"final snapshot: {snapshot}" in run.stdout
        (unprotect,) = applies(done, DESTROY)
        assert "-var" in unprotect and "protect_data=false" in unprotect
        assert f"db_final_snapshot_identifier={snapshot}" in unprotect
    else:
        assert done.snapshots_after_destroy == []
        assert applies(done, DESTROY) == []
