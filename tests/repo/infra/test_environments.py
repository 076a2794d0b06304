"""Each environment's stack, with its own Terragrunt inputs, really planned,
applied, re-planned and destroyed against moto; assertions on the plan and on
the applied state (`terraform show -json`)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.repo.infra.harness import (
    EXERCISED_INPUTS,
    REGION,
    ROOT,
    EnvironmentRun,
    environment_inputs,
)

# Terraform apply, re-plan and destroy per environment against moto: make test-fast leaves it out.
pytestmark = pytest.mark.slow

# What the ADOT collector sidecar sends the traces with (tracing on).
XRAY_WRITES = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

# The Session Manager channels ECS Exec opens with the task role.
EXEC_CHANNELS = {
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


def _resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found += _resources(child)
    return found


def planned(run: EnvironmentRun, rtype: str) -> list[dict[str, Any]]:
    return [r for r in _resources(run.plan["planned_values"]["root_module"]) if r["type"] == rtype]


def applied(run: EnvironmentRun, rtype: str) -> list[dict[str, Any]]:
    return [r for r in _resources(run.state["values"]["root_module"]) if r["type"] == rtype]


def one(resources: list[dict[str, Any]], address_part: str) -> dict[str, Any]:
    matches = [r for r in resources if address_part in r["address"]]
    assert len(matches) == 1, f"{address_part}: {[r['address'] for r in resources]}"
    return matches[0]


def app_and_sidecars(task: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A task definition's application container (named as its service) and the
    others (the tracing collector); the state does not keep their order."""
    containers = json.loads(task["values"]["container_definitions"])
    (app,) = [c for c in containers if c["name"] in ("producer", "consumer")]
    return app, [c for c in containers if c is not app]


def sg_id(value: str) -> str:
    # moto reports referenced groups as "<account>/sg-..."
    return value.rsplit("/", 1)[-1]


def test_apply_replan_destroy(env_run: EnvironmentRun) -> None:
    assert env_run.error is None, env_run.error
    assert not env_run.replan_changes, "re-plan after apply is not empty:\n" + "\n".join(
        env_run.replan_changes
    )
    assert env_run.remaining_after_destroy == [], env_run.remaining_after_destroy
    for name in (
        "cloudfront_url",
        "cloudfront_distribution_id",
        "alb_dns_name",
        "frontend_bucket",
        "ecr_repository_url",
        "ecs_cluster_name",
        "producer_service_name",
        "consumer_service_name",
        "importer_function_name",
    ):
        assert env_run.outputs.get(name), f"output {name} is empty"
    assert env_run.outputs["ecr_repository_url"].endswith(f"/countq-{env_run.env}")
    assert env_run.outputs["cloudfront_url"].startswith("https://")


def test_sizes_per_environment(env_run: EnvironmentRun) -> None:
    prod = env_run.env == "prod"
    azs = 3 if prod else 2
    subnets = planned(env_run, "aws_subnet")
    assert len(subnets) == 2 * azs
    assert len({s["values"]["availability_zone"] for s in subnets}) == azs
    # Prod reaches AWS through interface endpoints only: no NAT gateway to pay for.
    assert len(planned(env_run, "aws_nat_gateway")) == (0 if prod else 1)
    assert len(planned(env_run, "aws_eip")) == (0 if prod else 1)
    db = one(planned(env_run, "aws_db_instance"), "module.rds")["values"]
    assert db["multi_az"] is prod
    assert db["deletion_protection"] is prod
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    assert db["manage_master_user_password"] is True
    assert db["engine"] == "mysql" and db["engine_version"].startswith("8.")
    assert db["backup_retention_period"] >= (7 if prod else 1)
    services = planned(env_run, "aws_ecs_service")
    assert {s["values"]["name"] for s in services} == {"producer", "consumer"}
    variables = env_run.plan["variables"]
    for service in services:
        assert service["values"]["desired_count"] >= (2 if prod else 1)
        bounds = variables[service["values"]["name"]]["value"]
        assert bounds["min_count"] >= (2 if prod else 1)
        assert bounds["max_count"] > bounds["min_count"]
        assert service["values"]["deployment_circuit_breaker"] == [
            {"enable": True, "rollback": True}
        ]
    assert (
        one(planned(env_run, "aws_lb"), "module.alb")["values"]["enable_deletion_protection"]
        is prod
    )


def test_the_consumer_publishes_the_metric_its_scaling_policy_tracks(
    env_run: EnvironmentRun,
) -> None:
    """End to end, on the applied state (the plan does not know the container
    definitions yet): the consumer task's METRICS_NAMESPACE and
    METRICS_ENVIRONMENT, as the app's own Settings and CloudWatch publisher use
    them, name the very metric the scaling policy reads. A rename on either
    side would leave the policy tracking a metric nobody publishes."""
    from countq.config import Settings
    from countq.worker.metrics import CloudWatch

    task = one(applied(env_run, "aws_ecs_task_definition"), "module.consumer.")
    container, _sidecars = app_and_sidecars(task)
    env = {e["name"]: e["value"] for e in container["environment"]}
    settings = Settings(
        metrics_namespace=env["METRICS_NAMESPACE"], metrics_environment=env["METRICS_ENVIRONMENT"]
    )
    published: list[tuple[str, str, dict[str, str]]] = []

    class Queue:
        def stats(self) -> dict[str, float]:
            return {"backlog": 3, "pending": 1, "oldest_age_seconds": 2.0}

    class Recorder:
        def put_metric_data(self, Namespace: str, MetricData: list[dict[str, Any]]) -> None:
            for datum in MetricData:
                dims = {d["Name"]: d["Value"] for d in datum["Dimensions"]}
                published.append((Namespace, datum["MetricName"], dims))

    CloudWatch(settings, Queue()).publish(Recorder())  # type: ignore[arg-type]
    policy = one(applied(env_run, "aws_appautoscaling_policy"), "module.consumer.")
    (config,) = policy["values"]["target_tracking_scaling_policy_configuration"]
    (custom,) = config["customized_metric_specification"]
    (backlog,) = [m for m in custom["metrics"] if m["id"] == "backlog"]
    ((metric,),) = (s["metric"] for s in backlog["metric_stat"])
    dimensions = {d["name"]: d["value"] for d in metric["dimensions"]}
    tracked = (metric["namespace"], metric["metric_name"], dimensions)
    assert dimensions == {"Environment": env_run.env}, tracked
    assert tracked in published, published


def test_container_definitions(env_run: EnvironmentRun) -> None:
    """Non-root, read-only root, /tmp volume, health check, no secret value in the environment."""
    secrets = [v for v in env_run.secret_values if len(v) >= 8]
    assert secrets, "expected the MySQL application secret in moto"
    commands = {}
    for task in applied(env_run, "aws_ecs_task_definition"):
        container, _sidecars = app_and_sidecars(task)
        commands[container["name"]] = container["command"]
        assert container["user"] == "10001"
        assert container["readonlyRootFilesystem"] is True
        assert {"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False} in container[
            "mountPoints"
        ]
        assert container["healthCheck"]["command"] == ["CMD", "countq", "check"]
        assert container["portMappings"][0]["containerPort"] == 5080
        assert not container.get("secrets"), "secrets are fetched by the app from their ARNs"
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert env["REDIS_CLUSTER"] == env["REDIS_TLS"] == env["MYSQL_TLS"] == "true"
        # Verified TLS: the RDS CA bundle where the Dockerfile installs it.
        assert env["MYSQL_TLS_CA"] == "/etc/countq/mysql-ca.pem"
        assert env["LOG_FORMAT"] == "json", "JSON lines for CloudWatch Logs Insights"
        assert f"/ca/mysql-ca.pem {env['MYSQL_TLS_CA']}" in (ROOT / "Dockerfile").read_text()
        assert env["DB_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
        # Redis: IAM authentication, no password or secret to read.
        assert "REDIS_SECRET_ARN" not in env
        assert env["REDIS_IAM_USER"] == f"countq-{env_run.env}-app-iam"
        assert env["REDIS_IAM_CACHE_NAME"] == f"countq-{env_run.env}"
        for key, value in env.items():
            assert not re.search(r"PASSWORD|TOKEN|ACCESS_KEY", key), (
                f"{key} in {container['name']} environment"
            )
            assert not any(s in value for s in secrets), (
                f"{key} of {container['name']} holds a secret value"
            )
    assert commands == {"producer": ["countq", "producer"], "consumer": ["countq", "consumer"]}
    (function,) = applied(env_run, "aws_lambda_function")
    lambda_env = function["values"]["environment"][0]["variables"]
    assert lambda_env["DB_SECRET_ARN"] != lambda_env["APP_DB_SECRET_ARN"]
    assert lambda_env["MYSQL_TLS"] == "true"
    # scripts/build-importer-zip.sh puts the bundle at the zip's root, Lambda's /var/task.
    assert lambda_env["MYSQL_TLS_CA"] == "/var/task/mysql-ca.pem"
    for key, value in lambda_env.items():
        assert not any(s in value for s in secrets), f"{key} of the importer holds a secret value"


# Actions AWS has no resource ARN for.
UNSCOPED_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    *EXEC_CHANNELS,
    "logs:DescribeLogGroups",
    *XRAY_WRITES,
}


def test_task_roles_are_scoped(env_run: EnvironmentRun) -> None:
    """The services read the one MySQL secret and connect to the one cache as the
    one Redis user, the importer reads two secrets; no wildcard resources except
    where AWS has none."""
    secret_arns = {s["values"]["arn"] for s in applied(env_run, "aws_secretsmanager_secret")}
    db = one(applied(env_run, "aws_db_instance"), "module.rds")["values"]
    master_secret = db["master_user_secret"][0]["secret_arn"]
    for policy in applied(env_run, "aws_iam_role_policy"):
        document = json.loads(policy["values"]["policy"])
        for statement in document["Statement"]:
            resources = (
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            if "*" in resources:
                assert set(actions) <= UNSCOPED_ACTIONS, policy["address"]
            if "secretsmanager:GetSecretValue" in actions:
                assert len(resources) == (2 if "importer" in policy["address"] else 1), policy[
                    "address"
                ]
                if "importer" in policy["address"]:
                    assert master_secret in resources, policy["address"]
                    assert set(resources) <= secret_arns | {master_secret}, policy["address"]
                else:  # the services never see the master secret
                    assert set(resources) <= secret_arns, policy["address"]


def test_data_stores_only_from_services_and_importer(env_run: EnvironmentRun) -> None:
    groups = {
        g["values"]["name"]: g["values"]["id"] for g in applied(env_run, "aws_security_group")
    }
    name = f"countq-{env_run.env}"
    expected = {
        f"{name}-mysql": {
            groups[f"{name}-producer"],
            groups[f"{name}-consumer"],
            groups[f"{name}-importer"],
        },
        f"{name}-redis": {groups[f"{name}-producer"], groups[f"{name}-consumer"]},
    }
    for group in applied(env_run, "aws_security_group"):
        # No inline rules besides the listed ones (once refreshed, as after the
        # deploy replay's later applies, the group shows those here too).
        for rule in group["values"]["ingress"] if group["values"]["name"] in expected else []:
            assert not (rule["cidr_blocks"] or rule["ipv6_cidr_blocks"] or rule["prefix_list_ids"])
            sources = {sg_id(g) for g in rule["security_groups"]}
            assert sources and sources <= expected[group["values"]["name"]], rule
    rules = applied(env_run, "aws_vpc_security_group_ingress_rule")
    for store, allowed in expected.items():
        store_rules = [
            r["values"] for r in rules if r["values"]["security_group_id"] == groups[store]
        ]
        assert {sg_id(r["referenced_security_group_id"]) for r in store_rules} == allowed
        for rule in store_rules:
            assert (
                rule["cidr_ipv4"] is None
                and rule["cidr_ipv6"] is None
                and rule["prefix_list_id"] is None
            )
            assert rule["from_port"] in (3306, 6379)
    # In the plan, the same: keyed rules with no CIDR.
    plan_rules = planned(env_run, "aws_vpc_security_group_ingress_rule")
    mysql_keys = {r["index"] for r in plan_rules if r["address"].startswith("module.rds.")}
    redis_keys = {r["index"] for r in plan_rules if r["address"].startswith("module.redis.")}
    assert mysql_keys == {"producer", "consumer", "importer"}
    assert redis_keys == {"producer", "consumer"}
    # The ALB's one rule (from CloudFront's VPC origin group) is not applied on
    # moto, which has no VPC origins: test_production.py asserts it on the plan.
    alb_rules = [r["values"] for r in plan_rules if r["address"].startswith("module.alb.")]
    assert all(r["cidr_ipv4"] is None for r in alb_rules), "the ALB is open to CloudFront only"


def test_frontend_bucket_private_and_cloudfront_only(env_run: EnvironmentRun) -> None:
    block = one(planned(env_run, "aws_s3_bucket_public_access_block"), "module.frontend")["values"]
    assert all(
        block[k]
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    ownership = one(planned(env_run, "aws_s3_bucket_ownership_controls"), "module.frontend")[
        "values"
    ]
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"

    distribution = one(applied(env_run, "aws_cloudfront_distribution"), "module.frontend")["values"]
    policy = json.loads(
        one(applied(env_run, "aws_s3_bucket_policy"), "module.frontend")["values"]["policy"]
    )
    allows = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    assert allows[0]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allows[0]["Action"] == "s3:GetObject"
    assert allows[0]["Condition"] == {"StringEquals": {"AWS:SourceArn": distribution["arn"]}}

    # The S3 origin signs with origin access control; the API paths go to the ALB.
    config = env_run.plan["configuration"]["root_module"]["module_calls"]["frontend"]["module"]
    (cloudfront,) = [
        r for r in config["resources"] if r["address"] == "aws_cloudfront_distribution.this"
    ]
    origins = cloudfront["expressions"]["origin"]
    s3_origin = next(o for o in origins if "origin_access_control_id" in o)
    assert (
        "aws_cloudfront_origin_access_control.this.id"
        in s3_origin["origin_access_control_id"]["references"]
    )

    planned_cf = one(planned(env_run, "aws_cloudfront_distribution"), "module.frontend")["values"]
    behaviors = planned_cf["default_cache_behavior"] + planned_cf["ordered_cache_behavior"]
    assert all(b["viewer_protocol_policy"] == "redirect-to-https" for b in behaviors)
    api = {b["path_pattern"]: b["target_origin_id"] for b in planned_cf["ordered_cache_behavior"]}
    for path in ("/count", "/health", "/ready", "/stats"):
        assert api.get(path) == "alb", f"{path} is not routed to the ALB"
    assert planned_cf["default_cache_behavior"][0]["target_origin_id"] == "s3"


def test_first_deploy_and_teardown_hazards(env_run: EnvironmentRun) -> None:
    """What a first deploy into a new account, and a destroy, need from the stack."""
    prod = env_run.env == "prod"
    name = f"countq-{env_run.env}"
    # RDS's export log groups are the stack's, with the environment's retention
    # (RDS would create them itself, without retention, and leave them behind).
    retention = environment_inputs(env_run.env)["log_retention_days"]
    groups = {
        g["values"]["name"]: g["values"]["retention_in_days"]
        for g in applied(env_run, "aws_cloudwatch_log_group")
    }
    db = one(applied(env_run, "aws_db_instance"), "module.rds")["values"]
    assert sorted(db["enabled_cloudwatch_logs_exports"]) == ["error", "slowquery"]
    for log in db["enabled_cloudwatch_logs_exports"]:
        assert groups.get(f"/aws/rds/instance/{name}/{log}") == retention, log
    # Prod keeps a final snapshot by default; the others take none.
    assert db["skip_final_snapshot"] is not prod
    assert db["final_snapshot_identifier"] == (f"{name}-final" if prod else None)
    # No reserved concurrency: low-quota accounts reject any reservation.
    (function,) = applied(env_run, "aws_lambda_function")
    assert function["values"]["reserved_concurrent_executions"] == -1
    # A service attached to a target group without a listener fails to create,
    # so the services wait for the listener.
    calls = env_run.plan["configuration"]["root_module"]["module_calls"]
    assert (
        "module.alb.listener_arn" in calls["producer"]["expressions"]["load_balancer"]["references"]
    )
    service = next(
        r
        for r in calls["producer"]["module"]["resources"]
        if r["address"] == "aws_ecs_service.this"
    )
    assert "var.load_balancer" in service["depends_on"]


def test_maintenance_runs_hourly_as_the_importer(env_run: EnvironmentRun) -> None:
    """RETENTION_DAYS is applied by the importer's maintain action on a schedule."""
    (function,) = applied(env_run, "aws_lambda_function")
    (rule,) = applied(env_run, "aws_cloudwatch_event_rule")
    (target,) = applied(env_run, "aws_cloudwatch_event_target")
    (permission,) = applied(env_run, "aws_lambda_permission")
    assert rule["values"]["schedule_expression"] == "rate(1 hour)"
    assert target["values"]["arn"] == function["values"]["arn"]
    assert json.loads(target["values"]["input"]) == {"action": "maintain"}
    assert permission["values"]["principal"] == "events.amazonaws.com"
    assert permission["values"]["source_arn"] == rule["values"]["arn"]
    # Unset by default: keep everything.
    assert "RETENTION_DAYS" not in function["values"]["environment"][0]["variables"]


# --- Network and access hygiene (issue 11, section 6)

INTERFACE_SERVICES = {"secretsmanager", "ecr.api", "ecr.dkr", "logs", "monitoring"}


def _private_route_tables(run: EnvironmentRun) -> set[str]:
    return {
        t["values"]["id"] for t in applied(run, "aws_route_table") if ".private[" in t["address"]
    }


def test_s3_gateway_endpoint_on_every_private_route_table(env_run: EnvironmentRun) -> None:
    (vpc,) = applied(env_run, "aws_vpc")
    endpoint = one(applied(env_run, "aws_vpc_endpoint"), "aws_vpc_endpoint.s3")["values"]
    assert endpoint["vpc_endpoint_type"] == "Gateway"
    assert endpoint["service_name"] == f"com.amazonaws.{REGION}.s3"
    assert endpoint["vpc_id"] == vpc["values"]["id"]
    tables = _private_route_tables(env_run)
    assert len(tables) == (3 if env_run.env == "prod" else 2)
    assert set(endpoint["route_table_ids"]) == tables
    assert endpoint["prefix_list_id"].startswith("pl-")


def test_interface_endpoints_only_in_prod(env_run: EnvironmentRun) -> None:
    """In every private subnet, private DNS on, behind a group admitting HTTPS from the VPC only."""
    inputs = environment_inputs(env_run.env)
    assert inputs["interface_endpoints"] is (env_run.env == "prod")
    endpoints = {
        e["index"]: e["values"]
        for e in applied(env_run, "aws_vpc_endpoint")
        if e["values"]["vpc_endpoint_type"] == "Interface"
    }
    groups = {g["values"]["name"]: g["values"] for g in applied(env_run, "aws_security_group")}
    name = f"countq-{env_run.env}"
    if not inputs["interface_endpoints"]:
        assert endpoints == {}
        assert f"{name}-endpoints" not in groups
        return
    # The consumer publishes its metrics with PutMetricData: monitoring is one of them.
    expected = INTERFACE_SERVICES | ({"ssmmessages"} if _exec_on(env_run) else set())
    expected |= {"xray"} if inputs.get("tracing") else set()
    assert set(endpoints) == expected
    # Prod traces: the collector's PutTraceSegments go out through X-Ray's endpoint.
    assert "xray" in endpoints
    (vpc,) = applied(env_run, "aws_vpc")
    private = {
        s["values"]["id"] for s in applied(env_run, "aws_subnet") if ".private[" in s["address"]
    }
    group = groups[f"{name}-endpoints"]
    for service, endpoint in endpoints.items():
        assert endpoint["service_name"].endswith(f".{service}")
        assert endpoint["private_dns_enabled"] is True, service
        assert set(endpoint["subnet_ids"]) == private, service
        assert endpoint["security_group_ids"] == [group["id"]], service
    ingress = [
        r["values"]
        for r in applied(env_run, "aws_vpc_security_group_ingress_rule")
        if r["values"]["security_group_id"] == group["id"]
    ]
    assert [(r["ip_protocol"], r["from_port"], r["to_port"], r["cidr_ipv4"]) for r in ingress] == [
        ("tcp", 443, 443, vpc["values"]["cidr_block"])
    ]
    egress = applied(env_run, "aws_vpc_security_group_egress_rule")
    assert not [r for r in egress if r["values"]["security_group_id"] == group["id"]]
    # As moto holds the group (refreshed): the same one rule, nothing inline besides.
    for rule in group["ingress"]:
        assert (rule["protocol"], rule["from_port"], rule["to_port"]) == ("tcp", 443, 443)
        assert rule["cidr_blocks"] == [vpc["values"]["cidr_block"]] and not rule["security_groups"]
    assert group["egress"] == []


def test_egress_is_only_what_tasks_and_importer_reach(env_run: EnvironmentRun) -> None:
    """MySQL and Redis inside the VPC, HTTPS for the AWS APIs; 0.0.0.0/0 only on 443
    and only without endpoints; nothing on all protocols."""
    (vpc,) = applied(env_run, "aws_vpc")
    cidr = vpc["values"]["cidr_block"]
    prefix_list = one(applied(env_run, "aws_vpc_endpoint"), "aws_vpc_endpoint.s3")["values"][
        "prefix_list_id"
    ]
    aws_apis = (
        {("tcp", 443, 443, cidr), ("tcp", 443, 443, prefix_list)}
        if environment_inputs(env_run.env)["interface_endpoints"]
        else {("tcp", 443, 443, "0.0.0.0/0")}
    )
    mysql, redis = ("tcp", 3306, 3306, cidr), ("tcp", 6379, 6380, cidr)
    expected = {"producer": {mysql, redis} | aws_apis, "consumer": {mysql, redis} | aws_apis}
    expected["importer"] = {mysql} | aws_apis
    groups = {g["values"]["name"]: g["values"] for g in applied(env_run, "aws_security_group")}
    rules = [r["values"] for r in applied(env_run, "aws_vpc_security_group_egress_rule")]
    for owner, flows in expected.items():
        group = groups[f"countq-{env_run.env}-{owner}"]
        found = {
            (r["ip_protocol"], r["from_port"], r["to_port"], r["cidr_ipv4"] or r["prefix_list_id"])
            for r in rules
            if r["security_group_id"] == group["id"]
        }
        assert found == flows, owner
        # Whatever moto holds inline for the group (once refreshed) obeys the same.
        for rule in group["egress"]:
            assert rule["protocol"] == "tcp", (owner, rule)
            if "0.0.0.0/0" in rule["cidr_blocks"]:
                assert (rule["from_port"], rule["to_port"]) == (443, 443), (owner, rule)
    # The ALB still reaches the producer's port (its ingress is untouched).
    producer_in = [
        r["values"]
        for r in applied(env_run, "aws_vpc_security_group_ingress_rule")
        if r["values"]["security_group_id"] == groups[f"countq-{env_run.env}-producer"]["id"]
    ]
    assert [(r["from_port"], sg_id(r["referenced_security_group_id"])) for r in producer_in] == [
        (5080, groups[f"countq-{env_run.env}-alb"]["id"])
    ]


def _exec_on(run: EnvironmentRun) -> bool:
    return bool(EXERCISED_INPUTS.get(run.env, {}).get("enable_execute_command", False))


def test_ecs_exec_off_by_default_and_complete_when_on(env_run: EnvironmentRun) -> None:
    """Off unless asked (no environment asks); the run that turns it on gets the
    service flag, the task roles' channels and the SSM agent's writable paths."""
    assert "enable_execute_command" not in environment_inputs(env_run.env)
    on = _exec_on(env_run)
    assert env_run.plan["variables"]["enable_execute_command"]["value"] is on
    for service in planned(env_run, "aws_ecs_service"):
        assert service["values"]["enable_execute_command"] is on, service["address"]
    exec_policies = [
        p for p in applied(env_run, "aws_iam_role_policy") if p["values"]["name"] == "ecs-exec"
    ]
    task_roles = {
        r["values"]["name"]
        for r in applied(env_run, "aws_iam_role")
        if r["values"]["name"].endswith("-task")
    }
    paths = {"/tmp"} | ({"/var/lib/amazon/ssm", "/var/log/amazon/ssm"} if on else set())
    for task in applied(env_run, "aws_ecs_task_definition"):
        container, _sidecars = app_and_sidecars(task)
        mounts = {m["containerPath"]: m for m in container["mountPoints"]}
        assert set(mounts) == paths, container["name"]
        assert all(m["readOnly"] is False for m in mounts.values())
        volumes = {v["name"] for v in task["values"]["volume"]}
        assert volumes == {m["sourceVolume"] for m in mounts.values()}
        assert container["readonlyRootFilesystem"] is True
        init = container.get("linuxParameters", {}).get("initProcessEnabled")
        assert init is (True if on else None), container["name"]
    if not on:
        assert exec_policies == []
        return
    assert {p["values"]["role"] for p in exec_policies} == task_roles
    for policy in exec_policies:
        statements = {s["Sid"]: s for s in json.loads(policy["values"]["policy"])["Statement"]}
        assert set(statements["EcsExecChannels"]["Action"]) == EXEC_CHANNELS
        logs = statements["EcsExecSessionLogs"]
        assert logs["Resource"].startswith("arn:aws:logs:") and "/ecs/countq-" in logs["Resource"]


def test_redis_login_is_iam_with_no_password_anywhere(env_run: EnvironmentRun) -> None:
    """The app's ElastiCache user authenticates with IAM (no password in state or
    in Secrets Manager); exactly the two services may connect, to exactly the
    environment's cache, as exactly that user. That ElastiCache accepts the
    tokens only AWS can show: tests/integration/core/test_redis_iam.py checks
    the token against an independent SigV4 implementation."""
    name = f"countq-{env_run.env}"
    users = {
        u["values"]["user_name"]: u["values"] for u in applied(env_run, "aws_elasticache_user")
    }
    assert set(users) == {"default", f"{name}-app-iam", "countq"}
    app = users[f"{name}-app-iam"]
    assert app["user_id"] == app["user_name"], "ElastiCache requires id == name for IAM users"
    assert [m["type"] for m in app["authentication_mode"]] == ["iam"]
    assert not app["passwords"] and not app["authentication_mode"][0]["passwords"]
    # Switched off, without a password: "default", and for one release the
    # password user that IAM replaced (modules/redis says why it is kept).
    for off in ("default", "countq"):
        assert users[off]["access_string"] == "off -@all"
        assert [m["type"] for m in users[off]["authentication_mode"]] == ["no-password-required"]
    assert users["countq"]["user_id"] == f"{name}-app"
    planned_app = one(planned(env_run, "aws_elasticache_user"), "aws_elasticache_user.app_iam")
    assert planned_app["values"]["authentication_mode"][0]["type"] == "iam"
    # No Redis secret, and nothing in the stack reads one.
    secrets = [s["values"]["name"] for s in applied(env_run, "aws_secretsmanager_secret")]
    assert secrets == [f"{name}/mysql-app"], secrets
    assert not [
        r
        for r in _resources(env_run.state["values"]["root_module"])
        if r["mode"] == "data" and r["type"] == "aws_secretsmanager_secret_version"
    ]

    # elasticache:Connect: the cache (its ARN shares the user's account and
    # region) and the user, nothing else, for the producer and the consumer only.
    cache_arn = app["arn"].replace(f":user:{app['user_id']}", f":serverlesscache:{name}")
    assert cache_arn.startswith("arn:aws:elasticache:") and cache_arn.endswith(
        f":serverlesscache:{name}"
    )
    connects = {}
    for policy in applied(env_run, "aws_iam_role_policy"):
        for statement in json.loads(policy["values"]["policy"])["Statement"]:
            actions = statement["Action"]
            actions = actions if isinstance(actions, list) else [actions]
            if any(a.startswith("elasticache:") for a in actions):
                assert actions == ["elasticache:Connect"], policy["address"]
                assert statement["Effect"] == "Allow"
                connects[policy["values"]["role"]] = sorted(statement["Resource"])
    assert connects == {
        f"{name}-producer-task": sorted([cache_arn, app["arn"]]),
        f"{name}-consumer-task": sorted([cache_arn, app["arn"]]),
    }


def test_end_to_end_alarm_and_dashboard_widget(env_run: EnvironmentRun) -> None:
    """The POST-to-stored objective: p99 of the consumer's EndToEndSeconds above
    the stack input (default 5 s) for N minutes alarms, and the dashboard draws
    p50 and p99 with the threshold."""
    alarm = one(applied(env_run, "aws_cloudwatch_metric_alarm"), "end_to_end_p99")["values"]
    assert alarm["alarm_name"] == f"countq-{env_run.env}-end-to-end-p99"
    assert (alarm["namespace"], alarm["metric_name"]) == ("countq", "EndToEndSeconds")
    assert alarm["dimensions"] == {"Environment": env_run.env}
    assert alarm["extended_statistic"] == "p99" and not alarm["statistic"]
    assert alarm["threshold"] == 5 and alarm["comparison_operator"] == "GreaterThanThreshold"
    assert alarm["period"] == 60
    assert alarm["evaluation_periods"] == alarm["datapoints_to_alarm"] == 5
    assert alarm["treat_missing_data"] == "notBreaching"
    (topic,) = applied(env_run, "aws_sns_topic")
    assert alarm["alarm_actions"] == [topic["values"]["arn"]]
    assert "docs/operations/runbook.md" in alarm["alarm_description"]
    runbook = (ROOT / "docs" / "operations" / "runbook.md").read_text()
    assert "### `countq-prod-end-to-end-p99`" in runbook
    (dashboard,) = applied(env_run, "aws_cloudwatch_dashboard")
    widgets = json.loads(dashboard["values"]["dashboard_body"])["widgets"]
    (widget,) = [w for w in widgets if w["properties"]["title"] == "POST to stored (seconds)"]
    lines = widget["properties"]["metrics"]
    assert [line[:4] for line in lines] == [
        ["countq", "EndToEndSeconds", "Environment", env_run.env]
    ] * 2
    assert [line[-1]["stat"] for line in lines] == ["p50", "p99"]
    assert widget["properties"]["annotations"]["horizontal"][0]["value"] == 5


def test_tracing_sidecar_only_where_asked(env_run: EnvironmentRun) -> None:
    """tracing (stage and prod): an ADOT collector beside each service, run
    from the copy in the account's ECR (which the execution role may pull),
    with its health check and log group, the OTEL_* variables in the
    application, X-Ray writes on the task role; nothing of it where tracing is off."""
    on = bool(environment_inputs(env_run.env).get("tracing"))
    assert on is (env_run.env in ("stage", "prod"))
    # A value given as an input reaches the plan as Terraform's text ("false").
    assert str(env_run.plan["variables"]["tracing"]["value"]).lower() == str(on).lower()
    groups = {
        g["values"]["name"]: g["values"] for g in applied(env_run, "aws_cloudwatch_log_group")
    }
    xray = [
        p["values"]
        for p in applied(env_run, "aws_iam_role_policy")
        if p["values"]["name"] == "send-traces"
    ]
    collector_logs = [
        p["values"]
        for p in applied(env_run, "aws_iam_role_policy")
        if p["values"]["name"] == "collector-logs"
    ]
    tasks = applied(env_run, "aws_ecs_task_definition")
    assert len(tasks) == 2
    for task in tasks:
        app, sidecars = app_and_sidecars(task)
        env = {e["name"]: e["value"] for e in app["environment"]}
        if not on:
            assert sidecars == [] and not [k for k in env if k.startswith("OTEL_")]
            continue
        (collector,) = sidecars
        assert collector["name"] == "otel-collector"
        # Prod has no NAT: the collector comes from the account's ECR, as the app does.
        registry = env_run.outputs["ecr_repository_url"].split("/")[0]
        assert re.fullmatch(
            rf"{re.escape(registry)}/countq-{env_run.env}/otel-collector:v[\d.]+",
            collector["image"],
        ), collector["image"]
        assert collector["image"] == env_run.outputs["collector_mirror_image"]
        assert collector["essential"] is False, "a collector failure must not stop the service"
        assert collector["command"] == ["--config=/etc/ecs/ecs-default-config.yaml"]
        assert collector["healthCheck"]["command"] == ["/healthcheck"]
        log_group = collector["logConfiguration"]["options"]["awslogs-group"]
        assert log_group == f"/ecs/countq-{env_run.env}/{app['name']}/otel-collector"
        assert log_group in groups
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://localhost:4318"
        assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert env["OTEL_SERVICE_NAME"] == f"countq-{app['name']}"
        assert env["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
    task_roles = {r["values"]["name"]: r["values"] for r in applied(env_run, "aws_iam_role")}
    repositories = {
        r["values"]["name"]: r["values"] for r in applied(env_run, "aws_ecr_repository")
    }
    copy = f"countq-{env_run.env}/otel-collector"
    pulls = [
        statement["Resource"]
        for p in applied(env_run, "aws_iam_role_policy")
        if p["values"]["name"] == "pull-and-log"
        for statement in json.loads(p["values"]["policy"])["Statement"]
        if statement["Sid"] == "EcrPull"
    ]
    assert len(pulls) == 2
    if not on:
        assert xray == [] and collector_logs == []
        assert not [name for name in groups if name.endswith("/otel-collector")]
        assert copy not in repositories and env_run.outputs["collector_mirror_image"] == ""
        assert all(isinstance(r, str) for r in pulls), "the app's repository only"
        return
    assert env_run.outputs["collector_mirror_source"].startswith(
        "public.ecr.aws/aws-observability/aws-otel-collector:v"
    )
    assert repositories[copy]["image_scanning_configuration"] == [{"scan_on_push": True}]
    for resources in pulls:
        assert sorted(resources) == sorted(
            [repositories[f"countq-{env_run.env}"]["arn"], repositories[copy]["arn"]]
        )
    assert sorted(p["role"] for p in xray) == [
        f"countq-{env_run.env}-{s}-task" for s in ("consumer", "producer")
    ]
    for policy in xray:
        (statement,) = json.loads(policy["policy"])["Statement"]
        assert set(statement["Action"]) == XRAY_WRITES and statement["Resource"] == "*"
    assert sorted(p["role"] for p in collector_logs) == [
        f"countq-{env_run.env}-{s}-execution" for s in ("consumer", "producer")
    ]
    for policy in collector_logs:
        (statement,) = json.loads(policy["policy"])["Statement"]
        assert statement["Resource"].endswith("/otel-collector:*")
    assert task_roles, "the roles exist"
