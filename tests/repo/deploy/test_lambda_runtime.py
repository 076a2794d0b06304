"""The replay's Lambda emulation, on its own: its check of what the importer
needs (each missing prerequisite is named, and nothing is once all are there,
through a NAT gateway or through VPC endpoints; the replay relies on it to
fail a deploy order that invokes migrate too early), the process it runs a
handler in (only the zip and the runtime's packages importable, an exception
answered as Lambda's error payload), and its refusal of an invocation the
real CLI could send twice."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.repo.deploy import lambda_runtime
from tests.repo.deploy.stand_ins import client
from tests.repo.infra import harness

REGION = harness.REGION


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = harness.MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server.url
    server.stop()


@pytest.fixture
def aws_env(moto: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    monkeypatch.setenv("AWS_REGION", REGION)


def network(cidr: str) -> dict[str, Any]:
    """A VPC with a public and two private subnets, two security groups and a
    database in the private subnets: nothing routed, nothing opened yet."""
    ec2, rds = client("ec2"), client("rds")
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    base = cidr.rsplit(".", 2)[0]
    zones = [f"{REGION}a", f"{REGION}b"]

    def subnet(third: int, zone: str) -> str:
        made = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base}.{third}.0/24", AvailabilityZone=zone)
        return str(made["Subnet"]["SubnetId"])

    public, private, other = subnet(0, zones[0]), subnet(8, zones[0]), subnet(9, zones[1])

    def group(name: str) -> str:
        made = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)
        return str(made["GroupId"])

    function_sg, db_sg = group(f"fn-{vpc}"), group(f"db-{vpc}")
    rds.create_db_subnet_group(
        DBSubnetGroupName=f"db-{vpc}", DBSubnetGroupDescription="db", SubnetIds=[private, other]
    )
    db = rds.create_db_instance(
        DBInstanceIdentifier=f"db-{vpc}",
        Engine="mysql",
        DBInstanceClass="db.t4g.micro",
        MasterUsername="admin",
        MasterUserPassword="not-used-here",
        AllocatedStorage=20,
        DBSubnetGroupName=f"db-{vpc}",
        VpcSecurityGroupIds=[db_sg],
    )["DBInstance"]
    secret = client("secretsmanager").create_secret(Name=f"app-{vpc}")["ARN"]
    function = {
        "VpcConfig": {"SubnetIds": [private], "SecurityGroupIds": [function_sg]},
        "Environment": {
            "Variables": {
                "MYSQL_HOST": db["Endpoint"]["Address"],
                "MYSQL_PORT": "3306",
                "APP_DB_SECRET_ARN": secret,
            }
        },
    }
    return {
        "vpc": vpc,
        "public": public,
        "private": private,
        "function_sg": function_sg,
        "db_sg": db_sg,
        "secret": secret,
        "function": function,
    }


def open_3306_and_give_the_secret_a_value(net: dict[str, Any]) -> None:
    client("ec2").authorize_security_group_ingress(
        GroupId=net["db_sg"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 3306,
                "ToPort": 3306,
                "UserIdGroupPairs": [{"GroupId": net["function_sg"]}],
            }
        ],
    )
    client("secretsmanager").put_secret_value(SecretId=net["secret"], SecretString='{"a": "b"}')


def private_route_table(net: dict[str, Any]) -> str:
    ec2 = client("ec2")
    table = ec2.create_route_table(VpcId=net["vpc"])["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=net["private"])
    return str(table)


def test_each_missing_prerequisite_is_named(aws_env: None) -> None:
    net = network("10.21.0.0/16")
    problems, instance = lambda_runtime.prerequisites(net["function"], REGION)
    assert instance["DBInstanceIdentifier"] == f"db-{net['vpc']}"
    assert len(problems) == 3, problems
    assert "reaches neither Secrets Manager nor S3" in problems[0]
    assert "no default route through a NAT gateway" in problems[0]
    assert "do not open 3306 to the function" in problems[1]
    assert problems[2].startswith("APP_DB_SECRET_ARN has no current value")


def test_nothing_is_missing_through_a_nat_gateway(aws_env: None) -> None:
    ec2 = client("ec2")
    net = network("10.22.0.0/16")
    open_3306_and_give_the_secret_a_value(net)
    table = private_route_table(net)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=net["vpc"])
    public_table = ec2.create_route_table(VpcId=net["vpc"])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=public_table, SubnetId=net["public"])
    address = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=net["public"], AllocationId=address)
    nat_id = nat["NatGateway"]["NatGatewayId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat_id)
    problems, _ = lambda_runtime.prerequisites(net["function"], REGION)
    assert problems == []


def test_nothing_is_missing_through_vpc_endpoints(aws_env: None) -> None:
    ec2 = client("ec2")
    net = network("10.23.0.0/16")
    open_3306_and_give_the_secret_a_value(net)
    table = private_route_table(net)
    ec2.create_vpc_endpoint(
        VpcId=net["vpc"],
        VpcEndpointType="Interface",
        ServiceName=f"com.amazonaws.{REGION}.secretsmanager",
        SubnetIds=[net["private"]],
        PrivateDnsEnabled=True,
    )
    problems, _ = lambda_runtime.prerequisites(net["function"], REGION)
    assert len(problems) == 1 and "no S3 gateway endpoint" in problems[0], problems
    ec2.create_vpc_endpoint(
        VpcId=net["vpc"],
        VpcEndpointType="Gateway",
        ServiceName=f"com.amazonaws.{REGION}.s3",
        RouteTableIds=[table],
    )
    problems, _ = lambda_runtime.prerequisites(net["function"], REGION)
    assert problems == []


HANDLER = """
import importlib.util, sys

class MaintenanceFailed(RuntimeError):
    pass

def handler(event, context):
    if event.get("fail"):
        raise MaintenanceFailed('{"action": "maintain", "ok": false}')
    print('{"_aws": {}, "emf": "a line for CloudWatch Logs"}')
    found = {m: importlib.util.find_spec(m) is not None for m in event["modules"]}
    return {"found": found, "left": context.get_remaining_time_in_millis()}
"""


@pytest.fixture
def replay_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the emulation keeps the runtime's packages (lambda_runtime.runtime_dir)."""
    (tmp_path / "replay").mkdir()
    monkeypatch.setenv("REPLAY_DIR", str(tmp_path / "replay"))


def run_in_runtime(tmp_path: Path, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    root = tmp_path / "task"
    root.mkdir(exist_ok=True)
    (root / "fn.py").write_text(HANDLER)
    (tmp_path / "event.json").write_text(json.dumps(event))
    command = lambda_runtime.bootstrap_command(root, "fn.handler", tmp_path / "event.json", 30)
    proc = subprocess.run(
        command,
        env={"PATH": "/usr/bin:/bin"},
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    *printed, answer = proc.stdout.splitlines()
    return "\n".join(printed), json.loads(answer)


def test_only_the_zip_and_the_runtimes_packages_are_importable(
    tmp_path: Path, replay_dir: None
) -> None:
    # pytest, httpx and countq are in the test's environment, never in a Lambda's.
    modules = ["fn", "boto3", "botocore", "pytest", "httpx", "countq", "json"]
    printed, result = run_in_runtime(tmp_path, {"modules": modules})
    assert result["found"] == {
        "fn": True,
        "boto3": True,
        "botocore": True,
        "pytest": False,
        "httpx": False,
        "countq": False,
        "json": True,
    }
    assert 0 < result["left"] <= 30_000
    assert printed == '{"_aws": {}, "emf": "a line for CloudWatch Logs"}'


def test_an_exception_is_answered_as_lambdas_error_payload(
    tmp_path: Path, replay_dir: None
) -> None:
    _, result = run_in_runtime(tmp_path, {"fail": True})
    assert result["errorType"] == "MaintenanceFailed"
    assert json.loads(result["errorMessage"]) == {"action": "maintain", "ok": False}
    assert "ok" not in result, "an error payload is no result"


@pytest.mark.parametrize(
    ("read_timeout", "attempts", "refused"),
    [
        ("900", "1", "is not above the function's timeout"),
        (None, "1", "is not above the function's timeout"),
        ("960", None, "AWS_MAX_ATTEMPTS is not 1"),
        ("960", "3", "AWS_MAX_ATTEMPTS is not 1"),
        ("960", "1", None),
    ],
)
def test_an_invocation_the_cli_could_send_twice_is_refused(
    monkeypatch: pytest.MonkeyPatch, read_timeout: str | None, attempts: str | None, refused: str
) -> None:
    args = ["--function-name", "f", "--payload", "{}"]
    if read_timeout:
        args += ["--cli-read-timeout", read_timeout]
    if attempts:
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", attempts)
    else:
        monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    risk = lambda_runtime.resend_risk(args, {"Timeout": 900})
    assert (risk is None) if refused is None else (refused in str(risk)), risk
