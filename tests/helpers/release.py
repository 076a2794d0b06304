"""The release an upgrade starts from, as `.release-baseline` records it: the
upgrade replay deploys it, and bench/bench_against.py measures against it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.helpers.services import ROOT

BASELINE_FILE = ROOT / ".release-baseline"


@dataclass(frozen=True)
class Baseline:
    version: str
    commit: str


def baseline() -> Baseline:
    """.release-baseline: `version = X` and `commit = <sha>`."""
    found = dict(re.findall(r"^(\w+) *= *(\S+)$", BASELINE_FILE.read_text(), re.M))
    return Baseline(found["version"], found["commit"])
