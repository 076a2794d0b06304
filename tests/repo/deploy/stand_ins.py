"""What the deploy replay puts on scripts/deploy.sh's and destroy.sh's PATH
in place of a tool (bin/ holds the launchers). Everything else they call is
real: the AWS CLI (against moto), Terraform, git, npm, bash.

The test's own tool:

- ``terragrunt``: Terragrunt is not installed here. terragrunt_stand_in.py
  models the pinned version (1.1.6) with root.hcl: its version constraint,
  remote_state's bucket (refused when missing unless bootstrapped, and made
  by ``backend bootstrap`` as documented), its generated provider (with moto
  endpoints in an override file), inputs, and the Terraform shortcuts; its
  docstring cites the release notes and docs for each.

Stubs, for AWS's data plane, which moto does not have:

- ``docker``: no image is built, pulled or pushed (nothing can be pulled
  here, and moto's ECR stores no layers). It keeps the names the local image
  store would have and fails where docker would. ``build --tag`` and ``pull``
  add a name; public.ecr.aws answers pulls without a login (AWS's "Pulling an
  image from the Amazon ECR Public Gallery": unauthenticated pulls), and a
  name without a tag means ``:latest`` (docker pull's reference). ``tag
  SOURCE TARGET`` adds TARGET for an image that exists, else "Error response
  from daemon: No such image" (docker tag: "Create a tag TARGET_IMAGE that
  refers to SOURCE_IMAGE"). ``push`` needs the name in the store ("An image
  does not exist locally with the tag", moby/moby#21740) and a login to the
  registry, then records in moto's ECR the image manifest AWS would hold
  after a real push, so describe-images, the services' image and
  destroy.sh's emptying of the repositories are real calls.
- ``aws ecs wait services-stable``: moto starts no task. The stand-in applies
  the CLI waiter's own acceptors (botocore's ecs waiters-2.json,
  ServicesStable: one deployment, running == desired; MISSING, DRAINING or
  INACTIVE fail at once) to moto's services, taking as running what ECS
  could start: the desired count when the service is ACTIVE and its images
  from the account's ECR are there (the collector's too), else none. After
  the waiter's 40 polls it fails with the CLI's message and exit status 255
  ("Max attempts exceeded").
- ``curl`` (the smoke test through CloudFront): moto serves no distribution.
  The stand-in follows the request through moto's state as CloudFront and
  the ALB would (the distribution of that domain, the path's origin, the
  load balancer of that domain, its listener's target group, a runnable
  service registered in it) and fails as ``curl --fail`` does where the chain
  breaks (exit 6 for an unknown host, 22 with the HTTP status). A POSTed
  value shows in GET /count once the cluster's consumer service could run.

An emulation, where moto has the API but cannot run the code:

- ``aws lambda invoke``: lambda_runtime.py checks that the function could
  reach what it needs, runs the handler from the function's zip, and queues
  its result in moto, which the real CLI then receives.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3

from tests.repo.deploy import terragrunt_stand_in


def replay_dir() -> Path:
    return Path(os.environ["REPLAY_DIR"])


def record(tool: str, entry: dict[str, Any]) -> None:
    """One JSON line per call, with the script run it belongs to, read back by the tests."""
    with (replay_dir() / f"{tool}.jsonl").open("a") as f:
        f.write(json.dumps({"run": os.environ.get("REPLAY_RUN"), **entry}) + "\n")


def client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# --- docker ----------------------------------------------------------------------------------

# What a pushed single-platform image looks like to ECR; the stub pushes no layers.
MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 0,
        "digest": "sha256:" + "0" * 64,
    },
    "layers": [],
}


PUBLIC_REGISTRY = "public.ecr.aws"


def reference(name: str) -> str:
    """The name as the image store keeps it: a name without tag or digest is :latest."""
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last or "@" in last else f"{name}:latest"


def docker(args: list[str]) -> int:
    state = replay_dir() / "docker.json"
    seen = {"logins": [], "images": [], **(json.loads(state.read_text()) if state.exists() else {})}
    # The recorded release's stand-in (the upgrade replay's first deploy) kept
    # its images as "built": one image store, as docker's own would be.
    seen["images"] += seen.pop("built", [])
    record("docker", {"args": args})
    command = args[0] if args else ""
    operands = [a for a in args[1:] if not a.startswith("-")]
    if command == "info":
        return 0
    if command == "login":
        password = sys.stdin.read().strip()
        if "--password-stdin" not in args or not password or args[-1].startswith("-"):
            print("docker (stub): login needs --password-stdin and a registry", file=sys.stderr)
            return 1
        seen["logins"].append(args[-1])
        print("Login Succeeded")
    elif command == "build":
        seen["images"].append(reference(args[args.index("--tag") + 1]))
    elif command == "pull":
        # --platform takes a value: the image is the last operand.
        image = reference(args[-1])
        if image.split("/", 1)[0] != PUBLIC_REGISTRY:
            print(f"docker (stub): the replay pulls only from {PUBLIC_REGISTRY}", file=sys.stderr)
            return 97
        seen["images"].append(image)
        print(f"Status: Downloaded newer image for {image} (stub: no layers)")
    elif command == "tag":
        source, target = (reference(name) for name in operands)
        if source not in seen["images"]:
            print(f"Error response from daemon: No such image: {source}", file=sys.stderr)
            return 1
        seen["images"].append(target)
    elif command == "push":
        (image,) = (reference(name) for name in operands)
        registry, _, repository_tag = image.partition("/")
        repository, _, tag = repository_tag.rpartition(":")
        if image not in seen["images"]:
            print(f"An image does not exist locally with the tag: {image}", file=sys.stderr)
            return 1
        if registry not in seen["logins"]:
            print(
                f"docker (stub): push to {registry} without a login (no basic auth credentials)",
                file=sys.stderr,
            )
            return 1
        client("ecr").put_image(
            repositoryName=repository, imageTag=tag, imageManifest=json.dumps(MANIFEST)
        )
        print(f"{tag}: digest: sha256:... (stub: manifest recorded in ECR, no layers)")
    else:
        print(f"docker (stub): {command} is not a call deploy.sh makes", file=sys.stderr)
        return 97
    state.write_text(json.dumps(seen))
    return 0


# --- curl: the smoke test through CloudFront, answered from moto's state -------------------------


class HttpError(Exception):
    """What curl --fail reports for a request the stack cannot answer."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def service_image(task: dict[str, Any], name: str) -> str:
    """The image of the container named as its service (with tracing, a collector
    sidecar is beside it)."""
    defs = task["taskDefinition"]["containerDefinitions"]
    return str(next(c["image"] for c in defs if c["name"] == name))


def runnable(service: dict[str, Any] | None, name: str) -> str | None:
    """Why ECS would run no task of `service`, or None: what moto cannot show
    (it starts none), judged from what a task needs to start."""
    if service is None or service["status"] != "ACTIVE":
        return f"{name}: no ACTIVE service"
    if service["desiredCount"] < 1:
        return f"{name}: desiredCount {service['desiredCount']}"
    task = client("ecs").describe_task_definition(taskDefinition=service["taskDefinition"])
    ecr = client("ecr")
    # A task starts once every container's image is pulled, essential or not
    # (the tracing collector too): each one from the account's ECR must be there.
    for container in task["taskDefinition"]["containerDefinitions"]:
        image = container["image"]
        registry, _, repository_tag = image.partition("/")
        if ".dkr.ecr." not in registry:
            continue
        repository, _, tag = repository_tag.rpartition(":")
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except (ecr.exceptions.ImageNotFoundException, ecr.exceptions.RepositoryNotFoundException):
            return f"{name}: image {image} is not in ECR (CannotPullContainerError)"
    return None


def _service(cluster: str, name: str) -> dict[str, Any] | None:
    found = client("ecs").describe_services(cluster=cluster, services=[name])["services"]
    return found[0] if found else None


def api_services(url: str) -> tuple[str, dict[str, Any]]:
    """The cluster and producer service a request to `url` reaches, following moto's
    state as CloudFront and the ALB would: the distribution with that domain, the
    path's origin, the load balancer of that domain, its listener's target group,
    the service registered in it. HttpError where the chain breaks."""
    parsed = urlparse(url)
    distributions = client("cloudfront").list_distributions()["DistributionList"].get("Items", [])
    distribution = next((d for d in distributions if d["DomainName"] == parsed.hostname), None)
    if distribution is None:
        raise HttpError(6, f"Could not resolve host: {parsed.hostname}")
    if not distribution["Enabled"]:
        raise HttpError(22, "The requested URL returned error: 403")
    behaviors = distribution.get("CacheBehaviors", {}).get("Items", [])
    behavior = next(
        (b for b in behaviors if fnmatch.fnmatchcase(parsed.path, b["PathPattern"])),
        distribution["DefaultCacheBehavior"],
    )
    origins = {o["Id"]: o for o in distribution["Origins"]["Items"]}
    domain = origins[behavior["TargetOriginId"]]["DomainName"]
    elbv2 = client("elbv2")
    balancers = [b for b in elbv2.describe_load_balancers()["LoadBalancers"]]
    balancer = next((b for b in balancers if b["DNSName"] == domain), None)
    if balancer is None:  # the path goes to the bucket, or to a load balancer that is gone
        raise HttpError(22, f"The requested URL returned error: {404 if 's3' in domain else 502}")
    groups = {
        action.get("TargetGroupArn")
        for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "Listeners"
        ]
        for action in listener["DefaultActions"]
        if action["Type"] == "forward"
    }
    ecs = client("ecs")
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        for service in (
            ecs.describe_services(cluster=cluster, services=arns)["services"] if arns else []
        ):
            registered = {lb["targetGroupArn"] for lb in service.get("loadBalancers", [])}
            if groups & registered and runnable(service, service["serviceName"]) is None:
                return cluster, service
    raise HttpError(22, "The requested URL returned error: 503")  # no healthy target


def curl(args: list[str]) -> int:
    """POST /count queues the value if a producer would answer; GET /count shows it
    as stored once a consumer would run (the consumer service of the producer's
    cluster); otherwise the error curl --fail prints, with its exit code."""
    url = next(a for a in args if a.startswith(("http://", "https://")))
    post = "-X" in args and args[args.index("-X") + 1] == "POST"
    record("curl", {"args": args, "url": url, "method": "POST" if post else "GET"})
    state_file = replay_dir() / "smoke.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    try:
        cluster, _ = api_services(url)
        consumer_down = runnable(_service(cluster, "consumer"), "consumer")
        if "queued" in state and consumer_down is None:
            state["stored"] = state.pop("queued")
        if post:
            count = json.loads(args[args.index("--data") + 1]).get("count")
            if not isinstance(count, int) or isinstance(count, bool):
                raise HttpError(22, "The requested URL returned error: 422")
            state["queued"] = count
            answer: dict[str, Any] = {"id": "stand-in", "status": "queued"}
        else:
            answer = {"rows": 1 if "stored" in state else 0, "last_value": state.get("stored")}
    except HttpError as failed:
        print(f"curl: ({failed.exit_code}) {failed}", file=sys.stderr)
        return failed.exit_code
    finally:
        state_file.write_text(json.dumps(state))
    print(json.dumps(answer))
    return 0


# --- aws: the two calls moto cannot answer as AWS would ----------------------------------------


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


# The CLI's waiter (botocore's ecs waiters-2.json, ServicesStable): every 15 s,
# 40 times; stable when each service has one deployment and runs its desired
# count, a failure at once when one is MISSING, DRAINING or INACTIVE.
WAITER_ATTEMPTS = 40


def wait_services_stable(args: list[str]) -> int:
    """The waiter's acceptors on moto's services, with the running count ECS
    would reach (moto starts no task: `runnable` judges whether they could
    start). Polls without the 15 s pause: nothing changes in moto meanwhile."""
    cluster = option(args, "--cluster")
    names = args[args.index("--services") + 1 :]
    ecs = client("ecs")
    problems: list[str] = []
    seen: dict[str, Any] = {}
    for _ in range(int(os.environ.get("REPLAY_WAITER_ATTEMPTS", WAITER_ATTEMPTS))):
        answer = ecs.describe_services(cluster=cluster, services=names)
        if answer["failures"] or any(s["status"] != "ACTIVE" for s in answer["services"]):
            reasons = [f["reason"] for f in answer["failures"]] or ["INACTIVE"]
            record("ecs-wait", {"cluster": cluster, "services": seen, "problems": reasons})
            print(
                "\nWaiter ServicesStable failed: Waiter encountered a terminal failure state: "
                f'For expression "failures[].reason" we matched expected path: "{reasons[0]}"',
                file=sys.stderr,
            )
            return 255
        problems = []
        for service in answer["services"]:
            name = service["serviceName"]
            task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
            image = service_image(task, name)
            seen[name] = {"image": image, "desiredCount": service["desiredCount"]}
            why = runnable(service, name)
            running = 0 if why else service["desiredCount"]
            if why and service["desiredCount"] >= 1:
                problems.append(why)
            elif len(service["deployments"]) != 1:
                problems.append(f"{name}: {len(service['deployments'])} deployments")
            elif running != service["desiredCount"]:
                problems.append(f"{name}: {running} of {service['desiredCount']} running")
        if not problems:
            break
    record("ecs-wait", {"cluster": cluster, "services": seen, "problems": problems})
    if problems:
        print("\nWaiter ServicesStable failed: Max attempts exceeded", file=sys.stderr)
        print("(stand-in: " + "; ".join(problems) + ")", file=sys.stderr)
        return 255
    return 0


def aws(args: list[str]) -> int:
    if args[:2] == ["ecs", "wait"] and args[2:3] == ["services-stable"]:
        return wait_services_stable(args[3:])
    if args[:2] == ["lambda", "invoke"]:
        from tests.repo.deploy import lambda_runtime

        lambda_runtime.invoke(args[2:])
        # Then the real CLI makes the call, and moto answers with that result.
        os.execv(os.environ["REPLAY_REAL_AWS"], ["aws", *args])  # noqa: S606
    print(f"aws (stand-in): {' '.join(args[:3])} is the real CLI's", file=sys.stderr)
    return 97


TOOLS = {"terragrunt": terragrunt_stand_in.main, "docker": docker, "curl": curl, "aws": aws}

if __name__ == "__main__":
    sys.exit(TOOLS[sys.argv[1]](sys.argv[2:]))
