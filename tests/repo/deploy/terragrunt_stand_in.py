"""The deploy replay's terragrunt: what Terragrunt 1.1.6 (the version both
workflows pin, TERRAGRUNT_VERSION) does with terraform/infrastructure/root.hcl,
with moto for AWS. Terragrunt is not installed here; each behaviour below is
the pinned version's, as its documentation and release notes describe it:

- terragrunt_version_constraint: a version outside root.hcl's range stops
  before anything runs, with the real message ("The currently installed
  version of Terragrunt (...) is not compatible with the version constraint
  requiring (...)"; docs: reference/hcl/attributes, "terragrunt_version_constraint").
- remote_state: the S3 bucket it names must exist. Since v0.87.0 Terragrunt
  never creates it on its own (release notes of v0.87.0, "Automatic Backend
  Provisioning Removed"): without ``--backend-bootstrap`` or
  ``TG_BACKEND_BOOTSTRAP=true`` a command that uses state fails (there,
  Terraform's S3 backend answers that the bucket does not exist).
  ``terragrunt backend bootstrap`` (docs: reference/cli/commands/backend/bootstrap)
  and the opt-in create it as documented: versioning, server-side encryption
  (aws:kms unless ``bucket_sse_algorithm`` says otherwise), a policy that
  denies requests without TLS (EnforcedTLS) beside the RootAccess statement,
  and every public access block on. Idempotent: an existing bucket is left
  as it is (the real tool would also update one that differs).
- generate "provider": the file is root.hcl's own ``contents``, evaluated
  (locals, get_env, get_aws_account_id, ...), so its default_tags and
  allowed_account_ids are what reach moto. The moto endpoints and fake keys
  go in a separate Terraform override file (provider_override.tf), merged
  into those provider blocks by Terraform itself.
- terraform.source "<repo>/terraform//stack": the whole terraform/ folder is
  copied into a cache and the command runs in stack/; root.hcl's and the
  environment's inputs become TF_VAR_*; a Terraform shortcut and its flags
  are passed on as given (docs: features/..., "OpenTofu/Terraform shortcuts").

Where it differs, on purpose: the state is a local file per replay (moto's
S3 would hold it as well, but the S3 backend's lock file is not what is
tested here); the bucket is checked and made in moto.

Only real AWS can prove: the bucket's KMS default key and policy as AWS
evaluates them, and Terragrunt's own update of an existing bucket.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import hcl2

from tests.repo.infra import harness

# The version this stand-in models (both workflows' TERRAGRUNT_VERSION).
VERSION = "1.1.6"

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
# The shortcuts that need the backend (Terragrunt's TerraformCommandsThatUseState).
USES_STATE = SHORTCUTS - {"validate", "test"}


class StandInError(Exception):
    """Terragrunt would stop with this message."""


# --- root.hcl: just enough of Terragrunt's HCL evaluation -----------------------------------------


class Evaluator:
    """Evaluates root.hcl's expressions: string templates, local.X and the
    Terragrunt functions it calls. Anything else is refused, so a root.hcl
    that the stand-in cannot model fails loudly instead of being skipped."""

    def __init__(self, unit_dir: Path, repo: Path, account_id: Callable[[], str]) -> None:
        self.unit_dir = unit_dir
        self.repo = repo
        self.account_id = account_id
        self.locals: dict[str, Any] = {}
        self.functions: dict[str, Callable[..., str]] = {
            "get_env": self._get_env,
            "get_terragrunt_dir": lambda: str(self.unit_dir),
            "get_repo_root": lambda: str(self.repo),
            "get_aws_account_id": lambda: self.account_id(),
            "basename": lambda path: Path(path).name,
        }

    @staticmethod
    def _get_env(name: str, default: str | None = None) -> str:
        value = os.environ.get(name)
        if value is None:
            if default is None:
                raise StandInError(f"get_env: {name} is not set and has no default")
            return default
        return value

    def value(self, raw: Any) -> Any:
        """A parsed attribute (python-hcl2 keeps the source text of strings)."""
        if isinstance(raw, dict):
            return {k: self.value(v) for k, v in raw.items() if not k.startswith("__")}
        if isinstance(raw, list):
            return [self.value(v) for v in raw]
        if not isinstance(raw, str):
            return raw
        if raw.startswith('"<<'):
            return self.template(_heredoc(raw[1:-1]))
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            return self.template(raw[1:-1])
        if raw.startswith("${") and raw.endswith("}"):
            value, rest = self.expression(raw[2:-1])
            if rest.strip():
                raise StandInError(f"cannot evaluate {raw!r}")
            return value
        raise StandInError(f"cannot evaluate {raw!r}")

    def template(self, text: str) -> str:
        out, i = [], 0
        while (start := text.find("${", i)) >= 0:
            out.append(text[i:start])
            value, rest = self.expression(text[start + 2 :])
            rest = rest.lstrip()
            if not rest.startswith("}"):
                raise StandInError(f"cannot evaluate the template {text!r}")
            out.append(str(value))
            i = len(text) - len(rest) + 1
        out.append(text[i:])
        return "".join(out)

    def expression(self, text: str) -> tuple[Any, str]:
        """One expression at the start of text, and the text after it."""
        text = text.lstrip()
        if text.startswith('"'):
            end = _string_end(text)
            return self.template(text[1:end]), text[end + 1 :]
        if m := re.match(r"local\.(\w+)", text):
            if m[1] not in self.locals:
                raise StandInError(f"local.{m[1]} is not defined")
            return self.locals[m[1]], text[m.end() :]
        if m := re.match(r"(\w+)\(", text):
            if m[1] not in self.functions:
                raise StandInError(f"the stand-in does not model the function {m[1]}()")
            args, rest = [], text[m.end() :].lstrip()
            while not rest.startswith(")"):
                arg, rest = self.expression(rest)
                args.append(arg)
                rest = rest.lstrip()
                if rest.startswith(","):
                    rest = rest[1:].lstrip()
            return self.functions[m[1]](*args), rest[1:]
        raise StandInError(f"cannot evaluate {text[:40]!r}")


def _string_end(text: str) -> int:
    """Index of the quote closing the string that opens text (skipping ${...})."""
    depth, i = 0, 1
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}" and depth:
            depth -= 1
        elif text[i] == "\\":
            i += 1
        elif text[i] == '"' and not depth:
            return i
        i += 1
    raise StandInError(f"unterminated string {text[:40]!r}")


def _heredoc(raw: str) -> str:
    """<<-EOT ... EOT: the body, with its common indentation removed (HCL's <<- form)."""
    header, _, body = raw.partition("\n")
    marker = header.lstrip("<-").strip()
    lines = body.split("\n")
    if lines[-1].strip() != marker:
        raise StandInError(f"heredoc without its closing {marker}")
    text = "\n".join(lines[:-1]) + "\n"
    return textwrap.dedent(text) if header.startswith("<<-") else text


class RootConfig:
    """root.hcl as Terragrunt reads it for one unit (environment folder)."""

    def __init__(self, root_hcl: Path, unit_dir: Path, repo: Path) -> None:
        with root_hcl.open() as f:
            self.parsed = hcl2.load(f)
        self.eval = Evaluator(unit_dir, repo, _moto_account_id)
        for block in self.parsed.get("locals", []):
            for name, raw in block.items():
                if not name.startswith("__"):
                    self.eval.locals[name] = self.eval.value(raw)

    def attribute(self, name: str) -> Any:
        return self.eval.value(self.parsed[name]) if name in self.parsed else None

    def remote_state(self) -> dict[str, Any]:
        (block,) = self.parsed["remote_state"]
        state = self.eval.value(block)
        if state["backend"] != "s3":
            raise StandInError(f"the stand-in models the s3 backend only, not {state['backend']}")
        return dict(state)

    def generated(self) -> dict[str, dict[str, Any]]:
        """generate "<name>" blocks: name -> {path, if_exists, contents}."""
        found = {}
        for block in self.parsed.get("generate", []):
            for label, body in block.items():
                found[json.loads(label)] = self.eval.value(body)
        return found

    def source(self) -> tuple[Path, str]:
        """terraform.source "<dir>//<subdir>": what is copied, and where the command runs."""
        (block,) = self.parsed["terraform"]
        copied, _, subdir = self.eval.value(block["source"]).partition("//")
        return Path(copied), subdir

    def inputs(self) -> dict[str, Any]:
        return dict(self.attribute("inputs") or {})


def _moto_account_id() -> str:
    return str(_client("sts").get_caller_identity()["Account"])


def _client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ.get("AWS_REGION", harness.REGION),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# --- terragrunt_version_constraint -------------------------------------------------------------


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.lstrip("v").split("."))


def satisfies(version: str, constraint: str) -> bool:
    """HashiCorp version constraints (">= 1.1.6, < 1.2.0", "~> 1.1"), as Terragrunt checks them."""
    have = _version(version)
    for part in constraint.split(","):
        m = re.fullmatch(r"\s*(>=|<=|!=|~>|>|<|=)?\s*v?([\d.]+)\s*", part)
        if not m:
            raise StandInError(f"malformed version constraint {constraint!r}")
        op, want = m[1] or "=", _version(m[2])
        padded = want + (0,) * (len(have) - len(want))
        ok = {
            ">=": have >= padded,
            "<=": have <= padded,
            ">": have > padded,
            "<": have < padded,
            "=": have == padded,
            "!=": have != padded,
            # ~> 1.1.6: >= 1.1.6, < 1.2; ~> 1.1: >= 1.1, < 2.
            "~>": have >= padded and have[: len(want) - 1] == want[:-1],
        }[op]
        if not ok:
            return False
    return True


# --- remote_state: the bucket, and backend bootstrap ----------------------------------------------


def bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchBucket", "NotFound"):
            return False
        raise
    return True


def bootstrap_backend(config: dict[str, Any]) -> None:
    """Creates the state bucket as `terragrunt backend bootstrap` documents it."""
    bucket, region = config["bucket"], config["region"]
    s3 = _client("s3")
    if bucket_exists(s3, bucket):
        return
    print(f"terragrunt (stand-in {VERSION}): creating S3 bucket {bucket}", file=sys.stderr)
    location = {} if region == "us-east-1" else {"LocationConstraint": region}
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
    account = _moto_account_id()
    arn = f"arn:aws:s3:::{bucket}"
    statements = [
        {
            "Sid": "RootAccess",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
        },
        {
            "Sid": "EnforcedTLS",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements})
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    algorithm = config.get("bucket_sse_algorithm", "aws:kms")
    rule: dict[str, Any] = {"SSEAlgorithm": algorithm}
    if algorithm == "aws:kms" and config.get("bucket_sse_kms_key_id"):
        rule["KMSMasterKeyID"] = config["bucket_sse_kms_key_id"]
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": rule}]},
    )


CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


# --- generate "provider", pointed at moto --------------------------------------------------------


def moto_provider_override(endpoint: str, provider_file: str) -> str:
    """A Terraform override file: each provider block of the generated file
    gets moto's endpoints; all the rest is root.hcl's. Credentials are the
    caller's AWS_* variables, as in AWS (the replay's assumed deploy role)."""
    # One default provider and any number of aliased ones, each merged by alias.
    aliases = [None, *re.findall(r'^\s*alias\s*=\s*"([^"]+)"', provider_file, re.M)]
    blocks = []
    for alias in aliases:
        lines = ['provider "aws" {']
        if alias:
            lines.append(f'  alias                       = "{alias}"')
        lines += [
            "  skip_credentials_validation = true",
            "  skip_metadata_api_check     = true",
            "  s3_use_path_style           = true",
            # moto answers unimplemented calls with 500; default retries take 14+ min.
            "  max_retries                 = 1",
            "  endpoints {",
            *(f'    {s} = "{endpoint}"' for s in harness.ENDPOINT_SERVICES),
            "  }",
            "}",
        ]
        blocks.append("\n".join(lines))
    header = "# moto's endpoints, merged into root.hcl's providers (the replay only).\n"
    return header + "\n\n".join(blocks) + "\n"


def render(config: RootConfig, stack: Path, endpoint: str, state: Path) -> None:
    """The files Terragrunt generates into the copied stack, for moto."""
    for name, block in config.generated().items():
        (stack / block["path"]).write_text(block["contents"])
        if name == "provider":
            (stack / "provider_override.tf").write_text(
                moto_provider_override(endpoint, block["contents"])
            )
    # remote_state's generate block: here a local state file, not the bucket.
    backend = config.remote_state()["generate"]["path"]
    (stack / backend).write_text(
        f'terraform {{\n  backend "local" {{\n    path = "{state}"\n  }}\n}}\n'
    )


# --- the command ---------------------------------------------------------------------------------


def replay_dir() -> Path:
    return Path(os.environ["REPLAY_DIR"])


def record(entry: dict[str, Any]) -> None:
    with (replay_dir() / "terragrunt.jsonl").open("a") as f:
        f.write(json.dumps({"run": os.environ.get("REPLAY_RUN"), **entry}) + "\n")


def main(argv: list[str]) -> int:
    try:
        return run(argv)
    except StandInError as exc:
        print(f"ERROR {exc}", file=sys.stderr)
        return 1


def run(argv: list[str]) -> int:
    args = list(argv)
    bootstrap = os.environ.get("TG_BACKEND_BOOTSTRAP", "").lower() in ("1", "true")
    if "--backend-bootstrap" in args:
        args.remove("--backend-bootstrap")
        bootstrap = True
    if "--non-interactive" in args:
        args.remove("--non-interactive")
    command = args[:2] if args[:1] == ["backend"] else args[:1]
    if command != ["backend", "bootstrap"] and (not args or args[0] not in SHORTCUTS):
        raise StandInError(f"terragrunt (stand-in): {args[:2]} is not a command it models")
    unit = Path.cwd()
    if not (unit / "terragrunt.hcl").is_file():
        raise StandInError(f"no terragrunt.hcl in {unit}")
    repo = Path(
        subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    # Each environment's terragrunt.hcl includes ../root.hcl (find_in_parent_folders).
    config = RootConfig(unit.parent / "root.hcl", unit, repo)
    constraint = config.attribute("terragrunt_version_constraint")
    if constraint and not satisfies(VERSION, constraint):
        raise StandInError(
            f"The currently installed version of Terragrunt (v{VERSION}) is not compatible "
            f"with the version constraint requiring ({constraint})."
        )
    remote = config.remote_state()
    if command == ["backend", "bootstrap"]:
        bootstrap_backend(remote["config"])
        record({"args": argv, "env": unit.name, "returncode": 0, "seconds": 0})
        return 0
    if args[0] in USES_STATE:
        if bootstrap:
            bootstrap_backend(remote["config"])
        elif not bucket_exists(_client("s3"), remote["config"]["bucket"]):
            # What the S3 backend's init answers then (Terraform 1.11).
            record({"args": argv, "env": unit.name, "returncode": 1, "seconds": 0})
            raise StandInError(
                "Error: Failed to get existing workspaces: S3 bucket "
                f'"{remote["config"]["bucket"]}" does not exist.\n\n'
                "The referenced S3 bucket must have been previously created. "
                "(Terragrunt >= 0.87 creates it only with --backend-bootstrap, "
                "TG_BACKEND_BOOTSTRAP=true or `terragrunt backend bootstrap`.)"
            )
    return terraform(config, unit, repo, args, argv)


def terraform(config: RootConfig, unit: Path, repo: Path, args: list[str], argv: list[str]) -> int:
    copied, subdir = config.source()
    # One cache per copied source (a release and the next one each get theirs).
    key = hashlib.sha256(str(copied).encode()).hexdigest()[:12]
    cache = replay_dir() / "terragrunt-cache" / key
    stack = cache / copied.name / subdir
    tf_env = harness.terraform_env(Path(os.environ["REPLAY_TF_CONFIG"]))
    # Terragrunt passes its environment on: Terraform runs with the caller's credentials.
    tf_env.update({k: v for k, v in os.environ.items() if k in CREDENTIAL_VARS})
    # Plain logs; nothing else differs from what the scripts asked for.
    for name in ("apply", "destroy", "plan", "init"):
        tf_env[f"TF_CLI_ARGS_{name}"] = "-no-color"
    inputs = {
        **config.inputs(),
        **harness.environment_inputs(unit.name, repo / "terraform"),
        **harness.TEST_ONLY_INPUTS,
    }
    for name, value in inputs.items():
        tf_env[f"TF_VAR_{name}"] = value if isinstance(value, str) else json.dumps(value)
    tf = harness.Terraform(os.environ["REPLAY_TERRAFORM"], tf_env, replay_dir() / "terraform.log")
    started = time.monotonic()
    if not (stack / ".terraform").is_dir():
        harness.copy_terraform(cache / copied.name, copied)
        # The test-only overrides of the release being run (tests/repo/infra/moto_overrides).
        overrides = repo / "tests" / "repo" / "infra" / "moto_overrides"
        for override in overrides.rglob("*.tf"):
            shutil.copy(override, cache / copied.name / override.relative_to(overrides))
        render(config, stack, os.environ["AWS_ENDPOINT_URL"], replay_dir() / "terraform.tfstate")
        init = tf.run(stack, "init", "-input=false")
        if init.returncode:
            sys.stderr.write(init.stdout + init.stderr)
            return init.returncode
    if args[0] == "apply" and os.environ.get("REPLAY_SAVE_PLANS"):
        proc = apply_saving_plan(tf, stack, args, Path(os.environ["REPLAY_SAVE_PLANS"]))
    else:
        proc = tf.run(stack, *args)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    record(
        {
            "args": argv,
            "env": unit.name,
            "stack": str(stack),
            "returncode": proc.returncode,
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    return proc.returncode


def apply_saving_plan(
    tf: harness.Terraform, stack: Path, args: list[str], plans: Path
) -> subprocess.CompletedProcess[str]:
    """The same apply in two steps (plan -out, then apply of that plan), with
    `terraform show -json` of the plan kept in `plans` (the upgrade replay
    reads what each apply was going to replace). Nothing else differs."""
    plans.mkdir(parents=True, exist_ok=True)
    number = len(list(plans.glob("*.json"))) + 1
    plan_file = plans / f"{number}.tfplan"
    plan_args = [a for a in args[1:] if a != "-auto-approve"]
    plan = tf.run(stack, "plan", *plan_args, f"-out={plan_file}")
    if plan.returncode:
        return plan
    shown = tf.run(stack, "show", "-json", str(plan_file))
    if shown.returncode:
        return shown
    (plans / f"{number}.json").write_text(shown.stdout)
    apply_args = [a for a in args[1:] if a in ("-auto-approve", "-input=false")]
    return tf.run(stack, "apply", *apply_args, str(plan_file))
