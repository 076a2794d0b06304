"""docs/performance/capacity.md's model is rendered from bench/results.json: every
coefficient names the benchmark, run and load it came from, and `--check`
fails when page and JSON disagree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.services import ROOT

SCRIPT = ROOT / "scripts" / "docs_capacity.py"
sys.path.insert(0, str(SCRIPT.parent))
import docs_capacity  # noqa: E402
import docs_results  # noqa: E402


def recorded() -> dict:  # type: ignore[type-arg]
    return json.loads(docs_results.RESULTS.read_text())


def test_the_page_matches_the_recorded_run() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_every_coefficient_says_where_it_came_from() -> None:
    results = recorded()
    page = docs_capacity.PAGE.read_text()
    for c in docs_capacity.coefficients(results):
        assert c.value is not None, f"{c.name}: {c.benchmark} has no {c.key} in results.json"
        entry = results["benchmarks"][c.benchmark]
        assert f"`{c.benchmark}` → `{c.key}`: `{entry['command']}`" in page
        assert docs_results.load(entry) in page


def test_a_coefficient_changed_in_the_json_makes_the_page_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "capacity.md"
    page.write_text(docs_capacity.PAGE.read_text())
    monkeypatch.setattr(docs_capacity, "PAGE", page)
    changed = recorded()
    changed["benchmarks"]["bench_drain"]["figures"][
        "countq_batch1000_consumers1_cpu_us_per_msg"
    ] = 600.0
    other = tmp_path / "changed.json"
    other.write_text(json.dumps(changed))
    assert docs_capacity.main(["--check", "--results", str(other)]) == 1
    assert docs_capacity.main(["--results", str(other)]) == 0
    # 600 µs a message at 1,000/s is 0.6 vCPU: 2 tasks of 0.5 vCPU at 60 % (0.3 each).
    assert "| 1,000 | 1 | 2 |" in page.read_text()


def test_a_missing_benchmark_is_said_not_measured() -> None:
    results = recorded()
    del results["benchmarks"]["bench_redis_ops"]
    rendered = docs_capacity.render(results)
    assert "| Redis CPU per message: read | not measured |" in rendered
    assert "The model needs figures not in bench/results.json yet" in rendered


def test_summary_shards_keep_a_consumer_alone_on_its_row_nine_times_in_ten() -> None:
    assert docs_capacity.shards_for(1) == 1
    assert docs_capacity.shards_for(7) <= 64 < docs_capacity.shards_for(8)


def test_the_rds_class_is_the_smallest_with_room() -> None:
    assert docs_capacity.rds_class(0.3) == "db.t4g.small"  # under 20 % of 2 burstable vCPUs
    assert docs_capacity.rds_class(1.0) == "db.m6g.large"
    assert docs_capacity.rds_class(2.0) == "db.m6g.xlarge"
