"""The deploy replay: scripts/deploy.sh and scripts/destroy.sh run as an
operator runs them, on a committed copy of this working tree, against a
moto server, with the stand-ins of stand_ins.py on their PATH.

For one environment, in order:

0. deploy.sh into an empty account without --first-deploy (it must stop
   with one line naming the region and the flag, having changed nothing);
1. a first deploy (--first-deploy: the state bucket is bootstrapped) into
   that account whose database cannot be reached when migrate runs (it must
   stop there, with no ECS service created);
2. the same command again, without the flag (it must complete: the resumed
   first deploy);
3. for test (NEXT_COMMIT), a deploy of a new commit that also bumps
   mysql_app_password_version (the services must stay on the old image until
   the new one's migrations ran; the new app password must reach MySQL before
   it becomes the secret's AWSCURRENT);
4. a re-plan with the deployed inputs (must show no change), then
   destroy.sh (moto must hold nothing of what the deploys created).

Everything observed is kept in a Replay for the tests to assert on; the
first unexpected outcome stops the sequence and is kept as `error`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tests.helpers.services import missing, require_tool
from tests.helpers.tls_mariadb import require_mariadbd
from tests.repo.deploy import roles
from tests.repo.deploy.rds_stand_in import MariaDB
from tests.repo.infra import harness

HERE = Path(__file__).resolve().parent
ROOT = harness.ROOT
REPLAYED = ("test", "prod")
# The deploy of a next commit over a running release does not depend on the
# environment's size: replayed once, to keep the replay's time down.
NEXT_COMMIT = ("test",)
REGION = harness.REGION
SCRIPT_TIMEOUT = 1800
# The script runs, by label.
REFUSED = "first deploy without --first-deploy"
FAILED = "first deploy, database unreachable at migrate"
RERUN = "first deploy, run again"
NEXT = "deploy of the next commit"
DESTROY = "destroy"


@dataclass(frozen=True)
class Tools:
    terraform: str
    cli_config: Path
    aws: str


@dataclass
class ScriptRun:
    label: str
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def tail(self) -> str:
        return f"{self.label}: exit {self.returncode}\n{self.stdout[-4000:]}\n{self.stderr[-4000:]}"


@dataclass
class Replay:
    env: str
    workdir: Path
    runs: dict[str, ScriptRun] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    inventories: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    app_user: dict[str, Any] = field(default_factory=dict)
    rotation: dict[str, Any] = field(default_factory=dict)
    frontend_objects: dict[str, str] = field(default_factory=dict)
    # The tags in the tracing collector's ECR copy (countq-<env>/otel-collector), by moment.
    collector_tags: dict[str, list[str]] = field(default_factory=dict)
    invalidations: int = 0
    # Tags on resources the deploy created, as AWS (moto) holds them, by resource.
    resource_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets_after_destroy: list[dict[str, Any]] = field(default_factory=list)
    snapshots_after_destroy: list[str] = field(default_factory=list)
    environment_run: harness.EnvironmentRun | None = None
    # plan.yml's Plan step on the deployed state, as the plan role (tests/repo/cd).
    plan_runs: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def calls(self, tool: str) -> list[dict[str, Any]]:
        """What a stand-in recorded, in order (tool: terragrunt, lambda, docker, curl, ecs-wait)."""
        path = self.workdir / f"{tool}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class ReplayError(AssertionError):
    pass


# --- the pieces ---------------------------------------------------------------------------------


def scratch_repo(dest: Path) -> Path:
    """This working tree (tracked and new files, not ignored ones), committed."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "replay")
    return dest


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=replay", "-c", "user.email=replay@example.com"]
    return subprocess.run(
        ["git", "-C", str(repo), *identity, *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def aws(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _ids(items: list[dict[str, Any]], key: str) -> list[str]:
    return sorted(str(i[key]) for i in items)


def inventory(url: str) -> dict[str, list[str]]:
    """What moto holds, by kind (the deploy's resources plus moto's defaults)."""
    ec2, rds, logs = aws("ec2", url), aws("rds", url), aws("logs", url)
    ecs, sm = aws("ecs", url), aws("secretsmanager", url)
    secrets = sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]
    clusters = ecs.describe_clusters(clusters=ecs.list_clusters()["clusterArns"])["clusters"]
    nat_gateways = ec2.describe_nat_gateways()["NatGateways"]
    return {
        "vpcs": _ids(ec2.describe_vpcs()["Vpcs"], "VpcId"),
        "subnets": _ids(ec2.describe_subnets()["Subnets"], "SubnetId"),
        "internet_gateways": _ids(
            ec2.describe_internet_gateways()["InternetGateways"], "InternetGatewayId"
        ),
        "nat_gateways": _ids([n for n in nat_gateways if n["State"] != "deleted"], "NatGatewayId"),
        "elastic_ips": _ids(ec2.describe_addresses()["Addresses"], "AllocationId"),
        "route_tables": _ids(ec2.describe_route_tables()["RouteTables"], "RouteTableId"),
        "security_groups": _ids(ec2.describe_security_groups()["SecurityGroups"], "GroupId"),
        "buckets": _ids(aws("s3", url).list_buckets()["Buckets"], "Name"),
        "ecr_repositories": _ids(
            aws("ecr", url).describe_repositories()["repositories"], "repositoryName"
        ),
        "lambda_functions": _ids(aws("lambda", url).list_functions()["Functions"], "FunctionName"),
        "db_instances": _ids(rds.describe_db_instances()["DBInstances"], "DBInstanceIdentifier"),
        "db_subnet_groups": _ids(
            rds.describe_db_subnet_groups()["DBSubnetGroups"], "DBSubnetGroupName"
        ),
        "log_groups": _ids(logs.describe_log_groups()["logGroups"], "logGroupName"),
        "secrets": _ids([s for s in secrets if "DeletedDate" not in s], "Name"),
        "ecs_clusters": _ids([c for c in clusters if c["status"] == "ACTIVE"], "clusterName"),
        "load_balancers": _ids(
            aws("elbv2", url).describe_load_balancers()["LoadBalancers"], "LoadBalancerName"
        ),
        "target_groups": _ids(
            aws("elbv2", url).describe_target_groups()["TargetGroups"], "TargetGroupName"
        ),
        "cloudfront_distributions": _ids(
            aws("cloudfront", url).list_distributions()["DistributionList"].get("Items", []), "Id"
        ),
        "iam_roles": _ids(aws("iam", url).list_roles()["Roles"], "RoleName"),
        "alarms": _ids(aws("cloudwatch", url).describe_alarms()["MetricAlarms"], "AlarmName"),
        "sns_topics": _ids(aws("sns", url).list_topics()["Topics"], "TopicArn"),
    }


def services(url: str) -> dict[str, dict[str, Any]]:
    """Each ACTIVE ECS service: its image, task count and load balancers."""
    ecs = aws("ecs", url)
    found: dict[str, dict[str, Any]] = {}
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        for service in (
            ecs.describe_services(cluster=cluster, services=arns)["services"] if arns else []
        ):
            if service["status"] != "ACTIVE":
                continue
            task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
            containers = task["taskDefinition"]["containerDefinitions"]
            found[service["serviceName"]] = {
                # The container named as its service (with tracing, a collector is beside it).
                "image": next(
                    c["image"] for c in containers if c["name"] == service["serviceName"]
                ),
                "sidecars": {
                    c["name"]: c["image"] for c in containers if c["name"] != service["serviceName"]
                },
                "desiredCount": service["desiredCount"],
                "loadBalancers": service.get("loadBalancers", []),
            }
    return found


def collector_tags(url: str, env: str) -> list[str]:
    """The tags in the tracing collector's ECR copy; none without the repository."""
    ecr = aws("ecr", url)
    try:
        images = ecr.list_images(repositoryName=f"countq-{env}/otel-collector")["imageIds"]
    except ecr.exceptions.RepositoryNotFoundException:
        return []
    return sorted(i["imageTag"] for i in images if "imageTag" in i)


# --- one environment ----------------------------------------------------------------------------


class Run:
    """The replay of one environment; each method is one step of the sequence."""

    def __init__(self, env: str, tools: Tools, workdir: Path | None = None) -> None:
        self.env = env
        self.tools = tools
        self.replay = Replay(env, workdir or harness.BUILD / "replay" / env)
        self.credentials: dict[str, str] = {}  # the deploy role's, once assumed

    def __call__(self) -> Replay:
        workdir = self.replay.workdir
        if workdir.exists():
            shutil.rmtree(workdir)
        workdir.mkdir(parents=True)
        try:
            self.repo = scratch_repo(workdir / "repo")
            self.moto = roles.enforcing_moto(workdir)  # IAM enforced: tests/repo/cd/moto_iam.py
            try:
                self.rds = MariaDB(workdir / "rds")
                try:
                    self.steps()
                finally:
                    self.rds.stop()
            finally:
                self.moto.stop()
        except Exception as exc:  # kept for the tests that need this replay
            self.replay.error = f"{type(exc).__name__}: {exc}"
        return self.replay

    def steps(self) -> None:
        replay, url = self.replay, self.moto.url
        # The account as CI finds it: the bootstrap's roles, the deploy role assumed.
        self.roles = roles.apply_bootstrap(
            url, self.tools.terraform, self.tools.cli_config, replay.workdir, self.env
        )
        self.credentials = self.roles.deploy(self.env)
        replay.inventories["before"] = inventory(url)
        replay.tags.append(self.image_tag())

        # Terragrunt >= 0.87 creates no state bucket unless told to.
        self.expect(self.script(REFUSED, "deploy.sh"), 1, "rerun with --first-deploy")
        replay.inventories["refused"] = inventory(url)

        (replay.workdir / "rds-unreachable").touch()
        self.expect(self.script(FAILED, "deploy.sh", "--first-deploy"), 1, "migration failed")
        replay.services["after failed deploy"] = services(url)
        replay.collector_tags["after failed deploy"] = collector_tags(url, self.env)

        self.expect(self.script(RERUN, "deploy.sh"), 0)
        replay.services["after first deploy"] = services(url)
        replay.inventories["deployed"] = inventory(url)
        replay.outputs = json.loads(self.terragrunt("output", "-json"))
        replay.outputs = {k: v["value"] for k, v in replay.outputs.items()}
        self.observe_app_user()
        self.observe_frontend()
        self.observe_tags()
        replay.plan_runs = roles.plan_workflow_runs(
            self.roles, self.repo, self.env, self.environ(), replay.workdir, self.env in NEXT_COMMIT
        )

        if self.env in NEXT_COMMIT:
            # As docs/operations/runbook.md says to rotate the app's MySQL password.
            inputs = self.repo / "terraform" / "infrastructure" / self.env / "terragrunt.hcl"
            text = inputs.read_text()
            assert "mysql_app_password_version = 1\n" in text
            inputs.write_text(
                text.replace("mysql_app_password_version = 1\n", "mysql_app_password_version = 2\n")
            )
            git(self.repo, "commit", "-q", "-am", "next release, new app password")
            replay.tags.append(self.image_tag())
            self.expect(self.script(NEXT, "deploy.sh"), 0)
            replay.services["after next deploy"] = services(url)
            self.observe_rotation()
        replay.environment_run = self.replan()

        allow = ["--allow-prod"] if self.env == "prod" else []
        self.expect(self.script(DESTROY, "destroy.sh", *allow), 0)
        replay.inventories["destroyed"] = inventory(url)
        replay.environment_run.remaining_after_destroy = self.terragrunt("state", "list").split()
        sm = aws("secretsmanager", url)
        replay.secrets_after_destroy = sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]
        replay.snapshots_after_destroy = _ids(
            aws("rds", url).describe_db_snapshots()["DBSnapshots"], "DBSnapshotIdentifier"
        )

    # --- running things

    def environ(self) -> dict[str, str]:
        workdir = self.replay.workdir
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "TF_", "TG_", "REPLAY_"))
            and k not in ("IMAGE_TAG", "PYTHONPATH")
        }
        return {
            **keep,
            "PATH": os.pathsep.join(
                [str(HERE / "bin"), str(Path(sys.executable).parent), keep["PATH"]]
            ),
            "PYTHON": sys.executable,  # build-importer-zip.sh: the interpreter the tests run on
            # build-importer-zip.sh: the stand-in's CA in the zip, where AWS's RDS bundle goes.
            "MYSQL_CA_FILE": str(self.rds.ca.cert),
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            **self.credentials,
            "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "REPLAY_ROOT": str(ROOT),
            "REPLAY_PYTHON": sys.executable,
            "REPLAY_REAL_AWS": self.tools.aws,
            "REPLAY_DIR": str(workdir),
            "REPLAY_REPO": str(self.repo),
            "REPLAY_TERRAFORM": self.tools.terraform,
            "REPLAY_TF_CONFIG": str(self.tools.cli_config),
            "REPLAY_MYSQL_PORT": str(self.rds.port),
            "REPLAY_MYSQL_SOCKET": self.rds.socket,
        }

    def script(self, label: str, name: str, *extra: str) -> ScriptRun:
        args = ["--profile", "", "--region", REGION, "--env", self.env, "--yes", *extra]
        started = time.monotonic()
        proc = subprocess.run(
            ["bash", str(self.repo / "scripts" / name), *args],
            cwd=self.repo,
            env={**self.environ(), "REPLAY_RUN": label},
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            check=False,
        )
        run = ScriptRun(
            label,
            args,
            proc.returncode,
            proc.stdout,
            proc.stderr,
            round(time.monotonic() - started, 1),
        )
        self.replay.runs[label] = run
        self.replay.seconds[label] = run.seconds
        with (self.replay.workdir / "scripts.log").open("a") as log:
            log.write(
                f"=== {label}: scripts/{name} {' '.join(args)}\n{proc.stdout}\n{proc.stderr}\n"
            )
        return run

    def terragrunt(self, *args: str) -> str:
        """The stand-in, as the scripts call it (for the test's own reads)."""
        proc = subprocess.run(
            [str(HERE / "bin" / "terragrunt"), *args],
            cwd=self.repo / "terraform" / "infrastructure" / self.env,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if proc.returncode not in (0, 2) or (proc.returncode == 2 and args[0] != "plan"):
            raise ReplayError(f"terragrunt {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
        return proc.stdout

    def expect(self, run: ScriptRun, returncode: int, message: str = "") -> None:
        if run.returncode != returncode or message not in run.stderr:
            raise ReplayError(
                f"expected exit {returncode}{f' with {message!r}' if message else ''}\n{run.tail()}"
            )

    def image_tag(self) -> str:
        return f"{self.env}-{git(self.repo, 'rev-parse', '--short=12', 'HEAD')}"

    # --- looking at the outcome

    def observe_app_user(self) -> None:
        """The application's own MySQL user, as the services will log in."""
        function = aws("lambda", self.moto.url).get_function_configuration(
            FunctionName=self.replay.outputs["importer_function_name"]
        )
        env = function["Environment"]["Variables"]
        secret = aws("secretsmanager", self.moto.url).get_secret_value(
            SecretId=env["APP_DB_SECRET_ARN"], VersionStage="AWSCURRENT"
        )
        app = json.loads(secret["SecretString"])
        try:
            conn = self.rds.connect(app["username"], app["password"], env["MYSQL_DATABASE"])
            with conn.cursor() as cur:
                cur.execute("SHOW TABLES")
                tables = sorted(r[0] for r in cur.fetchall())
                cur.execute("SHOW GRANTS")
                grants = [r[0] for r in cur.fetchall()]
                cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
                cipher = cur.fetchone()[1]
            conn.close()
            self.replay.app_user = {
                "user": app["username"],
                "tables": tables,
                "grants": grants,
                "tls": cipher,
            }
        except Exception as exc:
            self.replay.app_user = {"user": app["username"], "error": repr(exc)}

    def observe_rotation(self) -> None:
        """Which of the app secret's passwords MySQL takes: AWSCURRENT's, not AWSPREVIOUS's."""
        function = aws("lambda", self.moto.url).get_function_configuration(
            FunctionName=self.replay.outputs["importer_function_name"]
        )
        env = function["Environment"]["Variables"]
        sm = aws("secretsmanager", self.moto.url)
        for stage in ("AWSCURRENT", "AWSPREVIOUS"):
            secret = sm.get_secret_value(SecretId=env["APP_DB_SECRET_ARN"], VersionStage=stage)
            app = json.loads(secret["SecretString"])
            try:
                self.rds.connect(app["username"], app["password"], env["MYSQL_DATABASE"]).close()
                self.replay.rotation[stage] = "accepted"
            except Exception as exc:
                self.replay.rotation[stage] = repr(exc)

    def observe_tags(self) -> None:
        """The tags AWS holds on the stack's VPC and load balancer: root.hcl's
        provider default_tags (the deploy role's policies condition creates on them)."""
        ec2, elbv2 = aws("ec2", self.moto.url), aws("elbv2", self.moto.url)
        for vpc in ec2.describe_vpcs()["Vpcs"]:
            if not vpc["IsDefault"]:
                tags = vpc.get("Tags", [])
                self.replay.resource_tags[vpc["VpcId"]] = {t["Key"]: t["Value"] for t in tags}
        arns = [lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]]
        for found in elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"] if arns else []:
            self.replay.resource_tags[found["ResourceArn"]] = {
                t["Key"]: t["Value"] for t in found["Tags"]
            }

    def observe_frontend(self) -> None:
        s3 = aws("s3", self.moto.url)
        bucket = self.replay.outputs["frontend_bucket"]
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            head = s3.head_object(Bucket=bucket, Key=item["Key"])
            self.replay.frontend_objects[item["Key"]] = head.get("CacheControl", "")
        cloudfront = aws("cloudfront", self.moto.url)
        listed = cloudfront.list_invalidations(
            DistributionId=self.replay.outputs["cloudfront_distribution_id"]
        )["InvalidationList"]
        self.replay.invalidations = int(listed.get("Quantity", 0))

    def replan(self) -> harness.EnvironmentRun:
        """The deployed stack planned again with the release's inputs, and its state."""
        run = harness.EnvironmentRun(self.env)
        tag = self.replay.tags[-1]
        started = time.monotonic()
        output = self.terragrunt(
            "plan",
            "-detailed-exitcode",
            "-input=false",
            "-out=tfreplan",
            "-var",
            f"image_tag={tag}",
        )
        run.seconds["replan"] = round(time.monotonic() - started, 1)
        run.replan_output = output
        run.plan = json.loads(self.terragrunt("show", "-json", "tfreplan"))
        run.replan_changes = [
            f"{rc['address']}: {rc['change']['actions']}"
            for rc in run.plan.get("resource_changes", [])
            if rc["change"]["actions"] not in (["no-op"], ["read"])
        ]
        run.state = json.loads(self.terragrunt("show", "-json"))
        run.outputs = dict(self.replay.outputs)
        run.secret_values = self.moto.secret_values()
        run.seconds.update(self.replay.seconds)
        return run


# --- scheduling: every environment's run at once, each on its own moto server -----------------
# Most of their time is spent in AWS waiters and subprocesses, so threads overlap them well.

# One more worker than environments: the upgrade replay (upgrade.py) runs beside them.
_pool = ThreadPoolExecutor(max_workers=len(harness.ENVIRONMENTS) + 1, thread_name_prefix="infra")
_futures: dict[str, Future[Any]] = {}
_lock = threading.Lock()
_zip_lock = threading.Lock()
_zip_built = False


def tools() -> Tools:
    """The real tools the replay and the pipelines run (a missing one skips, or fails in CI)."""
    for name in ("git", "npm", "bash", "mariadb-install-db", "openssl"):
        require_tool(name)
    require_mariadbd()  # the RDS stand-in's (tests/helpers/tls_mariadb.py)
    return Tools(
        terraform=require_tool("terraform"),
        cli_config=harness.cli_config(),
        aws=real_aws_cli(),
    )


def real_aws_cli() -> str:
    """The AWS CLI from PyPI in the tests' own environment (awscli, a dev extra)."""
    path = Path(sys.executable).parent / "aws"
    if not path.is_file():
        missing("awscli is not installed beside the tests (make venv installs the dev extras)")
    return str(path)


def _once(key: str, work: Callable[[], Any]) -> Future[Any]:
    with _lock:
        if key not in _futures:
            _futures[key] = _pool.submit(work)
        return _futures[key]


def replay(env: str, tools: Tools) -> Future[Replay]:
    """The replay of `env` (test or prod), started on its first request."""
    return _once(f"replay:{env}", Run(env, tools))


def _pipeline(env: str, tools: Tools) -> harness.EnvironmentRun:
    global _zip_built
    zip_path = harness.BUILD / "importer.zip"
    with _zip_lock:  # built once a session, by the first pipeline to get here
        if not _zip_built:
            harness.importer_zip(zip_path)
            _zip_built = True
    return harness.run_environment(env, tools.terraform, tools.cli_config, zip_path)


def start_environment(env: str, tools: Tools) -> Future[Any]:
    """Plan, apply, re-plan and destroy of `env` on moto: its deploy replay for test
    and prod, the plain Terraform pipeline for the others (see environment_run)."""
    if env in REPLAYED:
        return replay(env, tools)
    return _once(f"pipeline:{env}", lambda: _pipeline(env, tools))


def environment_run(env: str, tools: Tools) -> harness.EnvironmentRun:
    done = start_environment(env, tools).result()
    if not isinstance(done, Replay):
        return done
    if done.environment_run is None:
        return harness.EnvironmentRun(env, error=done.error)
    done.environment_run.error = done.error
    return done.environment_run
