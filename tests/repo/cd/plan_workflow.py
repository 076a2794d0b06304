"""plan.yml's Plan step, run as GitHub runs it: the `run:` block read from
the workflow now (never retyped), under `bash --noprofile --norc -eo
pipefail`, with the job's env, RUNNER_TEMP and the credentials the
configure-aws-credentials step would export (the plan role's)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.repo.infra import harness

PLAN = harness.ROOT / ".github" / "workflows" / "plan.yml"
STEP = "Plan"
TIMEOUT = 600


@dataclass
class PlanRun:
    env: str
    returncode: int
    log: str
    stderr: str
    plan: dict[str, Any] = field(default_factory=dict)
    # The calls moto refused to the plan role during this run.
    denied: list[dict[str, Any]] = field(default_factory=list)

    def data_read(self) -> list[str]:
        """Addresses of the data sources the plan read (its prior state holds them)."""
        found: list[str] = []

        def walk(module: dict[str, Any]) -> None:
            found.extend(r["address"] for r in module.get("resources", []) if r["mode"] == "data")
            for child in module.get("child_modules", []):
                walk(child)

        walk(self.plan.get("prior_state", {}).get("values", {}).get("root_module", {}))
        return found


def plan_step() -> str:
    """The Plan step's script, from plan.yml as it is now."""
    workflow = yaml.safe_load(PLAN.read_text())
    [step] = [s for s in workflow["jobs"]["plan"]["steps"] if s.get("name") == STEP]
    assert step.get("shell", workflow["defaults"]["run"]["shell"]) == "bash"
    return str(step["run"])


def run(repo: Path, env: str, environ: dict[str, str], runner_temp: Path) -> PlanRun:
    """The Plan step in `repo` (a checkout) for the matrix's `env`; `environ`
    holds PATH (with terragrunt) and the assumed role's AWS_* variables."""
    runner_temp.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", plan_step()],
        cwd=repo,
        env={**environ, "PLAN_ENV": env, "RUNNER_TEMP": str(runner_temp), "CI": "true"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    log = runner_temp / "plan.log"
    result = PlanRun(env, proc.returncode, log.read_text() if log.exists() else "", proc.stderr)
    plan_json = runner_temp / "plan.json"
    if proc.returncode == 0 and plan_json.exists():
        result.plan = json.loads(plan_json.read_text())
    return result
