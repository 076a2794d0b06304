"""The harness reruns a Terraform command only after a dropped connection to
moto, never after an error an API answered with. A stand-in `terraform` script
records its calls so the rule itself is checked here; the real Terraform runs
in test_environments.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.repo.infra.harness import Terraform, TerraformError

DROPPED = (
    "Error: reading CloudWatch Logs Log Group: "
    "read tcp 127.0.0.1:1->127.0.0.1:2: use of closed network connection"
)
ANSWERED = "Error: creating ECS Service: InvalidParameterException: no such cluster"


def stand_in(tmp_path: Path, failures: list[str]) -> tuple[Terraform, Path]:
    """A `terraform` that prints failures[i] and exits 1 on call i, then succeeds."""
    calls = tmp_path / "calls"
    script = tmp_path / "terraform"
    lines = ["#!/usr/bin/env bash", f'echo "$*" >> {calls}', f"n=$(wc -l < {calls})"]
    for i, message in enumerate(failures, start=1):
        lines.append(f'if [ "$n" -eq {i} ]; then echo "{message}" >&2; exit 1; fi')
    lines.append("echo ok")
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    return Terraform(str(script), {"PATH": "/usr/bin:/bin"}, tmp_path / "log"), calls


def test_dropped_connection_reruns_apply_without_the_stale_plan(tmp_path: Path) -> None:
    tf, calls = stand_in(tmp_path, [DROPPED])
    assert tf(tmp_path, "apply", "-no-color", "-auto-approve", "tfplan").stdout == "ok\n"
    assert calls.read_text().splitlines() == [
        "apply -no-color -auto-approve tfplan",
        "apply -no-color -auto-approve",
    ]


def test_answered_error_fails_at_once(tmp_path: Path) -> None:
    tf, calls = stand_in(tmp_path, [ANSWERED])
    with pytest.raises(TerraformError, match="no such cluster"):
        tf(tmp_path, "destroy", "-no-color", "-auto-approve")
    assert len(calls.read_text().splitlines()) == 1


def test_reruns_are_bounded(tmp_path: Path) -> None:
    tf, calls = stand_in(tmp_path, [DROPPED] * 5)
    with pytest.raises(TerraformError, match="use of closed network connection"):
        tf(tmp_path, "destroy", "-no-color", "-auto-approve")
    assert len(calls.read_text().splitlines()) == 3
