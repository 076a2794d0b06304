"""deploy.sh's last two steps when the stack is wrong: the services never get
stable, or the smoke test never sees its value. The replay's own stand-ins
answer (bin/aws for `ecs wait services-stable`, bin/curl), from a small stack
built in moto: a distribution whose /count path goes to a load balancer,
whose listener forwards to the producer's target group, two ECS services on
an image in ECR. Each test breaks one link in moto, runs deploy.sh to the end,
and reads its message and exit status; a healthy stack first shows that the
same stand-ins pass it.

What comes before those steps (Terraform, the image, the migrations, the
upload) is answered by plain fakes here: the deploy replay runs it for real.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.repo.deploy.stand_ins import MANIFEST
from tests.repo.infra import harness

ROOT = harness.ROOT
STAND_INS = Path(__file__).resolve().parent / "bin"
REGION = harness.REGION
ENV = "test"
TAG = "t1"

# Everything deploy.sh calls before the waiter, answered as a deploy that got
# that far: credentials, the image already in ECR, a provision that succeeded.
FAKE_AWS = """#!/usr/bin/env bash
case "$1 $2" in
  "ecs wait") exec "$STAND_INS/aws" "$@" ;;
  "sts get-caller-identity") echo "arn:aws:iam::123456789012:user/tester" ;;
  "lambda invoke") printf '{"action": "provision", "ok": true}' >"${@: -1}"; echo None ;;
  "cloudfront create-invalidation") echo I2J3K4 ;;
esac
"""
FAKE_TERRAGRUNT = """#!/usr/bin/env bash
if [[ "$*" == "output -json" ]]; then cat "$OUTPUTS_JSON"; fi
"""
FAKE_OK = "#!/bin/sh\nexit 0\n"
DEPLOY_FLAGS = ["--profile", "", "--region", REGION, "--env", ENV, "--yes"]

# A stack built in moto and four deploy.sh runs: minutes (339 s measured here).
pytestmark = pytest.mark.slow


@dataclass
class Stack:
    moto: str
    outputs: dict[str, Any]
    cluster: str
    repository: str

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.moto,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def build_stack(moto: str) -> Stack:
    """The part of the stack the last two steps go through, as Terraform leaves it."""
    stack = Stack(moto, {}, f"countq-{ENV}", f"countq-{ENV}")
    ecr, ecs, ec2, elbv2 = (stack.client(s) for s in ("ecr", "ecs", "ec2", "elbv2"))
    uri = ecr.create_repository(repositoryName=stack.repository)["repository"]["repositoryUri"]
    ecr.put_image(repositoryName=stack.repository, imageTag=TAG, imageManifest=json.dumps(MANIFEST))
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{REGION}{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((0, "a"), (1, "b"))
    ]
    alb = elbv2.create_load_balancer(Name=stack.cluster, Subnets=subnets, Scheme="internal")[
        "LoadBalancers"
    ][0]
    group = elbv2.create_target_group(
        Name=stack.cluster, Protocol="HTTP", Port=5080, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(
        LoadBalancerArn=alb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
    )
    ecs.create_cluster(clusterName=stack.cluster)
    for name in ("producer", "consumer"):
        task = ecs.register_task_definition(
            family=f"{stack.cluster}-{name}",
            containerDefinitions=[{"name": name, "image": f"{uri}:{TAG}", "memory": 512}],
        )["taskDefinition"]["taskDefinitionArn"]
        balancers = [{"targetGroupArn": group, "containerName": name, "containerPort": 5080}]
        ecs.create_service(
            cluster=stack.cluster,
            serviceName=name,
            taskDefinition=task,
            desiredCount=1,
            loadBalancers=balancers if name == "producer" else [],
        )
    bucket = f"{stack.cluster}-frontend"
    stack.client("s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    behavior = {"ViewerProtocolPolicy": "redirect-to-https", "MinTTL": 0}
    forwarded = {"QueryString": False, "Cookies": {"Forward": "none"}}
    distribution = stack.client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": stack.cluster,
            "Comment": "stand-in test",
            "Enabled": True,
            "Origins": {
                "Quantity": 2,
                "Items": [
                    {
                        "Id": "s3",
                        "DomainName": f"{bucket}.s3.{REGION}.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    },
                    {
                        "Id": "alb",
                        "DomainName": alb["DNSName"],
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "http-only",
                        },
                    },
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "s3",
                "ForwardedValues": forwarded,
                **behavior,
            },
            "CacheBehaviors": {
                "Quantity": 1,
                "Items": [
                    {
                        "PathPattern": "/count",
                        "TargetOriginId": "alb",
                        "ForwardedValues": forwarded,
                        **behavior,
                    }
                ],
            },
        }
    )["Distribution"]
    stack.outputs = {
        "image_tag": "",
        "ecr_repository_url": uri,
        "importer_function_name": f"{stack.cluster}-importer",
        "frontend_bucket": bucket,
        "cloudfront_distribution_id": distribution["Id"],
        "cloudfront_url": f"https://{distribution['DomainName']}",
        "ecs_cluster_name": stack.cluster,
        "producer_service_name": "producer",
        "consumer_service_name": "consumer",
    }
    return stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    server = harness.MotoServer(tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield build_stack(server.url)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed scratch copy with what deploy.sh reads (no importer zip is built)."""
    path = tmp_path_factory.mktemp("repo")
    (path / "scripts" / "lib").mkdir(parents=True)
    for name in ("deploy.sh", "lib/common.sh", "image-tag.sh"):
        shutil.copy2(ROOT / "scripts" / name, path / "scripts" / name)
    (path / "scripts" / "build-importer-zip.sh").write_text(FAKE_OK)
    (path / "scripts" / "build-importer-zip.sh").chmod(0o755)
    env_dir = path / "terraform" / "infrastructure" / ENV
    env_dir.mkdir(parents=True)
    shutil.copy2(ROOT / "terraform" / "infrastructure" / ENV / "terragrunt.hcl", env_dir)
    (path / "frontend").mkdir()
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "scratch"], check=True)
    return path


def deploy(stack: Stack, repo: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fakes = {"aws": FAKE_AWS, "terragrunt": FAKE_TERRAGRUNT, "docker": FAKE_OK, "npm": FAKE_OK}
    for name, text in fakes.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (bin_dir / "curl").symlink_to(STAND_INS / "curl")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({k: {"value": v} for k, v in stack.outputs.items()}))
    replay_dir = tmp_path / "replay"
    replay_dir.mkdir()
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "OUTPUTS_JSON": str(outputs),
        "STAND_INS": str(STAND_INS),
        "REPLAY_DIR": str(replay_dir),
        "REPLAY_ROOT": str(ROOT),
        "REPLAY_PYTHON": sys.executable,
        "REPLAY_RUN": tmp_path.name,
        "AWS_ENDPOINT_URL": stack.moto,
        # A failing smoke test tries 30 times; no pause between tries here.
        "SMOKE_TEST_INTERVAL_S": "0",
    }
    return subprocess.run(
        ["bash", str(repo / "scripts" / "deploy.sh"), *DEPLOY_FLAGS],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )


@contextlib.contextmanager
def scaled_to_zero(stack: Stack, service: str) -> Iterator[None]:
    """`service` with no task wanted while the block runs, one again after it
    (as build_stack made it), so the module's later tests find the stack whole."""
    ecs = stack.client("ecs")
    ecs.update_service(cluster=stack.cluster, service=service, desiredCount=0)
    try:
        yield
    finally:
        ecs.update_service(cluster=stack.cluster, service=service, desiredCount=1)


def test_a_healthy_stack_passes_the_waiter_and_the_smoke_test(
    stack: Stack, repo: Path, tmp_path: Path
) -> None:
    proc = deploy(stack, repo, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"countq {ENV} is live: {stack.outputs['cloudfront_url']}" in proc.stdout
    assert '"last_value": ' in proc.stdout.split("Smoke test")[-1]


def test_services_that_never_run_time_the_waiter_out(
    stack: Stack, repo: Path, tmp_path: Path
) -> None:
    """The image is gone from ECR: no task can start, the waiter gives up."""
    ecr = stack.client("ecr")
    ecr.batch_delete_image(repositoryName=stack.repository, imageIds=[{"imageTag": TAG}])
    try:
        proc = deploy(stack, repo, tmp_path)
    finally:
        ecr.put_image(
            repositoryName=stack.repository, imageTag=TAG, imageManifest=json.dumps(MANIFEST)
        )
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Waiter ServicesStable failed: Max attempts exceeded" in proc.stderr
    assert "is not in ECR" in proc.stderr
    assert "deploy.sh: the services were not stable after 10 minutes" in proc.stderr
    assert f"aws ecs describe-services --cluster {stack.cluster} --services producer" in (
        proc.stderr
    )
    assert "run this command again" in proc.stderr
    assert "Smoke test" not in proc.stdout


def test_a_consumer_that_never_runs_fails_the_smoke_test(
    stack: Stack, repo: Path, tmp_path: Path
) -> None:
    """Scaled to 0 the consumer is stable, and nothing stores the POSTed value."""
    with scaled_to_zero(stack, "consumer"):
        proc = deploy(stack, repo, tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "deploy.sh: smoke test: GET /count never showed " in proc.stderr
    (last,) = [line for line in proc.stderr.splitlines() if "never showed" in line]
    assert last.endswith('(last: {"rows": 0, "last_value": null})'), last


def test_no_producer_behind_the_load_balancer_fails_the_post(
    stack: Stack, repo: Path, tmp_path: Path
) -> None:
    with scaled_to_zero(stack, "producer"):
        proc = deploy(stack, repo, tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "curl: (22) The requested URL returned error: 503" in proc.stderr
    assert f"deploy.sh: smoke test: POST {stack.outputs['cloudfront_url']}/count failed" in (
        proc.stderr
    )
