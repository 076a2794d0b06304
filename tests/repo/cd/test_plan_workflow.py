"""plan.yml's own Plan step, run as the plan role with moto enforcing IAM,
on the state the deploy replay deployed (tests/repo/deploy/replay.py runs it
between the first deploy and the next; roles.py assumes the role).

The state must hold a deployed stack: a data source that depends on a
resource with pending changes is read at apply, not at plan, so on an empty
state the plan would never read `data.aws_security_group.cloudfront`.
For test, the replay runs the step a second time with ec2:DescribeSecurityGroups
taken out of the role: that run must fail, or this test proves nothing.
"""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from tests.repo.cd.plan_workflow import PlanRun
from tests.repo.deploy import replay, roles

SECURITY_GROUP_DATA = "module.alb.data.aws_security_group.cloudfront"


def plan_runs(replays: dict[str, Future[replay.Replay]], env: str) -> dict[str, PlanRun]:
    done = replays[env].result()
    if not done.plan_runs:
        pytest.fail(f"{env}: the replay stopped before plan.yml's step ran: {done.error}")
    return done.plan_runs


@pytest.mark.parametrize("env", replay.REPLAYED)
def test_plan_step_succeeds_as_the_plan_role(
    replays: dict[str, Future[replay.Replay]], env: str
) -> None:
    run = plan_runs(replays, env)["plan role"]
    assert run.returncode == 0, f"{run.log[-3000:]}\n{run.stderr[-3000:]}"
    assert run.denied == []
    # A plan of the deployed stack, its data sources read with the role's credentials.
    assert SECURITY_GROUP_DATA in run.data_read(), run.data_read()
    assert run.plan["resource_changes"]
    # The image tag reached the stack (plan.yml once exported an IMAGE_TAG nothing read).
    assert run.plan["variables"]["image_tag"]["value"].startswith(f"{env}-")


@pytest.mark.parametrize("env", sorted(set(replay.REPLAYED) & set(replay.NEXT_COMMIT)))
def test_plan_step_fails_without_describe_security_groups(
    replays: dict[str, Future[replay.Replay]], env: str
) -> None:
    run = plan_runs(replays, env)[roles.WITHOUT_SECURITY_GROUPS]
    assert run.returncode != 0, run.log[-3000:]
    assert "ec2:DescribeSecurityGroups" in run.log + run.stderr
    assert {d["action"] for d in run.denied} == {"ec2:DescribeSecurityGroups"}, run.denied
