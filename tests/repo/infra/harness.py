"""Terraform against moto: the pieces the infra tests share.

Terragrunt is not installed here, so the tests do what it would do: copy
terraform/ into a work directory, add the provider configuration (pointed at
a local moto server instead of AWS), pass the environment's inputs, and run
the stack. Everything lives under build/infra/ so parallel runs never touch
the source tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import hcl2
import httpx

from tests.helpers.tls_mariadb import make_ca

ROOT = Path(__file__).resolve().parents[3]
TERRAFORM_DIR = ROOT / "terraform"
BUILD = ROOT / "build" / "infra"
HERE = Path(__file__).resolve().parent
MOTO_OVERRIDES = HERE / "moto_overrides"
ENVIRONMENTS = ("test", "dev", "stage", "prod")
REGION = "eu-central-1"

# Every AWS API the stack calls; each one is pointed at moto.
ENDPOINT_SERVICES = (
    "acm",
    "applicationautoscaling",
    "cloudfront",
    "cloudwatch",
    "ec2",
    "ecr",
    "ecs",
    "elasticache",
    "elbv2",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "servicediscovery",
    "sns",
    "sts",
    "wafv2",
)

# What moto cannot emulate (see docs/development/moto.md).
TEST_ONLY_INPUTS = {"create_redis_cache": False}

# Switches that are off in every environment, turned on in one applied run so
# that moto holds what they create (the other runs show them off).
EXERCISED_INPUTS: dict[str, dict[str, Any]] = {"stage": {"enable_execute_command": True}}

# With max_retries = 1 the provider does not retry a dropped connection to moto
# (seen once in CI: "read tcp ...: use of closed network connection" during a
# destroy's refresh). Only these socket-level failures rerun the command; every
# error that moto or AWS answers with still fails the test at once.
TRANSPORT_ERROR = re.compile(
    r"use of closed network connection|connection reset by peer|broken pipe"
    r"|server closed idle connection"
)
TRANSPORT_RETRIES = 2


@cache
def mirror_root() -> Path:
    """The offline provider mirror: the folder holding registry.terraform.io."""
    found = subprocess.run(
        [
            "find",
            "/",
            "-xdev",
            "-type",
            "d",
            "-name",
            "registry.terraform.io",
            "-not",
            "-path",
            "*/.terraform/*",
            "-not",
            "-path",
            str(BUILD) + "/*",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    ).stdout.split()
    for path in found:
        if (Path(path) / "hashicorp" / "aws").is_dir():
            return Path(path).parent
    raise RuntimeError("no offline Terraform provider mirror with hashicorp/aws found")


def cli_config() -> Path:
    """A CLI config that installs providers only from the offline mirror."""
    BUILD.mkdir(parents=True, exist_ok=True)
    path = BUILD / "terraformrc"
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror_root()}"\n'
        '    include = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "}\n"
    )
    return path


def terraform_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(
        TF_CLI_CONFIG_FILE=str(config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
    )
    return env


def copy_terraform(dest: Path, source: Path = TERRAFORM_DIR) -> Path:
    """A fresh copy of terraform/ (without local state or caches)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        source,
        dest,
        ignore=shutil.ignore_patterns(
            ".terraform", ".terraform.lock.hcl", "*.tfstate*", ".terragrunt-cache"
        ),
    )
    return dest


def _literal(value: Any, where: str) -> Any:
    """Plain values of the parsed HCL (python-hcl2 8 keeps quotes on strings);
    an interpolation means an expression, which inputs must not hold."""
    if isinstance(value, dict):
        return {k: _literal(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v, where) for v in value]
    if isinstance(value, str):
        if "${" in value:
            raise ValueError(f"{where} is not a literal: {value!r}")
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return json.loads(value)
    return value


def add_moto_overrides(terraform_dir: Path) -> None:
    """The test-only override files, beside the modules they override."""
    for override in MOTO_OVERRIDES.rglob("*.tf"):
        shutil.copy(override, terraform_dir / override.relative_to(MOTO_OVERRIDES))


def environment_inputs(env: str, terraform_dir: Path = TERRAFORM_DIR) -> dict[str, Any]:
    """The `inputs = {...}` of terraform/infrastructure/<env>/terragrunt.hcl."""
    path = terraform_dir / "infrastructure" / env / "terragrunt.hcl"
    with path.open() as f:
        parsed = hcl2.load(f)
    return dict(_literal(parsed["inputs"], f"{env}.inputs"))


def provider_config(endpoint: str | None, region: str = REGION, static_keys: bool = True) -> str:
    """Both providers the stack needs, as Terragrunt's root.hcl generates them,
    but (with an endpoint) pointed at moto with fake credentials (or, without
    `static_keys`, the caller's AWS_* variables, as in AWS)."""
    blocks = []
    for alias, provider_region in ((None, region), ("us_east_1", "us-east-1")):
        lines = ['provider "aws" {']
        if alias:
            lines.append(f'  alias  = "{alias}"')
        lines.append(f'  region = "{provider_region}"')
        if endpoint:
            if static_keys:
                lines += [
                    '  access_key                  = "testing"',
                    '  secret_key                  = "testing"',
                ]
            lines += [
                "  skip_credentials_validation = true",
                "  skip_requesting_account_id  = true",
                "  skip_metadata_api_check     = true",
                "  s3_use_path_style           = true",
                # moto answers unimplemented calls with 500; default retries take 14+ min.
                "  max_retries                 = 1",
                "  endpoints {",
                *(f'    {s} = "{endpoint}"' for s in ENDPOINT_SERVICES),
                "  }",
            ]
        lines += [
            "  default_tags {",
            '    tags = { Project = "countq", ManagedBy = "pytest" }',
            "  }",
            "}",
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """A moto server on 127.0.0.1 in its own process (moto_server.py: with one
    fix, so that bucket policies deny as AWS does)."""

    def __init__(
        self, log: Path, server: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        """`server`: another moto_server entry point (python arguments), with `env` added."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = log.open("ab")
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true", **(env or {})}
        server = server or [str(HERE / "moto_server.py")]
        self.proc = subprocess.Popen(
            [sys.executable, *server, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=self._log,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.proc.returncode}; see {log}")
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=1)
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            # moto cannot run Lambda code (it would need Docker): its "simple"
            # backend answers invocations with results queued through its API
            # (the deploy replay queues what the real handler returned).
            httpx.post(
                f"{self.url}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=5
            ).raise_for_status()
            return
        self.stop()
        raise TimeoutError("moto_server did not start within 30 s")

    def secret_values(self) -> list[str]:
        """Every secret string stored in this moto server (to look for leaks)."""
        client = boto3.client(
            "secretsmanager",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        values = []
        for page in client.get_paginator("list_secrets").paginate():
            for secret in page["SecretList"]:
                value = client.get_secret_value(SecretId=secret["ARN"]).get("SecretString", "")
                values.append(value)
                with contextlib.suppress(ValueError, AttributeError):
                    values += [str(v) for v in json.loads(value).values()]
        return values

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class TerraformError(AssertionError):
    pass


@dataclass
class Terraform:
    binary: str
    env: dict[str, str]
    log: Path

    def __call__(
        self, cwd: Path, *args: str, ok: tuple[int, ...] = (0,), timeout: int = 900
    ) -> subprocess.CompletedProcess[str]:
        proc = self.run(cwd, *args, ok=ok, timeout=timeout)
        if proc.returncode not in ok:
            raise TerraformError(
                f"terraform {' '.join(args)} in {cwd} exited {proc.returncode}:\n"
                f"{proc.stderr[-6000:]}\n{proc.stdout[-3000:]}"
            )
        return proc

    def run(
        self, cwd: Path, *args: str, ok: tuple[int, ...] = (0,), timeout: int = 900
    ) -> subprocess.CompletedProcess[str]:
        """The command's outcome, after rerunning it for a dropped connection only."""
        proc = self._run(cwd, args, timeout)
        for _ in range(TRANSPORT_RETRIES):
            if proc.returncode in ok or not TRANSPORT_ERROR.search(proc.stderr):
                break
            # Terraform resumes from its state, so running the command again is
            # what an operator would do; a saved plan is stale once partly applied
            # (every apply here is -auto-approve, so it goes on without one).
            if args[0] == "apply":
                args = tuple(a for a in args if a != "tfplan")
            proc = self._run(cwd, args, timeout)
        return proc

    def _run(
        self, cwd: Path, args: tuple[str, ...], timeout: int
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        proc = subprocess.run(
            [self.binary, *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        with self.log.open("a") as f:
            f.write(
                f"$ terraform {' '.join(args)}  # {cwd.name}, rc={proc.returncode}, "
                f"{time.monotonic() - started:.1f}s\n{proc.stdout}\n{proc.stderr}\n"
            )
        return proc


_CA_LOCK = threading.Lock()


def importer_zip(dest: Path) -> Path:
    """The Lambda package, built by the project's own script, with a CA made
    here as its MySQL CA (AWS's RDS bundle cannot be fetched offline)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    ca = BUILD / "test-mysql-ca.pem"
    with _CA_LOCK:  # environments are replayed in parallel threads: one CA for all
        if not ca.exists():
            BUILD.mkdir(parents=True, exist_ok=True)
            make_ca(BUILD, "test-mysql-ca")
    script = ROOT / "scripts" / "build-importer-zip.sh"
    env = {**os.environ, "MYSQL_CA_FILE": str(ca)}
    subprocess.run(["bash", str(script), str(dest)], cwd=ROOT, env=env, check=True, timeout=600)
    return dest


@dataclass
class EnvironmentRun:
    """Outcome of plan, apply, re-plan and destroy of one environment on moto."""

    env: str
    plan: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    secret_values: list[str] = field(default_factory=list)
    replan_output: str = ""
    replan_changes: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    remaining_after_destroy: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def run_environment(env: str, terraform_bin: str, config: Path, zip_path: Path) -> EnvironmentRun:
    run = EnvironmentRun(env)
    workdir = BUILD / "envs" / env
    copy_terraform(workdir / "terraform")
    moto = MotoServer(workdir / "moto.log")
    try:
        _pipeline(
            run,
            workdir,
            Terraform(terraform_bin, terraform_env(config), workdir / "terraform.log"),
            moto,
            zip_path,
        )
    except Exception as exc:  # reported by the tests that need this run
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        moto.stop()
    return run


def _pipeline(
    run: EnvironmentRun, workdir: Path, tf: Terraform, moto: MotoServer, zip_path: Path
) -> None:
    stack = workdir / "terraform" / "stack"
    add_moto_overrides(workdir / "terraform")
    (stack / "providers.tf").write_text(provider_config(moto.url))
    inputs = {
        **environment_inputs(run.env),
        "environment": run.env,
        "image_tag": f"{run.env}-0000000",
        "importer_zip_path": str(zip_path),
        **TEST_ONLY_INPUTS,
        **EXERCISED_INPUTS.get(run.env, {}),
    }
    (stack / "terraform.tfvars.json").write_text(json.dumps(inputs, indent=2))

    def timed(
        stage: str, *args: str, ok: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        try:
            return tf(stack, *args, ok=ok)
        finally:
            run.seconds[stage] = round(time.monotonic() - started, 1)

    timed("init", "init", "-backend=false", "-no-color")
    timed("plan", "plan", "-no-color", "-out=tfplan")
    run.plan = json.loads(tf(stack, "show", "-json", "tfplan").stdout)
    timed("apply", "apply", "-no-color", "-auto-approve", "tfplan")
    run.outputs = {
        k: v["value"] for k, v in json.loads(tf(stack, "output", "-json").stdout).items()
    }
    run.state = json.loads(tf(stack, "show", "-json").stdout)
    run.secret_values = moto.secret_values()
    replan = timed("replan", "plan", "-no-color", "-detailed-exitcode", "-out=tfreplan", ok=(0, 2))
    run.replan_output = replan.stdout
    if replan.returncode == 2:
        changed = json.loads(tf(stack, "show", "-json", "tfreplan").stdout)
        run.replan_changes = [
            f"{rc['address']}: {rc['change']['actions']}"
            for rc in changed.get("resource_changes", [])
            if rc["change"]["actions"] != ["no-op"] and rc["change"]["actions"] != ["read"]
        ]
    if run.env == "prod":
        # Deletion protection must hold; lift it as an operator would before destroying.
        timed("unprotect", "apply", "-no-color", "-auto-approve", "-var", "protect_data=false")
    timed("destroy", "destroy", "-no-color", "-auto-approve")
    run.remaining_after_destroy = tf(stack, "state", "list", ok=(0, 1)).stdout.split()
