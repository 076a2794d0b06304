"""`aws lambda invoke` in the deploy replay: what AWS Lambda would do with
the importer, as far as this machine can show it.

moto stores the function but cannot run it. At the moment deploy.sh invokes
it, this module:

1. checks that everything the function needs exists in moto: from each of
   its subnets a default route through an available NAT gateway (whose own
   subnet routes to an attached internet gateway), or VPC endpoints for
   Secrets Manager and S3; port 3306 open from its security group to the
   database's; a current value for every secret ARN in its environment.
   Where one is missing, the real function could not reach it and would run
   into its timeout, so that is what it answers (and the problems go to
   stderr and to lambda.jsonl);
2. runs the handler named in the function's configuration, from the zip
   whose hash the function holds, in a clean Python process (lambda_bootstrap,
   `python -I -S`: the zip and the runtime's boto3 on the path, nothing of the
   test's environment) with the function's environment, as the Lambda runtime
   does. An invocation the real CLI could send twice (read timeout not above
   the function's, or retries on) is refused first. AWS is moto
   (AWS_ENDPOINT_URL) and the instance's endpoint is answered by the RDS
   stand-in (rds_stand_in.py), a private MariaDB that requires TLS like the
   stack's parameter group, with the master account RDS would have created
   from the master secret;
3. queues the handler's result in moto, whose "simple" Lambda backend then
   returns it to the real `aws lambda invoke` (stand_ins.aws execs it next).
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import ipaddress
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

from tests.repo.deploy.rds_stand_in import RDS_MASTER_PRIVILEGES, root_connection
from tests.repo.deploy.stand_ins import client, option, record, replay_dir
from tests.repo.infra.harness import free_port

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
SECRET_ARN = "arn:aws:secretsmanager:"
# What the python3.11 runtime has besides the function's zip (the zip leaves
# boto3 out for that reason: scripts/build-importer-zip.sh).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


# --- 1. what the function needs ------------------------------------------------------------------


def _route_table(ec2: Any, subnet: dict[str, Any]) -> dict[str, Any]:
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )["RouteTables"]
    if not tables:  # no explicit association: the VPC's main table
        tables = ec2.describe_route_tables(
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "association.main", "Values": ["true"]},
            ]
        )["RouteTables"]
    return dict(tables[0])


def _default_route(table: dict[str, Any], key: str) -> str | None:
    for route in table["Routes"]:
        default = route.get("DestinationCidrBlock") == "0.0.0.0/0"
        if default and route.get(key) and route.get("State", "active") == "active":
            return str(route[key])
    return None


def _through_nat(ec2: Any, subnet: dict[str, Any]) -> str | None:
    """None when the subnet reaches the internet through a working NAT, else why not."""
    nat_id = _default_route(_route_table(ec2, subnet), "NatGatewayId")
    if nat_id is None:
        return "no default route through a NAT gateway"
    (nat,) = ec2.describe_nat_gateways(NatGatewayIds=[nat_id])["NatGateways"]
    if nat["State"] != "available":
        return f"NAT gateway {nat_id} is {nat['State']}"
    (nat_subnet,) = ec2.describe_subnets(SubnetIds=[nat["SubnetId"]])["Subnets"]
    igw_id = _default_route(_route_table(ec2, nat_subnet), "GatewayId")
    if igw_id is None or not igw_id.startswith("igw-"):
        return f"NAT gateway {nat_id} is in a subnet without a route to an internet gateway"
    (igw,) = ec2.describe_internet_gateways(InternetGatewayIds=[igw_id])["InternetGateways"]
    if not any(a["VpcId"] == subnet["VpcId"] for a in igw.get("Attachments", [])):
        return f"internet gateway {igw_id} is not attached to the VPC"
    return None


def _through_endpoints(ec2: Any, subnet: dict[str, Any], region: str) -> str | None:
    """None when Secrets Manager and S3 have VPC endpoints this subnet uses, else why not."""
    endpoints = ec2.describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]}]
    )["VpcEndpoints"]
    by_service = {
        e["ServiceName"]: e
        for e in endpoints
        if e.get("State", "available") in ("available", "Available")
    }
    secrets = by_service.get(f"com.amazonaws.{region}.secretsmanager")
    s3 = by_service.get(f"com.amazonaws.{region}.s3")
    if secrets is None or not secrets.get("PrivateDnsEnabled"):
        return "no Secrets Manager interface endpoint with private DNS"
    zones = {
        s["AvailabilityZone"]
        for s in ec2.describe_subnets(SubnetIds=secrets["SubnetIds"])["Subnets"]
    }
    if subnet["AvailabilityZone"] not in zones:
        return f"no Secrets Manager endpoint in {subnet['AvailabilityZone']}"
    if s3 is None or _route_table(ec2, subnet)["RouteTableId"] not in s3.get("RouteTableIds", []):
        return "no S3 gateway endpoint on the subnet's route table"
    return None


def _group_id(value: str) -> str:
    return value.rsplit("/", 1)[-1]  # moto answers "<account>/sg-..." for referenced groups


def _allows(
    permissions: list[dict[str, Any]], port: int, groups: set[str], cidrs: list[str]
) -> bool:
    """Whether one of these rules lets TCP `port` through for `groups` or every one of `cidrs`."""
    for rule in permissions:
        protocol = rule.get("IpProtocol")
        if protocol not in ("-1", "tcp", "6"):
            continue
        if protocol != "-1" and not rule["FromPort"] <= port <= rule["ToPort"]:
            continue
        if groups & {_group_id(p["GroupId"]) for p in rule.get("UserIdGroupPairs", [])}:
            return True
        ranges = [ipaddress.ip_network(r["CidrIp"]) for r in rule.get("IpRanges", [])]
        if cidrs and all(any(ipaddress.ip_network(c).subnet_of(r) for r in ranges) for c in cidrs):
            return True
    return False


def prerequisites(function: dict[str, Any], region: str) -> tuple[list[str], dict[str, Any]]:
    """What the function could not reach, and the database instance it points at."""
    ec2, rds, secrets = client("ec2"), client("rds"), client("secretsmanager")
    problems: list[str] = []
    env = function["Environment"]["Variables"]
    subnet_ids = function["VpcConfig"]["SubnetIds"]
    groups = set(function["VpcConfig"]["SecurityGroupIds"])
    if not subnet_ids:
        problems.append("the function is not in a VPC, so it cannot reach the private database")
    subnets = ec2.describe_subnets(SubnetIds=subnet_ids)["Subnets"] if subnet_ids else []
    for subnet in subnets:
        nat = _through_nat(ec2, subnet)
        endpoints = _through_endpoints(ec2, subnet, region) if nat else None
        if nat and endpoints:
            problems.append(
                f"subnet {subnet['SubnetId']} reaches neither Secrets Manager nor S3: "
                f"{nat}; {endpoints}"
            )

    instance: dict[str, Any] = {}
    for candidate in rds.describe_db_instances()["DBInstances"]:
        if candidate.get("Endpoint", {}).get("Address") == env.get("MYSQL_HOST"):
            instance = candidate
    if not instance:
        problems.append(f"MYSQL_HOST {env.get('MYSQL_HOST')} is no RDS instance's endpoint")
    else:
        port = int(env.get("MYSQL_PORT", "3306"))
        db_groups = {g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]}
        db_subnets = [s["SubnetIdentifier"] for s in instance["DBSubnetGroup"]["Subnets"]]
        db_cidrs = [s["CidrBlock"] for s in ec2.describe_subnets(SubnetIds=db_subnets)["Subnets"]]
        fn_cidrs = [s["CidrBlock"] for s in subnets]
        db_sgs = ec2.describe_security_groups(GroupIds=sorted(db_groups))["SecurityGroups"]
        fn_sgs = ec2.describe_security_groups(GroupIds=sorted(groups))["SecurityGroups"]
        if not any(_allows(g["IpPermissions"], port, groups, fn_cidrs) for g in db_sgs):
            problems.append(f"the database's security groups do not open {port} to the function")
        if not any(_allows(g["IpPermissionsEgress"], port, db_groups, db_cidrs) for g in fn_sgs):
            problems.append(f"the function's security groups do not let {port} out to the database")
        if instance["DBInstanceStatus"] != "available":
            problems.append(f"the database is {instance['DBInstanceStatus']}")

    for name, value in sorted(env.items()):
        if not value.startswith(SECRET_ARN):
            continue
        try:
            secrets.get_secret_value(SecretId=value)  # AWSCURRENT
        except (
            secrets.exceptions.ResourceNotFoundException,
            secrets.exceptions.InvalidRequestException,
        ) as exc:
            problems.append(f"{name} has no current value: {exc}")
    return problems, instance


# --- 2. the handler, as the runtime runs it -----------------------------------------------------


def task_root(function: dict[str, Any]) -> Path:
    """The zip the function runs, unpacked (as in /var/task), after checking its hash."""
    zip_path = Path(os.environ["REPLAY_REPO"]) / "build" / "importer.zip"
    digest = base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()
    if digest != function["CodeSha256"]:
        raise RuntimeError(f"the function's code is not {zip_path} (CodeSha256 differs)")
    root = replay_dir() / "lambda-task" / hashlib.sha256(digest.encode()).hexdigest()[:16]
    if not root.is_dir():
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(root)
    return root


def runtime_dir() -> Path:
    """The runtime's own packages, alone in one directory (as in the Lambda image),
    linked from this Python's: nothing else of the test's environment is importable."""
    root = replay_dir() / "lambda-runtime"
    if not root.is_dir():
        staging = root.with_name("lambda-runtime.tmp")
        staging.mkdir(parents=True, exist_ok=True)
        for name in RUNTIME_PACKAGES:
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                raise RuntimeError(f"{name}, which the Lambda runtime provides, is not installed")
            origin = Path(spec.origin)
            source = origin.parent if origin.name == "__init__.py" else origin
            (staging / source.name).symlink_to(source)
        staging.rename(root)
    return root


def rds_master_account(master_arn: str, instance: dict[str, Any]) -> None:
    """What RDS creates with the instance: the master account and the initial database."""
    master = json.loads(
        client("secretsmanager").get_secret_value(SecretId=master_arn)["SecretString"]
    )
    conn = root_connection()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s",
                (master["username"], master["password"]),
            )
            cur.execute(
                "ALTER USER %s@'%%' IDENTIFIED BY %s", (master["username"], master["password"])
            )
            cur.execute(
                f"GRANT {RDS_MASTER_PRIVILEGES} ON *.* TO %s@'%%' WITH GRANT OPTION",
                (master["username"],),
            )
            if instance.get("DBName"):
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{instance['DBName']}`")
    finally:
        conn.close()


def bootstrap_command(root: Path, handler: str, event: Path, timeout: float) -> list[str]:
    """The runtime's process: isolated (-I) and without site-packages (-S), so only
    the zip at `root` and the runtime's own packages can be imported."""
    return [
        sys.executable,
        "-I",
        "-S",
        str(BOOTSTRAP),
        str(root),
        handler,
        str(event),
        str(timeout),
        str(runtime_dir()),
    ]


def run_handler(function: dict[str, Any], payload: bytes, region: str) -> dict[str, Any] | Any:
    env = function["Environment"]["Variables"]
    root = task_root(function)
    mysql_port = os.environ["REPLAY_MYSQL_PORT"]
    fault = replay_dir() / "rds-unreachable"
    if fault.exists():  # the test's one-off fault: the database does not answer
        fault.unlink()
        mysql_port = str(free_port())  # nothing listens there
    runtime_env = {
        **env,
        # What the Lambda runtime adds.
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": function["FunctionName"],
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function["MemorySize"]),
        "LAMBDA_TASK_ROOT": str(root),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PATH": "/usr/bin:/bin",
        # This replay's substitutes: AWS is moto; the RDS stand-in answers for
        # the instance's endpoint (MYSQL_TLS stays as configured: it requires TLS).
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
        "MYSQL_HOST": "127.0.0.1",
        "MYSQL_PORT": mysql_port,
        # No other reader here for Secrets Manager's change to reach: a short grace.
        "MYSQL_ROTATION_GRACE_S": "1",
    }
    if ca := env.get("MYSQL_TLS_CA"):
        # The zip is unpacked at `root`, where Lambda would unpack it at /var/task.
        runtime_env["MYSQL_TLS_CA"] = ca.replace("/var/task", str(root), 1)
    event = replay_dir() / "lambda-event.json"
    event.write_bytes(payload)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            bootstrap_command(root, function["Handler"], event, function["Timeout"]),
            env=runtime_env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=function["Timeout"],
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"errorMessage": f"Task timed out after {function['Timeout']:.2f} seconds"}
    finally:
        with (replay_dir() / "lambda.log").open("a") as log:
            log.write(
                f"--- {function['Handler']} {payload!r} ({time.monotonic() - started:.1f}s)\n"
            )
    *printed, answer = proc.stdout.splitlines() or [""]
    with (replay_dir() / "lambda.log").open("a") as log:
        log.write(proc.stderr + "".join(f"{line}\n" for line in printed))
    return json.loads(answer)


# --- 3. the answer -------------------------------------------------------------------------------


def services_now() -> dict[str, str]:
    """The image each ECS service runs at this moment (none before the first release)."""
    ecs = client("ecs")
    images = {}
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        if not arns:
            continue
        for service in ecs.describe_services(cluster=cluster, services=arns)["services"]:
            if service["status"] != "ACTIVE":
                continue
            task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
            images[service["serviceName"]] = next(  # the container named as its service
                c["image"]
                for c in task["taskDefinition"]["containerDefinitions"]
                if c["name"] == service["serviceName"]
            )
    return images


def secret_stages(arn: str) -> list[list[str]]:
    """The labels of each of the secret's versions, oldest first (unlabelled ones left out)."""
    sm = client("secretsmanager")
    versions = sm.list_secret_version_ids(SecretId=arn)["Versions"]
    ordered = sorted(versions, key=lambda v: v["CreatedDate"])
    return [sorted(v["VersionStages"]) for v in ordered if v.get("VersionStages")]


def resend_risk(args: list[str], function: dict[str, Any]) -> str | None:
    """Why the real CLI might run this invocation twice, or None.

    The AWS CLI stops reading after --cli-read-timeout (60 s by default) and
    treats that like a dropped connection: it sends the request again, up to
    AWS_MAX_ATTEMPTS in all (3 in its standard retry mode), while the first run
    goes on in Lambda. A provision must run once, so it waits longer than the
    function may run, with one attempt.
    https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-retries.html"""
    read_timeout = float(option(args, "--cli-read-timeout")) if "--cli-read-timeout" in args else 60
    if read_timeout <= function["Timeout"]:
        return (
            f"--cli-read-timeout {read_timeout:g} is not above the function's timeout "
            f"({function['Timeout']} s): a slow run is abandoned and sent again"
        )
    if os.environ.get("AWS_MAX_ATTEMPTS") != "1":
        return "AWS_MAX_ATTEMPTS is not 1: a dropped connection sends the invocation again"
    return None


def invoke(args: list[str]) -> None:
    region = os.environ["AWS_REGION"]
    name = option(args, "--function-name")
    payload_arg = option(args, "--payload")
    payload = (
        Path(payload_arg.removeprefix("fileb://")).read_bytes()
        if payload_arg.startswith("fileb://")
        else payload_arg.encode()
    )
    try:
        function = client("lambda").get_function_configuration(FunctionName=name)
    except Exception as exc:
        print(f"An error occurred: {exc}", file=sys.stderr)
        sys.exit(254)
    if risk := resend_risk(args, function):
        record("lambda", {"function": name, "refused": risk})
        print(f"aws (replay): lambda invoke refused: {risk}", file=sys.stderr)
        sys.exit(255)
    problems, instance = prerequisites(function, region)
    entry: dict[str, Any] = {
        "function": name,
        "handler": function["Handler"],
        "payload": json.loads(payload),
        "problems": problems,
        "services": services_now(),
    }
    if problems:
        print("lambda (replay): the function cannot reach what it needs:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        result: Any = {"errorMessage": f"Task timed out after {function['Timeout']:.2f} seconds"}
    else:
        rds_master_account(function["Environment"]["Variables"]["DB_SECRET_ARN"], instance)
        app_secret = function["Environment"]["Variables"]["APP_DB_SECRET_ARN"]
        entry["app_secret_stages"] = {"before": secret_stages(app_secret)}
        result = run_handler(function, payload, region)
        entry["app_secret_stages"]["after"] = secret_stages(app_secret)
    entry["result"] = result
    record("lambda", entry)
    httpx.post(
        f"{os.environ['AWS_ENDPOINT_URL']}/moto-api/static/lambda-simple/response",
        json={"results": [json.dumps(result)], "region": region},
        timeout=10,
    ).raise_for_status()
