"""What makes the stack safe to run in production (issue 11, sections 1-3, 6
and 8): alarms that reach someone, a private origin, a rate limit, AWS APIs
inside the VPC, a supported engine.

Two sources of truth. The plan of the real modules, made against moto without
the test-only overrides (moto has no CloudFront VPC origins, so the applied
runs leave those out): it shows exactly what would be created in AWS. And the
state of the environments applied on moto (the session's `env_run`): it shows
what the provider really created, where the plan only knows "after apply".
What only AWS can prove is listed in docs/development/moto.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.repo.infra import harness
from tests.repo.infra.harness import EnvironmentRun

# Terraform plans and an apply against moto: make test-fast leaves it out.
pytestmark = pytest.mark.slow

# One environment with the WAF on and one with it off; prod is also the HA shape.
PLANNED = ("dev", "prod")
# Off everywhere by default: prod's plan is made with it on, as for a
# debugging session (the applied runs show it off, and on in one of them).
PLAN_SWITCHES: dict[str, dict[str, Any]] = {"prod": {"enable_execute_command": True}}
VPC_ORIGIN_GROUP = "CloudFront-VPCOrigins-Service-SG"


@dataclass
class Plan:
    """`terraform show -json` of a saved plan, with the environment's inputs."""

    env: str
    inputs: dict[str, Any]
    json: dict[str, Any]

    def planned(self, rtype: str, module: str = "") -> list[dict[str, Any]]:
        return [
            r
            for r in _resources(self.json["planned_values"]["root_module"])
            if r["type"] == rtype and r["address"].startswith(module)
        ]

    def one(self, address: str) -> dict[str, Any]:
        (found,) = [
            r
            for r in _resources(self.json["planned_values"]["root_module"])
            if r["address"] == address
        ]
        return dict(found)

    def change(self, address: str) -> dict[str, Any]:
        (found,) = [r for r in self.json["resource_changes"] if r["address"] == address]
        return dict(found["change"])

    def module_call(self, name: str) -> dict[str, Any]:
        calls: dict[str, dict[str, Any]] = self.json["configuration"]["root_module"]["module_calls"]
        return calls[name]

    def configured_types(self) -> set[str]:
        """Every resource and data source type in the configuration, all modules."""
        types: set[str] = set()
        modules = [self.json["configuration"]["root_module"]]
        while modules:
            module = modules.pop()
            types |= {r["type"] for r in module.get("resources", [])}
            modules += [call["module"] for call in module.get("module_calls", {}).values()]
        return types

    def config(self, module: str, address: str) -> dict[str, Any]:
        (found,) = [
            r for r in self.module_call(module)["module"]["resources"] if r["address"] == address
        ]
        return dict(found)


def _resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found += _resources(child)
    return found


def _plan_real_modules(env: str, terraform_bin: str, config: Path, zip_path: Path) -> Plan:
    workdir = harness.BUILD / "production" / env
    stack = harness.copy_terraform(workdir / "terraform") / "stack"
    moto = harness.MotoServer(workdir / "moto.log")
    try:
        (stack / "providers.tf").write_text(harness.provider_config(moto.url))
        inputs = harness.environment_inputs(env)
        tfvars = {
            **inputs,
            "environment": env,
            "image_tag": f"{env}-0000000",
            "importer_zip_path": str(zip_path),
            **PLAN_SWITCHES.get(env, {}),
        }
        (stack / "terraform.tfvars.json").write_text(json.dumps(tfvars, indent=2))
        tf = harness.Terraform(terraform_bin, harness.terraform_env(config), workdir / "tf.log")
        tf(stack, "init", "-backend=false", "-no-color")
        tf(stack, "plan", "-no-color", "-out=tfplan")
        return Plan(env, inputs, json.loads(tf(stack, "show", "-json", "tfplan").stdout))
    finally:
        moto.stop()


@pytest.fixture(scope="module")
def real_plans(terraform_bin: str, cli_config: Path) -> Iterator[dict[str, Plan]]:
    zip_path = harness.BUILD / "importer.zip"
    if not zip_path.exists():  # the applied runs build the same file first
        harness.importer_zip(zip_path)
    with ThreadPoolExecutor(max_workers=len(PLANNED)) as pool:
        futures = {
            env: pool.submit(_plan_real_modules, env, terraform_bin, cli_config, zip_path)
            for env in PLANNED
        }
        yield {env: future.result() for env, future in futures.items()}


@pytest.fixture(params=PLANNED)
def plan(request: pytest.FixtureRequest, real_plans: dict[str, Plan]) -> Plan:
    return real_plans[request.param]


# --- Section 2: nothing but CloudFront reaches the API


def test_alb_is_internal_in_private_subnets(plan: Plan) -> None:
    alb = plan.one("module.alb.aws_lb.this")["values"]
    assert alb["internal"] is True
    assert alb["load_balancer_type"] == "application"
    subnets = plan.module_call("alb")["expressions"]["subnet_ids"]["references"]
    assert "module.network.private_subnet_ids" in subnets
    assert not any("public" in ref for ref in subnets)
    listeners = plan.planned("aws_lb_listener")
    assert [(lis["values"]["port"], lis["values"]["protocol"]) for lis in listeners] == [
        (80, "HTTP")
    ], "one listener, reached only through the VPC origin"


def test_alb_accepts_only_the_cloudfront_vpc_origin(plan: Plan) -> None:
    rules = plan.planned("aws_vpc_security_group_ingress_rule", "module.alb.")
    assert [r["address"] for r in rules] == [
        "module.alb.aws_vpc_security_group_ingress_rule.cloudfront"
    ]
    rule = rules[0]["values"]
    assert (rule["from_port"], rule["to_port"], rule["ip_protocol"]) == (80, 80, "tcp")
    assert rule["cidr_ipv4"] is None and rule["cidr_ipv6"] is None
    assert rule["prefix_list_id"] is None
    source = plan.config("alb", "aws_vpc_security_group_ingress_rule.cloudfront")
    assert source["expressions"]["referenced_security_group_id"]["references"][0] == (
        "data.aws_security_group.cloudfront.id"
    )
    # That group is the one CloudFront creates in this VPC, read once the
    # VPC origin exists.
    lookup = plan.change("module.alb.data.aws_security_group.cloudfront")
    filters = {f["name"]: f["values"] for f in lookup["after"]["filter"]}
    assert filters["group-name"] == [VPC_ORIGIN_GROUP]
    assert "vpc-id" in filters
    lookup_config = plan.config("alb", "data.aws_security_group.cloudfront")
    assert lookup_config["depends_on"] == ["aws_cloudfront_vpc_origin.this"]
    vpc_id = next(f for f in lookup_config["expressions"]["filter"] if "vpc-id" in str(f["name"]))
    assert vpc_id["values"]["references"] == ["var.vpc_id"]
    assert plan.module_call("alb")["expressions"]["vpc_id"]["references"][0] == (
        "module.network.vpc_id"
    )


def test_api_paths_go_through_the_vpc_origin(plan: Plan) -> None:
    (origin,) = plan.planned("aws_cloudfront_vpc_origin")
    endpoint = origin["values"]["vpc_origin_endpoint_config"][0]
    assert endpoint["origin_protocol_policy"] == "http-only"
    assert endpoint["http_port"] == 80
    origin_config = plan.config("alb", "aws_cloudfront_vpc_origin.this")
    assert origin_config["expressions"]["vpc_origin_endpoint_config"][0]["arn"]["references"][
        0
    ] == ("aws_lb.this.arn")

    distribution = plan.one("module.frontend.aws_cloudfront_distribution.this")["values"]
    origins = {o["origin_id"]: o for o in distribution["origin"]}
    assert origins["alb"]["vpc_origin_config"], "the API origin is the VPC origin"
    assert not any(o["custom_origin_config"] for o in origins.values()), (
        "no origin is reached over the internet"
    )
    assert plan.module_call("frontend")["expressions"]["alb_vpc_origin_id"]["references"][0] == (
        "module.alb.vpc_origin_id"
    )
    api = {b["path_pattern"]: b["target_origin_id"] for b in distribution["ordered_cache_behavior"]}
    assert all(api[p] == "alb" for p in ("/count", "/health", "/ready", "/stats"))


def test_nothing_is_open_to_the_internet(plan: Plan) -> None:
    """No ingress from any address range but the VPC's own, to the interface
    endpoints (HTTPS only); the tasks get no public address."""
    vpc_cidr = plan.one("module.network.aws_vpc.this")["values"]["cidr_block"]
    for rule in plan.planned("aws_vpc_security_group_ingress_rule"):
        values = rule["values"]
        if rule["address"] == "module.network.aws_vpc_security_group_ingress_rule.endpoints[0]":
            assert values["cidr_ipv4"] == vpc_cidr
            assert (values["ip_protocol"], values["from_port"], values["to_port"]) == (
                "tcp",
                443,
                443,
            )
            continue
        assert values["cidr_ipv4"] is None and values["cidr_ipv6"] is None, rule["address"]
        assert values["prefix_list_id"] is None, rule["address"]
    assert not plan.planned("aws_security_group_rule"), "rules are separate resources"
    for group in plan.planned("aws_security_group"):
        assert not group["values"].get("ingress"), group["address"]
    assert "aws_ec2_managed_prefix_list" not in plan.configured_types(), "no prefix lists are left"
    for service in plan.planned("aws_ecs_service"):
        (network,) = service["values"]["network_configuration"]
        assert network["assign_public_ip"] is False, service["address"]
    # The producer accepts only the ALB's group (modules/ecs-service).
    producer = plan.planned("aws_vpc_security_group_ingress_rule", "module.producer.")
    assert [r["index"] for r in producer] == ["alb"]
    assert not plan.planned("aws_vpc_security_group_ingress_rule", "module.consumer.")


def test_alb_access_logs_expire(plan: Plan) -> None:
    alb = plan.one("module.alb.aws_lb.this")["values"]
    assert alb["access_logs"][0]["enabled"] is True
    bucket = plan.config("alb", "aws_lb.this")["expressions"]["access_logs"][0]["bucket"]
    assert bucket["references"][0] == "aws_s3_bucket.logs.id"
    (lifecycle,) = plan.planned("aws_s3_bucket_lifecycle_configuration", "module.alb.")
    (rule,) = lifecycle["values"]["rule"]
    assert rule["status"] == "Enabled"
    assert rule["expiration"][0]["days"] == plan.inputs["log_retention_days"]
    (block,) = plan.planned("aws_s3_bucket_public_access_block", "module.alb.")
    assert all(block["values"][k] is True for k in ("block_public_acls", "block_public_policy"))


# --- Section 3: a rate limit on the only write endpoint


def test_waf_rate_limits_post_count_per_ip(plan: Plan) -> None:
    acls = plan.planned("aws_wafv2_web_acl")
    distribution = plan.change("module.frontend.aws_cloudfront_distribution.this")
    if not plan.inputs["waf_enabled"]:
        assert plan.env != "prod"
        assert acls == []
        assert distribution["after"]["web_acl_id"] is None
        return
    (acl,) = acls
    values = acl["values"]
    assert values["scope"] == "CLOUDFRONT"
    assert plan.config("waf", "aws_wafv2_web_acl.this")["provider_config_key"] == "aws.us_east_1"
    assert values["default_action"][0]["allow"]
    rules = {r["priority"]: r for r in values["rule"]}
    assert sorted(rules) == [0, 1]

    rate = rules[0]
    (statement,) = rate["statement"][0]["rate_based_statement"]
    assert statement["limit"] == plan.inputs["waf_post_count_limit"]
    assert statement["aggregate_key_type"] == "IP"
    assert statement["evaluation_window_sec"] == 300
    matches = [
        s["byte_match_statement"][0]
        for s in statement["scope_down_statement"][0]["and_statement"][0]["statement"]
    ]
    scope = {
        next(k for k, v in m["field_to_match"][0].items() if v): (
            m["positional_constraint"],
            m["search_string"],
        )
        for m in matches
    }
    assert scope == {"method": ("EXACTLY", "POST"), "uri_path": ("EXACTLY", "/count")}
    (block,) = rate["action"][0]["block"]
    assert block["custom_response"][0]["response_code"] == 429
    assert not rate["action"][0]["allow"] and not rate["action"][0]["count"]

    common = rules[1]["statement"][0]["managed_rule_group_statement"][0]
    assert (common["vendor_name"], common["name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    assert rules[1]["override_action"][0]["none"], "the managed rules block, not just count"

    assert distribution["after_unknown"]["web_acl_id"] is True
    assert plan.module_call("frontend")["expressions"]["web_acl_arn"]["references"] == [
        "module.waf"
    ]


def test_waf_is_on_in_prod() -> None:
    assert harness.environment_inputs("prod")["waf_enabled"] is True
    for env in harness.ENVIRONMENTS:
        assert isinstance(harness.environment_inputs(env)["waf_enabled"], bool), env


# --- Section 6: network and access hygiene


def test_aws_apis_stay_in_the_vpc_in_prod(plan: Plan) -> None:
    """Prod: an interface endpoint per AWS API the services call (ssmmessages
    with ECS Exec), and HTTPS egress only to the VPC and S3's prefix list.
    Elsewhere: no interface endpoint, HTTPS through the NAT gateway."""
    endpoints = {e.get("index"): e["values"] for e in plan.planned("aws_vpc_endpoint")}
    gateway = endpoints.pop(None)
    assert gateway["vpc_endpoint_type"] == "Gateway"
    s3 = plan.config("network", "aws_vpc_endpoint.s3")["expressions"]["route_table_ids"]
    assert "aws_route_table.private" in s3["references"]
    egress = plan.planned("aws_vpc_security_group_egress_rule")
    https = {
        r["values"]["cidr_ipv4"]
        for r in egress
        if r["values"]["from_port"] == 443 and ".alb." not in r["address"]
    }
    if not plan.inputs["interface_endpoints"]:
        assert endpoints == {}
        assert https == {"0.0.0.0/0"}
        return
    exec_on = PLAN_SWITCHES.get(plan.env, {}).get("enable_execute_command", False)
    assert set(endpoints) == {"secretsmanager", "ecr.api", "ecr.dkr", "logs", "monitoring"} | (
        {"ssmmessages"} if exec_on else set()
    ) | ({"xray"} if plan.inputs.get("tracing") else set())
    assert all(
        e["private_dns_enabled"] and e["vpc_endpoint_type"] == "Interface"
        for e in endpoints.values()
    )
    vpc_cidr = plan.one("module.network.aws_vpc.this")["values"]["cidr_block"]
    # None: S3's prefix list, known once the gateway endpoint exists.
    assert https == {vpc_cidr, None}
    prefix_list = [
        r for r in egress if r["values"]["from_port"] == 443 and r["values"]["cidr_ipv4"] is None
    ]
    assert {r["address"].split(".")[1] for r in prefix_list} == {"producer", "consumer", "importer"}
    for rule in prefix_list:
        change = plan.change(rule["address"])
        assert change["after_unknown"]["prefix_list_id"] is True, rule["address"]
    services = plan.planned("aws_ecs_service")
    assert {s["values"]["enable_execute_command"] for s in services} == {exec_on}


def test_no_nat_where_nothing_may_use_it(plan: Plan) -> None:
    """Issue 21: with interface endpoints no security group lets anything out to
    the internet, so there is no NAT gateway, no Elastic IP for one and no
    default route from the private subnets. The internet gateway stays for the
    public subnets (and CloudFront's VPC origins, which require one)."""
    nats = plan.planned("aws_nat_gateway")
    private_tables = plan.planned("aws_route_table", "module.network.aws_route_table.private")
    assert len(private_tables) == plan.inputs["az_count"]
    (igw,) = plan.planned("aws_internet_gateway")
    assert igw
    public = plan.one("module.network.aws_route_table.public")["values"]
    assert [r["cidr_block"] for r in public["route"]] == ["0.0.0.0/0"]
    if plan.inputs["interface_endpoints"]:
        assert nats == [] and plan.planned("aws_eip") == []
        assert [t["values"]["route"] for t in private_tables] == [[]] * len(private_tables)
        return
    assert len(nats) == 1 and len(plan.planned("aws_eip")) == 1
    for table in private_tables:
        (route,) = table["values"]["route"]
        assert route["cidr_block"] == "0.0.0.0/0"
        change = plan.change(table["address"])
        assert change["after_unknown"]["route"][0]["nat_gateway_id"] is True


# --- Section 1: alarms that reach someone


def test_alarm_topic_key_lets_cloudwatch_publish(plan: Plan) -> None:
    key = plan.one("module.monitoring.aws_kms_key.alarms")["values"]
    assert key["enable_key_rotation"] is True
    policy = json.loads(key["policy"])
    cloudwatch = [
        s for s in policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(cloudwatch) == 1 and cloudwatch[0]["Effect"] == "Allow"
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(cloudwatch[0]["Action"])
    # Only this account's alarms may use the key (confused-deputy protection).
    account = json.loads(key["policy"])["Statement"][0]["Principal"]["AWS"].split(":")[4]
    assert cloudwatch[0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{harness.REGION}:{account}:alarm:*"},
    }
    assert any(
        s["Principal"].get("AWS", "").endswith(":root") and s["Action"] == "kms:*"
        for s in policy["Statement"]
    ), "the account keeps control of the key"
    topic = plan.config("monitoring", "aws_sns_topic.alarms")
    assert topic["expressions"]["kms_master_key_id"]["references"][0] == "aws_kms_key.alarms.arn"
    (subscription,) = plan.planned("aws_sns_topic_subscription")
    assert subscription["values"]["protocol"] == "email"
    assert subscription["values"]["endpoint"] == plan.inputs["alarm_email"]


def test_failed_maintenance_is_alarmed(plan: Plan) -> None:
    """Issue 21: a failed maintain raises (Lambda's Errors), and the partition
    horizon the maintain action prints as an embedded metric is alarmed below
    N days, both to the alarm topic."""
    from countq.importer.handler import HORIZON_METRIC

    alarms = {a["values"]["alarm_name"]: a for a in plan.planned("aws_cloudwatch_metric_alarm")}
    function = plan.one("module.importer.aws_lambda_function.this")["values"]
    errors = alarms[f"{function['function_name']}-errors"]["values"]
    assert (errors["namespace"], errors["metric_name"]) == ("AWS/Lambda", "Errors")
    assert errors["dimensions"] == {"FunctionName": function["function_name"]}
    assert (errors["comparison_operator"], errors["threshold"]) == ("GreaterThanThreshold", 0)
    horizon = alarms[f"{function['function_name']}-partition-horizon"]["values"]
    # The metric's contract: what the function is told to print is what the alarm
    # reads (the function's environment is known only after apply: from the config).
    assert horizon["metric_name"] == HORIZON_METRIC
    assert (horizon["namespace"], horizon["dimensions"]) == ("countq", {"Environment": plan.env})
    variables = plan.config("importer", "aws_lambda_function.this")["expressions"]["environment"]
    printed = set(variables[0]["variables"]["references"])
    assert {"var.metrics_namespace", "var.metrics_dimensions.Environment"} <= printed
    read = plan.config("importer", "aws_cloudwatch_metric_alarm.partition_horizon")
    assert read["expressions"]["namespace"]["references"] == ["var.metrics_namespace"]
    assert "var.metrics_dimensions" in read["expressions"]["dimensions"]["references"]
    assert horizon["comparison_operator"] == "LessThanThreshold"
    assert 1 <= horizon["threshold"] < 7  # maintain makes 7 to 8 days ahead
    assert horizon["treat_missing_data"] == "breaching"
    call = plan.module_call("importer")["expressions"]["alarm_topic_arn"]
    assert call["references"][0] == "module.monitoring.topic_arn"


def test_every_environment_names_an_alarm_email() -> None:
    for env in harness.ENVIRONMENTS:
        email = harness.environment_inputs(env).get("alarm_email")
        assert isinstance(email, str) and "@" in email, env


def test_load_balancer_5xx_is_alarmed(plan: Plan) -> None:
    alarms = {
        a["values"]["metric_name"]: a["values"] for a in plan.planned("aws_cloudwatch_metric_alarm")
    }
    for metric in ("HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"):
        alarm = alarms[metric]
        assert alarm["namespace"] == "AWS/ApplicationELB"
        assert alarm["statistic"] == "Sum" and alarm["period"] == 60
        assert alarm["comparison_operator"] == "GreaterThanThreshold"


# --- Section 7: scaling that converges


def _variable(plan: Plan, name: str) -> Any:
    return plan.json["variables"][name]["value"]


def _tracking(policy: dict[str, Any]) -> dict[str, Any]:
    (config,) = policy["values"]["target_tracking_scaling_policy_configuration"]
    return dict(config)


def test_consumer_scales_on_backlog_per_running_task(plan: Plan) -> None:
    """Backlog / RunningTaskCount by metric math: it falls as tasks are added,
    so target tracking settles at backlog / target tasks instead of the maximum."""
    (policy,) = plan.planned("aws_appautoscaling_policy", "module.consumer.")
    assert policy["values"]["policy_type"] == "TargetTrackingScaling"
    config = _tracking(policy)
    assert config["target_value"] == _variable(plan, "consumer_backlog_per_task_target")
    assert not config["predefined_metric_specification"]
    (custom,) = config["customized_metric_specification"]
    assert not custom["metric_name"], "metric math, not the total backlog alone"
    metrics = {m["id"]: m for m in custom["metrics"]}
    assert metrics["per_task"]["expression"] == "backlog / tasks"
    assert [m["id"] for m in custom["metrics"] if m["return_data"]] == ["per_task"]

    def stat(metric_id: str) -> tuple[str, str, dict[str, str]]:
        (metric_stat,) = metrics[metric_id]["metric_stat"]
        (metric,) = metric_stat["metric"]
        dimensions = {d["name"]: d["value"] for d in metric["dimensions"]}
        return metric["namespace"], metric["metric_name"], dimensions

    assert stat("backlog") == ("countq", "Backlog", {"Environment": plan.env})
    cluster = plan.one("module.cluster.aws_ecs_cluster.this")["values"]
    assert stat("tasks") == (
        "ECS/ContainerInsights",
        "RunningTaskCount",
        {"ClusterName": cluster["name"], "ServiceName": "consumer"},
    )
    assert {"name": "containerInsights", "value": "enabled"} in cluster["setting"]
    service = plan.one("module.consumer.aws_ecs_service.this[0]")["values"]
    assert service["name"] == "consumer", "the ServiceName dimension is the service's name"


def test_producer_scales_on_cpu_and_requests_per_target(plan: Plan) -> None:
    policies = {
        p["address"]: _tracking(p)
        for p in plan.planned("aws_appautoscaling_policy", "module.producer.")
    }
    assert set(policies) == {
        "module.producer.aws_appautoscaling_policy.cpu[0]",
        "module.producer.aws_appautoscaling_policy.requests[0]",
    }
    cpu = policies["module.producer.aws_appautoscaling_policy.cpu[0]"]
    assert cpu["predefined_metric_specification"][0]["predefined_metric_type"] == (
        "ECSServiceAverageCPUUtilization"
    )
    assert cpu["target_value"] == _variable(plan, "producer_cpu_target")
    requests = policies["module.producer.aws_appautoscaling_policy.requests[0]"]
    assert requests["predefined_metric_specification"][0]["predefined_metric_type"] == (
        "ALBRequestCountPerTarget"
    )
    assert requests["target_value"] == _variable(plan, "producer_requests_per_task_target")
    # The label is "<alb>/<target group>" of the ALB the producer is registered in.
    label = plan.module_call("producer")["expressions"]["autoscaling"]["references"]
    assert {"module.alb.arn_suffix", "module.alb.target_group_arn_suffix"} <= set(label)


def test_scaling_targets_grow_with_the_task_size() -> None:
    """The defaults are derived for 256-unit tasks (docs/deploying/scaling.md); an
    environment with bigger tasks scales its targets by the same factor."""
    with (harness.TERRAFORM_DIR / "stack" / "variables.tf").open() as f:
        variables = {
            k.strip('"'): v for block in hcl2.load(f)["variable"] for k, v in block.items()
        }
    defaults = {
        name: variables[name]["default"]
        for name in ("producer_requests_per_task_target", "consumer_backlog_per_task_target")
    }
    for env in harness.ENVIRONMENTS:
        inputs = harness.environment_inputs(env)
        for service, target in (
            ("producer", "producer_requests_per_task_target"),
            ("consumer", "consumer_backlog_per_task_target"),
        ):
            factor = inputs[service]["cpu"] / 256
            assert inputs.get(target, defaults[target]) == defaults[target] * factor, (env, target)


# --- Section 8: a supported engine


def test_mysql_84_with_explicit_lifecycle(plan: Plan) -> None:
    db = plan.one("module.rds.aws_db_instance.this")["values"]
    assert db["engine"] == "mysql"
    assert db["engine_version"] == "8.4"
    assert db["engine_lifecycle_support"] == "open-source-rds-extended-support-disabled"
    (group,) = plan.planned("aws_db_parameter_group")
    assert group["values"]["family"] == "mysql8.4"
    assert db["parameter_group_name"] == group["values"]["name"]
    parameters = {p["name"]: p["value"] for p in group["values"]["parameter"]}
    assert parameters["require_secure_transport"] == "1"


# --- The same, as moto holds it after apply (every environment)


def _applied(run: EnvironmentRun, rtype: str) -> list[dict[str, Any]]:
    return [r for r in _resources(run.state["values"]["root_module"]) if r["type"] == rtype]


def _applied_one(run: EnvironmentRun, address: str) -> dict[str, Any]:
    (found,) = [
        r for r in _resources(run.state["values"]["root_module"]) if r["address"] == address
    ]
    return dict(found["values"])


def test_applied_alarms_publish_to_the_encrypted_topic(env_run: EnvironmentRun) -> None:
    assert env_run.error is None, env_run.error
    key = _applied_one(env_run, "module.monitoring.aws_kms_key.alarms")
    topic = _applied_one(env_run, "module.monitoring.aws_sns_topic.alarms")
    assert key["enable_key_rotation"] is True
    assert topic["kms_master_key_id"] == key["arn"]
    alarms = _applied(env_run, "aws_cloudwatch_metric_alarm")
    assert len(alarms) >= 11
    for alarm in alarms:
        assert alarm["values"]["alarm_actions"] == [topic["arn"]], alarm["address"]
        assert alarm["values"]["ok_actions"] == [topic["arn"]], alarm["address"]
    (subscription,) = _applied(env_run, "aws_sns_topic_subscription")
    assert subscription["values"]["topic_arn"] == topic["arn"]
    inputs = harness.environment_inputs(env_run.env)
    assert subscription["values"]["endpoint"] == inputs["alarm_email"]


def test_applied_importer_alarms_exist(env_run: EnvironmentRun) -> None:
    """The importer's two alarms, as moto holds them after apply, on the alarm topic."""
    assert env_run.error is None, env_run.error
    topic = _applied_one(env_run, "module.monitoring.aws_sns_topic.alarms")
    alarms = {
        a["address"].rsplit(".", 1)[-1]: a["values"]
        for a in _applied(env_run, "aws_cloudwatch_metric_alarm")
        if a["address"].startswith("module.importer.")
    }
    assert set(alarms) == {"errors", "partition_horizon[0]"}
    assert alarms["errors"]["metric_name"] == "Errors"
    assert alarms["partition_horizon[0]"]["metric_name"] == "PartitionHorizonDays"
    for alarm in alarms.values():
        assert alarm["alarm_actions"] == [topic["arn"]] and alarm["arn"].startswith("arn:")


def test_applied_dashboard_shows_the_operator_figures(env_run: EnvironmentRun) -> None:
    assert env_run.error is None, env_run.error
    dashboard = _applied_one(env_run, "module.monitoring.aws_cloudwatch_dashboard.this")
    body = json.loads(dashboard["dashboard_body"])
    alb = _applied_one(env_run, "module.alb.aws_lb.this")["arn_suffix"]
    db = _applied_one(env_run, "module.rds.aws_db_instance.this")["identifier"]
    cluster = _applied_one(env_run, "module.cluster.aws_ecs_cluster.this")["name"]
    lines: dict[tuple[str, str, tuple[str, ...]], str] = {}
    for widget in body["widgets"]:
        assert widget["type"] == "metric"
        assert widget["properties"]["region"] == harness.REGION
        for line in widget["properties"]["metrics"]:
            options = line[-1] if isinstance(line[-1], dict) else {}
            names = [x for x in line if not isinstance(x, dict)]
            lines[(names[0], names[1], tuple(names[2:]))] = options.get("stat", "")
    expected: dict[tuple[str, str, tuple[str, ...]], str] = {
        ("AWS/ApplicationELB", "RequestCount", ("LoadBalancer", alb)): "Sum",
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", ("LoadBalancer", alb)): "Sum",
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", ("LoadBalancer", alb)): "Sum",
        ("AWS/ApplicationELB", "TargetResponseTime", ("LoadBalancer", alb)): "p99",
        ("countq", "Backlog", ("Environment", env_run.env)): "Maximum",
        ("countq", "OldestAgeSeconds", ("Environment", env_run.env)): "Maximum",
        ("AWS/RDS", "CPUUtilization", ("DBInstanceIdentifier", db)): "Average",
        ("AWS/RDS", "DatabaseConnections", ("DBInstanceIdentifier", db)): "Maximum",
    }
    for service in ("producer", "consumer"):
        dimensions = ("ClusterName", cluster, "ServiceName", service)
        expected[("ECS/ContainerInsights", "RunningTaskCount", dimensions)] = "Average"
    for metric, stat in expected.items():
        assert lines.get(metric) == stat, f"{metric} missing or not {stat}"
    redis = {k: v for k, v in lines.items() if k[0] == "AWS/ElastiCache"}
    assert {k[1] for k in redis} == {"ElastiCacheProcessingUnits", "BytesUsedForCache"}
    assert all(k[2][0] == "clusterId" and k[2][1] == f"countq-{env_run.env}" for k in redis)


def test_applied_alb_is_internal_with_its_logs(env_run: EnvironmentRun) -> None:
    assert env_run.error is None, env_run.error
    alb = _applied_one(env_run, "module.alb.aws_lb.this")
    private = {
        s["values"]["id"] for s in _applied(env_run, "aws_subnet") if ".private" in s["address"]
    }
    assert alb["internal"] is True
    assert set(alb["subnets"]) == private
    bucket = _applied_one(env_run, "module.alb.aws_s3_bucket.logs")
    assert alb["access_logs"][0] == {
        **alb["access_logs"][0],
        "bucket": bucket["id"],
        "enabled": True,
    }
    policy = json.loads(_applied_one(env_run, "module.alb.aws_s3_bucket_policy.logs")["policy"])
    (writer,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert writer["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert writer["Action"] == "s3:PutObject"
    assert writer["Resource"].startswith(f"{bucket['arn']}/AWSLogs/")


def test_applied_waf_is_on_the_distribution(env_run: EnvironmentRun) -> None:
    assert env_run.error is None, env_run.error
    distribution = _applied_one(env_run, "module.frontend.aws_cloudfront_distribution.this")
    acls = _applied(env_run, "aws_wafv2_web_acl")
    if harness.environment_inputs(env_run.env)["waf_enabled"]:
        (acl,) = acls
        assert distribution["web_acl_id"] == acl["values"]["arn"]
        assert acl["values"]["scope"] == "CLOUDFRONT"
    else:
        assert acls == [] and not distribution["web_acl_id"]


# --- Traces without internet egress (issue 24)

# An image in a private ECR registry (a copy the operator keeps, or a pull-through cache).
PRIVATE_COLLECTOR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/aws-otel-collector:v0.43.3"
NO_EGRESS_REFUSAL = "needs the collector image in the account's ECR"


@pytest.mark.parametrize(
    "switches,refusal",
    [
        ({}, None),  # prod as it is: the stack's own copy
        ({"tracing_collector_mirror": False}, NO_EGRESS_REFUSAL),
        ({"tracing_collector_mirror": False, "tracing_collector_image": PRIVATE_COLLECTOR}, None),
        (
            {"tracing_collector_image": "public.ecr.aws/aws-observability/aws-otel-collector"},
            "must be pinned by a tag",
        ),
    ],
)
def test_prod_traces_only_with_a_collector_it_can_pull(
    terraform_bin: str, cli_config: Path, switches: dict[str, Any], refusal: str | None
) -> None:
    """Prod (interface endpoints, no NAT) with tracing: the plan is refused when
    the sidecar's image would come from outside the account's ECR, or is not
    pinned; accepted with the stack's copy or a private ECR image."""
    label = "-".join(f"{k}={v}" for k, v in switches.items()).replace("/", "_") or "as-is"
    workdir = harness.BUILD / "collector-validation" / label
    stack = harness.copy_terraform(workdir / "terraform") / "stack"
    zip_path = harness.BUILD / "importer.zip"
    if not zip_path.exists():
        harness.importer_zip(zip_path)
    moto = harness.MotoServer(workdir / "moto.log")
    try:
        (stack / "providers.tf").write_text(harness.provider_config(moto.url))
        inputs = harness.environment_inputs("prod")
        assert inputs["tracing"] is True and inputs["interface_endpoints"] is True
        tfvars = {
            **inputs,
            "environment": "prod",
            "image_tag": "prod-0000000",
            "importer_zip_path": str(zip_path),
            **switches,
        }
        (stack / "terraform.tfvars.json").write_text(json.dumps(tfvars, indent=2))
        tf = harness.Terraform(terraform_bin, harness.terraform_env(cli_config), workdir / "tf.log")
        tf(stack, "init", "-backend=false", "-no-color")
        planned = tf(stack, "plan", "-no-color", "-input=false", "-out=tfplan", ok=(0, 1))
    finally:
        moto.stop()
    if refusal:
        assert planned.returncode == 1
        assert refusal in " ".join(planned.stderr.split()), planned.stderr
        return
    assert planned.returncode == 0, planned.stderr
    shown = json.loads(tf(stack, "show", "-json", "tfplan").stdout)
    planned_resources = _resources(shown["planned_values"]["root_module"])
    repositories = {
        r["values"]["name"] for r in planned_resources if r["type"] == "aws_ecr_repository"
    }
    tasks = [r for r in planned_resources if r["type"] == "aws_ecs_task_definition"]
    assert len(tasks) == 2
    # The task definitions are known only after apply (they name the database's
    # address); the applied environments show their images (test_environments).
    if "tracing_collector_image" in switches:
        assert repositories == {"countq-prod"}, "no copy of an image already in ECR"
    else:
        assert repositories == {"countq-prod", "countq-prod/otel-collector"}
