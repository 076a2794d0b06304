"""docs/operations/runbook.md: every alarm has an entry, and every command it names exists.

`countq` commands are parsed by the real CLI (and the read-only ones run on
the real Redis and MariaDB); `aws` commands are checked against the AWS CLI's
own command and option tables (what `aws <svc> <op> help` reads), options
included; `scripts/deploy.sh` flags against the script's usage; `terragrunt`
state commands against Terraform and the stack's resource addresses.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from countq import cli
from countq.config import Settings
from tests.helpers.doc_commands import Command, check_aws
from tests.helpers.processes import settings_env
from tests.helpers.services import REDIS_URL, ROOT, require_tool

RUNBOOK = ROOT / "docs" / "operations" / "runbook.md"
MONITORING = ROOT / "terraform" / "modules" / "monitoring" / "main.tf"
IMPORTER = ROOT / "terraform" / "modules" / "importer"
BOOTSTRAP_README = ROOT / "terraform" / "bootstrap" / "README.md"
# What `${each.key}` takes in the monitoring module's for_each alarms.
EACH_KEY = {
    "http_5xx": ["target", "elb"],
    "ecs_running": ["producer", "consumer"],  # var.service_names in terraform/stack
}
PLACEHOLDER_ID = "1764283170123-0"


def commands() -> list[str]:
    """Every line of the runbook's ```sh blocks, and every inline `countq ...`."""
    text = RUNBOOK.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        found += [line.strip() for line in block.splitlines() if line.strip()]
    for inline in re.findall(r"`(countq [^`]+)`", text):
        found.append(" ".join(inline.split()))
    return found


def by_tool(tool: str) -> list[list[str]]:
    return [shlex.split(c) for c in commands() if c.split()[0] == tool]


def test_every_command_is_of_a_known_kind() -> None:
    kinds = {"countq", "aws", "scripts/deploy.sh", "terragrunt", "curl"}
    assert {c.split()[0] for c in commands()} <= kinds


@pytest.mark.parametrize(
    ("module_tf", "prefix"),
    [(MONITORING, "countq-prod-"), (IMPORTER / "main.tf", "countq-prod-importer-")],
    ids=["monitoring", "importer"],
)
def test_every_alarm_has_an_entry(module_tf: Path, prefix: str) -> None:
    tf = module_tf.read_text(encoding="utf-8")
    alarms = re.findall(
        r'resource "aws_cloudwatch_metric_alarm" "(\w+)" \{'
        r'.*?alarm_name\s*=\s*"\$\{var\.name\}-([^"]+)"',
        tf,
        re.DOTALL,
    )
    assert alarms and len(alarms) == tf.count('resource "aws_cloudwatch_metric_alarm"')
    headings = set(re.findall(r"^### .*$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE))
    text = "\n".join(headings)
    for resource, name in alarms:
        keys = EACH_KEY.get(resource, [""]) if "${each.key}" in name else [""]
        for key in keys:
            alarm = prefix + name.replace("${each.key}", key)
            assert f"`{alarm}`" in text, f"no runbook heading for {alarm}"


def default_region() -> str:
    """The region root.hcl falls back to, which deploy.sh offers too."""
    root_hcl = (ROOT / "terraform" / "infrastructure" / "root.hcl").read_text(encoding="utf-8")
    found = re.search(r'get_env\("AWS_REGION",\s*"([a-z0-9-]+)"\)', root_hcl)
    assert found, "root.hcl names no default region"
    common = (ROOT / "scripts" / "lib" / "common.sh").read_text(encoding="utf-8")
    assert f":-{found[1]}}}" in common, "deploy.sh offers another default region"
    return found[1]


def test_examples_use_the_projects_default_region() -> None:
    region = default_region()
    given = [argv[argv.index("--region") + 1] for argv in by_tool("scripts/deploy.sh")]
    assert given and set(given) == {region}, given
    exported = re.findall(r"AWS_REGION=([a-z0-9-]+)", BOOTSTRAP_README.read_text(encoding="utf-8"))
    assert exported and set(exported) == {region}, exported


def test_the_redis_cache_is_named_as_the_stack_names_it() -> None:
    """modules/redis names the cache var.name, which the stack gives as local.name
    (countq-<env>); `countq-prod-redis` is its security group, not the cache."""
    stack = (ROOT / "terraform" / "stack" / "main.tf").read_text(encoding="utf-8")
    assert re.search(r'name\s*=\s*"\$\{var\.name\}-\$\{var\.environment\}"', stack)
    redis_call = re.search(r'module "redis" \{(.*?)\n\}', stack, re.DOTALL)
    assert redis_call and re.search(r"\n\s*name\s*=\s*local\.name\n", redis_call[1])
    redis_tf = (ROOT / "terraform" / "modules" / "redis" / "main.tf").read_text(encoding="utf-8")
    cache = re.search(
        r'resource "aws_elasticache_serverless_cache" "this" \{(.*?)\n\}', redis_tf, re.DOTALL
    )
    assert cache and re.search(r"\n\s*name\s*=\s*var\.name\n", cache[1])
    names = [
        argv[argv.index("--serverless-cache-name") + 1]
        for argv in by_tool("aws")
        if "--serverless-cache-name" in argv
    ]
    assert names and set(names) == {"countq-prod"}, names
    intro = RUNBOOK.read_text(encoding="utf-8").split("\n\n", 2)[1]
    assert "Redis (ElastiCache Serverless) cache\n`countq-prod`" in intro


def test_lambda_invokes_wait_longer_than_the_function_may_run() -> None:
    """With a read timeout at the function's timeout the CLI gives up on a slow
    run and sends it again (its retries): the maintenance would run twice."""
    variables = (IMPORTER / "variables.tf").read_text(encoding="utf-8")
    timeout = re.search(r'variable "timeout" \{.*?default\s*=\s*(\d+)', variables, re.DOTALL)
    assert timeout
    invokes = [argv for argv in by_tool("aws") if argv[1:3] == ["lambda", "invoke"]]
    assert invokes
    for argv in invokes:
        assert int(argv[argv.index("--cli-read-timeout") + 1]) > int(timeout[1]), argv


def test_each_situation_the_issue_lists_has_an_entry() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    for heading in [
        "### A backlog that keeps growing",
        "### Dead letters appearing",
        "### RDS storage filling",
        "### Redis near its usage limits",
        "### A Redis failover",
        "### A deploy that failed half way",
        "### Restoring RDS from a snapshot into a new instance",
    ]:
        assert heading in text


def _countq_argv(argv: list[str]) -> list[str]:
    return [PLACEHOLDER_ID if a == "<id>" else a for a in argv[1:]]


def test_countq_commands_parse() -> None:
    found = by_tool("countq")
    assert found
    for argv in found:
        parsed = cli.parse(_countq_argv(argv))  # exits 2 on a bad one
        if parsed.command == "dead-letters" and parsed.action == "purge":
            assert parsed.yes, f"{argv}: a one-off task has no terminal to confirm on"


def test_read_only_countq_commands_run(settings: Settings) -> None:
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    r.xadd(settings.dead_key, {"id": "x", "count": "1", "ts": "0", "reason": "runbook"})
    ran = 0
    for argv in by_tool("countq"):
        args = _countq_argv(argv)
        if args[:2] != ["dead-letters", "list"]:
            continue
        result = subprocess.run(
            [sys.executable, "-m", "countq", *args],
            env=settings_env(settings),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "runbook" in result.stdout
        ran += 1
    assert ran


def test_aws_commands_and_their_options_exist() -> None:
    found = by_tool("aws")
    assert found
    for argv in found:
        check_aws(Command(tuple(argv), "docs/operations/runbook.md", inline=False))


def test_deploy_script_flags_exist() -> None:
    usage = (ROOT / "scripts" / "deploy.sh").read_text(encoding="utf-8")
    found = by_tool("scripts/deploy.sh")
    assert found
    for argv in found:
        for arg in argv[1:]:
            if arg.startswith("--"):
                assert f"[{arg}" in usage or f" {arg}" in usage, f"{argv}: no flag {arg}"


def test_terragrunt_state_commands_name_a_real_address() -> None:
    terraform = require_tool("terraform")
    main = (ROOT / "terraform" / "stack" / "main.tf").read_text(encoding="utf-8")
    found = by_tool("terragrunt")
    assert found
    for argv in found:
        sub = argv[1:3] if argv[1] == "state" else argv[1:2]
        help_run = subprocess.run(
            [terraform, *sub, "-help"], capture_output=True, text=True, timeout=30, check=False
        )
        assert help_run.returncode == 0, f"terraform {' '.join(sub)}: {help_run.stderr}"
        address = next(a for a in argv if a.startswith("module."))
        module, resource = re.fullmatch(r"module\.(\w+)\.(\w+\.\w+)", address).groups()  # type: ignore[union-attr]
        source = re.search(rf'module "{module}" \{{\s*source\s*=\s*"\.\./modules/([\w-]+)"', main)
        assert source, f"no module {module} in the stack"
        module_tf = (ROOT / "terraform" / "modules" / source[1] / "main.tf").read_text()
        kind, name = resource.split(".")
        assert f'resource "{kind}" "{name}"' in module_tf, address


def test_curl_is_there_for_the_stats_check() -> None:
    require_tool("curl")
    assert any("/stats" in " ".join(argv) for argv in by_tool("curl"))
