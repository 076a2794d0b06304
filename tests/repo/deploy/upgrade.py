"""The upgrade replay: the release recorded in .release-baseline deployed on
moto from a git worktree of its commit (its own deploy.sh, stack and test
overrides), then this working tree's deploy.sh run over the same state, as an
operator upgrades a running environment. Every apply of the upgrade is planned
first and its `terraform show -json` kept, so the test can see what it
replaced. Then one more plan, with the next MySQL major version, shows how a
parameter family change would go.

One environment (test): what is replaced does not depend on its size, and
the replay already costs two full deploys.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.release import Baseline, baseline
from tests.repo.deploy import replay
from tests.repo.infra import harness

ENV = "test"
CHANGELOG = replay.ROOT / "CHANGELOG.md"
# The runs, by label.
BASELINE = "deploy of the recorded release"
UPGRADE = "upgrade to this working tree"
# The stack's RDS module, and a MySQL major version after the one it runs.
RDS_MODULE = "rds"
NEXT_MAJOR = "9.4"

# What holds state or traffic: replacing one loses data, drops traffic, or
# fails in AWS (deletion protection, a group still referenced, ...).
GUARDED_TYPES = frozenset(
    {
        "aws_lb",
        "aws_security_group",
        "aws_db_instance",
        "aws_db_parameter_group",
        "aws_elasticache_serverless_cache",
        "aws_elasticache_replication_group",
        "aws_s3_bucket",
        "aws_kms_key",
        "aws_cloudfront_distribution",
        "aws_cloudfront_vpc_origin",
    }
)


def explained_replacements(changelog: str) -> set[str]:
    """The Terraform addresses that the Upgrading section of Unreleased names
    in backticks (CHANGELOG.md's convention)."""
    unreleased = re.search(r"^## \[Unreleased\]\n(.*?)(?=^## |\Z)", changelog, re.M | re.S)
    if not unreleased:
        return set()
    upgrading = re.search(r"^### Upgrading\n(.*?)(?=^### |\Z)", unreleased[1], re.M | re.S)
    if not upgrading:
        return set()
    return set(
        re.findall(
            r"`((?:module\.[\w-]+(?:\[[^\]]+\])?\.)*aws_\w+\.[\w-]+(?:\[[^\]]+\])?)`", upgrading[1]
        )
    )


def replacements(plan: dict[str, Any]) -> list[str]:
    """Addresses of the guarded resources this plan deletes and creates again."""
    return [
        rc["address"]
        for rc in plan.get("resource_changes", [])
        if rc["type"] in GUARDED_TYPES and {"delete", "create"} <= set(rc["change"]["actions"])
    ]


@dataclass
class Upgrade:
    baseline: Baseline
    workdir: Path
    runs: dict[str, replay.ScriptRun] = field(default_factory=dict)
    plans: list[dict[str, Any]] = field(default_factory=list)
    family_change: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def replaced(self) -> list[str]:
        return [address for plan in self.plans for address in replacements(plan)]


class UpgradeRun(replay.Run):
    def __init__(self, tools: replay.Tools) -> None:
        super().__init__(ENV, tools, harness.BUILD / "replay" / "upgrade")
        self.upgrade = Upgrade(baseline(), self.replay.workdir)

    def __call__(self) -> Upgrade:  # type: ignore[override]
        done = super().__call__()
        self.upgrade.runs = done.runs
        self.upgrade.error = done.error
        return self.upgrade

    def steps(self) -> None:
        workdir = self.replay.workdir
        current = self.repo
        released = self.worktree(workdir / "released")
        try:
            # The recorded release, deployed by its own deploy.sh into an
            # account whose state bucket exists (made as Terragrunt makes it).
            self.repo = released
            self.terragrunt("backend", "bootstrap")
            self.expect(self.script(BASELINE, "deploy.sh"), 0)
            # This working tree over it, each apply planned and kept.
            self.repo = current
            self.extra_env = {"REPLAY_SAVE_PLANS": str(workdir / "plans")}
            try:
                self.expect(self.script(UPGRADE, "deploy.sh"), 0)
            finally:
                # Kept even when an apply failed: the plan says what it tried to replace.
                self.extra_env = {}
                plans = sorted((workdir / "plans").glob("*.json"), key=lambda p: int(p.stem))
                self.upgrade.plans = [json.loads(path.read_text()) for path in plans]
            self.upgrade.family_change = self.plan_next_major()
        finally:
            subprocess.run(
                ["git", "-C", str(replay.ROOT), "worktree", "remove", "--force", str(released)],
                capture_output=True,
                check=False,
            )

    def worktree(self, dest: Path) -> Path:
        commit = self.upgrade.baseline.commit
        found = subprocess.run(
            ["git", "-C", str(replay.ROOT), "cat-file", "-e", f"{commit}^{{commit}}"],
            capture_output=True,
            check=False,
        )
        if found.returncode:
            raise replay.ReplayError(
                f"the recorded release {commit} is not in this clone "
                "(CI checks out the full history)"
            )
        # A worktree left registered by an interrupted run would block the add.
        subprocess.run(["git", "-C", str(replay.ROOT), "worktree", "prune"], check=True)
        subprocess.run(
            ["git", "-C", str(replay.ROOT), "worktree", "add", "--detach", str(dest), commit],
            capture_output=True,
            check=True,
        )
        return dest

    def environ(self) -> dict[str, str]:
        return {**super().environ(), **getattr(self, "extra_env", {})}

    def plan_next_major(self) -> dict[str, Any]:
        """The upgraded stack planned with the next MySQL major version (as a
        module override in the stand-in's copy, removed afterwards)."""
        (call,) = [
            c for c in self.replay.calls("terragrunt") if c["run"] == UPGRADE and "stack" in c
        ][-1:]
        stack = Path(call["stack"])
        override = stack / "next_major_override.tf"
        override.write_text(f'module "{RDS_MODULE}" {{\n  engine_version = "{NEXT_MAJOR}"\n}}\n')
        try:
            tag = self.image_tag()
            self.terragrunt("plan", "-input=false", "-out=tfnextmajor", "-var", f"image_tag={tag}")
            return dict(json.loads(self.terragrunt("show", "-json", "tfnextmajor")))
        finally:
            override.unlink()


def upgrade(tools: replay.Tools) -> Any:
    """The upgrade replay, started on its first request (beside the others)."""
    return replay._once("upgrade", UpgradeRun(tools))
