"""What the deploy replay puts on scripts/deploy.sh's and destroy.sh's PATH
in place of a tool (bin/ holds the launchers). Everything else they call is
real: the AWS CLI (against moto), Terraform, git, npm, bash.

The test's own tool:

- ``terragrunt``: Terragrunt is not installed here. The stand-in does what it
  would with terraform/infrastructure/root.hcl: copies terraform/ once per
  environment (its .terragrunt-cache), generates the providers (pointed at
  moto) and the backend (a local state file instead of the S3 bucket), passes
  root.hcl's and the environment's ``inputs`` as TF_VAR_*, and runs the
  Terraform shortcut it was given with every flag (-target, -var, ...) as is.

Stubs, for AWS's data plane, which moto does not have:

- ``docker``: no image is built or pushed (nothing can be pulled here, and
  moto's ECR stores no layers). ``push`` records in moto's ECR the image
  manifest AWS would hold after a real push, so describe-images, the
  services' image and destroy.sh's emptying of the repository are real calls.
- ``aws ecs wait services-stable``: moto starts no task, so the real waiter
  would poll until its timeout. The stub checks what AWS would run: each
  service ACTIVE, with the wanted task count, on an image that is in ECR.
- ``curl`` (the smoke test through CloudFront): moto serves no distribution.
  The stub answers as the API would once the consumer stored the value.

An emulation, where moto has the API but cannot run the code:

- ``aws lambda invoke``: lambda_runtime.py checks that the function could
  reach what it needs, runs the handler from the function's zip, and queues
  its result in moto, which the real CLI then receives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from tests.repo.infra import harness

# Terragrunt's OpenTofu/Terraform shortcuts (terragrunt.gruntwork.io, "OpenTofu Shortcuts").
SHORTCUTS = frozenset(
    {
        "apply",
        "destroy",
        "force-unlock",
        "import",
        "init",
        "output",
        "plan",
        "refresh",
        "show",
        "state",
        "test",
        "validate",
    }
)
CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# The inputs root.hcl sets for every environment, besides its own folder's.
ROOT_INPUTS = ("environment", "importer_zip_path")


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


# --- terragrunt ------------------------------------------------------------------------------


def terragrunt_inputs(env: str, repo: Path) -> dict[str, Any]:
    """root.hcl's inputs, then the environment's (which win), then the moto switches."""
    return {
        "environment": env,
        "importer_zip_path": str(repo / "build" / "importer.zip"),
        **harness.environment_inputs(env, repo / "terraform"),
        **harness.TEST_ONLY_INPUTS,
    }


def terragrunt(args: list[str]) -> int:
    if not args or args[0] not in SHORTCUTS:
        print(f"terragrunt (stand-in): {args[:1]} is not a Terraform shortcut", file=sys.stderr)
        return 1
    env_dir = Path.cwd()
    if not (env_dir / "terragrunt.hcl").is_file():
        print(f"terragrunt (stand-in): no terragrunt.hcl in {env_dir}", file=sys.stderr)
        return 1
    repo = Path(
        subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    env = env_dir.name
    cache = replay_dir() / "terragrunt-cache"
    stack = cache / "terraform" / "stack"
    tf_env = harness.terraform_env(Path(os.environ["REPLAY_TF_CONFIG"]))
    # Terragrunt passes its environment on: Terraform runs with the caller's credentials.
    tf_env.update({k: v for k, v in os.environ.items() if k in CREDENTIAL_VARS})
    # Plain logs; nothing else differs from what the scripts asked for.
    for command in ("apply", "destroy", "plan", "init"):
        tf_env[f"TF_CLI_ARGS_{command}"] = "-no-color"
    for name, value in terragrunt_inputs(env, repo).items():
        tf_env[f"TF_VAR_{name}"] = value if isinstance(value, str) else json.dumps(value)
    tf = harness.Terraform(os.environ["REPLAY_TERRAFORM"], tf_env, replay_dir() / "terraform.log")
    started = time.monotonic()
    if not (stack / ".terraform").is_dir():
        harness.copy_terraform(cache / "terraform", repo / "terraform")
        harness.add_moto_overrides(cache / "terraform")
        (stack / "provider.tf").write_text(
            harness.provider_config(
                os.environ["AWS_ENDPOINT_URL"], os.environ["AWS_REGION"], static_keys=False
            )
        )
        state = replay_dir() / "terraform.tfstate"
        (stack / "backend.tf").write_text(
            f'terraform {{\n  backend "local" {{\n    path = "{state}"\n  }}\n}}\n'
        )
        init = tf.run(stack, "init", "-input=false")
        if init.returncode:
            sys.stderr.write(init.stdout + init.stderr)
            return init.returncode
    proc = tf.run(stack, *args)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    record(
        "terragrunt",
        {
            "args": args,
            "env": env,
            "returncode": proc.returncode,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    return proc.returncode


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


def docker(args: list[str]) -> int:
    state = replay_dir() / "docker.json"
    seen = json.loads(state.read_text()) if state.exists() else {"logins": [], "built": []}
    record("docker", {"args": args})
    command = args[0] if args else ""
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
        seen["built"].append(args[args.index("--tag") + 1])
    elif command == "push":
        image = args[1]
        registry, _, repository_tag = image.partition("/")
        repository, _, tag = repository_tag.rpartition(":")
        if image not in seen["built"] or registry not in seen["logins"]:
            print(f"docker (stub): push of {image} before its build or login", file=sys.stderr)
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


# --- curl ------------------------------------------------------------------------------------


def curl(args: list[str]) -> int:
    url = next(a for a in args if a.startswith(("http://", "https://")))
    post = "-X" in args and args[args.index("-X") + 1] == "POST"
    record("curl", {"args": args, "url": url, "method": "POST" if post else "GET"})
    stored = replay_dir() / "smoke.json"
    if post:
        count = json.loads(args[args.index("--data") + 1])["count"]
        stored.write_text(json.dumps({"count": count}))
        print(json.dumps({"id": "stub", "status": "queued"}))
    else:
        last = json.loads(stored.read_text())["count"] if stored.exists() else None
        print(json.dumps({"rows": 1, "last_value": last, "hostname": "stub"}))
    return 0


# --- aws: the two calls moto cannot answer as AWS would ----------------------------------------


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def wait_services_stable(args: list[str]) -> int:
    """Stands in for the waiter: each service ACTIVE, with its task count, on an image in ECR."""
    cluster = option(args, "--cluster")
    names = args[args.index("--services") + 1 :]
    ecs, ecr = client("ecs"), client("ecr")
    found = ecs.describe_services(cluster=cluster, services=names)["services"]
    problems, seen = [], {}
    for name in names:
        service = next((s for s in found if s["serviceName"] == name), None)
        if service is None or service["status"] != "ACTIVE":
            problems.append(f"{name}: no ACTIVE service")
            continue
        task = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
        image = task["taskDefinition"]["containerDefinitions"][0]["image"]
        repository, _, tag = image.split("/", 1)[1].rpartition(":")
        seen[name] = {"image": image, "desiredCount": service["desiredCount"]}
        if service["desiredCount"] < 1:
            problems.append(f"{name}: desiredCount {service['desiredCount']}")
        try:
            ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
        except ecr.exceptions.ImageNotFoundException:
            problems.append(f"{name}: image {image} is not in ECR")
    record("ecs-wait", {"cluster": cluster, "services": seen, "problems": problems})
    if problems:
        print("Waiter ServicesStable failed (stub): " + "; ".join(problems), file=sys.stderr)
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


TOOLS = {"terragrunt": terragrunt, "docker": docker, "curl": curl, "aws": aws}

if __name__ == "__main__":
    sys.exit(TOOLS[sys.argv[1]](sys.argv[2:]))
