"""The upgrade from the recorded release (.release-baseline) to this working
tree, replayed on moto (upgrade.py): the release deployed by its own
deploy.sh from a git worktree, then this tree's deploy.sh over it.

Nothing that holds state or traffic may be replaced (deleted and created
again) unless CHANGELOG.md's Unreleased "Upgrading" section names its
Terraform address in backticks with the reason. moto holds neither the Redis
cache (moto has no serverless cache) nor the CloudFront VPC origin (no
CreateVpcOrigin): their replacement cannot be seen here.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tests.repo.deploy import upgrade
from tests.repo.deploy.upgrade import BASELINE, CHANGELOG, UPGRADE, Upgrade

PARAMETER_GROUP = f"module.{upgrade.RDS_MODULE}.aws_db_parameter_group.this"
INSTANCE = f"module.{upgrade.RDS_MODULE}.aws_db_instance.this"


def reached(done: Upgrade, label: str) -> None:
    if label not in done.runs:
        pytest.fail(f"the upgrade replay stopped before '{label}': {done.error}")
    run = done.runs[label]
    assert run.returncode == 0, run.tail()


@pytest.mark.slow  # the upgraded fixture: two deploy.sh replays on moto
def test_the_recorded_release_deploys_then_upgrades(upgraded: Upgrade) -> None:
    reached(upgraded, BASELINE)
    reached(upgraded, UPGRADE)
    assert upgraded.error is None, upgraded.error
    # deploy.sh applies twice (infrastructure, then the release): both planned.
    assert len(upgraded.plans) == 2


@pytest.mark.slow  # the upgraded fixture: two deploy.sh replays on moto
def test_the_upgrade_replaces_nothing_unexplained(upgraded: Upgrade) -> None:
    # Judged on the plans, also when an apply then failed (as replacing a group
    # that another still references fails in AWS).
    if not upgraded.plans:
        pytest.fail(f"the upgrade replay planned nothing: {upgraded.error}")
    explained = upgrade.explained_replacements(CHANGELOG.read_text())
    unexplained = sorted(set(upgraded.replaced()) - explained)
    assert unexplained == [], (
        "replaced on upgrade, and not named in CHANGELOG.md's Unreleased "
        f"Upgrading section: {unexplained}"
    )


def actions(plan: dict[str, Any], address: str) -> list[str]:
    (change,) = [rc for rc in plan["resource_changes"] if rc["address"] == address]
    return list(change["change"]["actions"])


@pytest.mark.slow  # the upgraded fixture: two deploy.sh replays on moto
def test_a_parameter_family_change_creates_the_new_group_first(upgraded: Upgrade) -> None:
    """The provider's aws_db_parameter_group docs: a family change during a
    major version upgrade needs create_before_destroy, else the group in use
    is deleted first and RDS refuses."""
    reached(upgraded, UPGRADE)
    plan = upgraded.family_change
    assert actions(plan, PARAMETER_GROUP) == ["create", "delete"]
    assert actions(plan, INSTANCE) == ["update"]


def test_the_baseline_is_a_released_version() -> None:
    recorded = upgrade.baseline()
    assert re.fullmatch(r"[0-9a-f]{40}", recorded.commit)
    assert f"## [{recorded.version}]" in CHANGELOG.read_text()
    released = subprocess.run(
        ["git", "-C", str(upgrade.replay.ROOT), "show", f"{recorded.commit}:pyproject.toml"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(rf'^version = "{re.escape(recorded.version)}"$', released, re.M)


def test_only_the_unreleased_upgrading_section_explains() -> None:
    changelog = """# Changelog

## [Unreleased]

### Changed

- `module.alb.aws_lb.this` mentioned here explains nothing.

### Upgrading

- `module.alb.aws_security_group.this`: replaced because its description changed.
- `module.frontend.aws_s3_bucket.this["logs"]`: moved.

## [0.1.0] - 2026-12-07

### Upgrading

- `module.rds.aws_db_instance.this`: an older release's note.
"""
    assert upgrade.explained_replacements(changelog) == {
        "module.alb.aws_security_group.this",
        'module.frontend.aws_s3_bucket.this["logs"]',
    }
    assert upgrade.replacements(
        {
            "resource_changes": [
                {"address": "a", "type": "aws_lb", "change": {"actions": ["delete", "create"]}},
                {"address": "b", "type": "aws_lb", "change": {"actions": ["create", "delete"]}},
                {"address": "c", "type": "aws_lb", "change": {"actions": ["update"]}},
                {
                    "address": "d",
                    "type": "aws_iam_role",
                    "change": {"actions": ["delete", "create"]},
                },
            ]
        }
    ) == ["a", "b"]
