"""docs/performance/results.md's figures are rendered from bench/results.json
(what `make bench` writes): each with the command that reproduces it, when it
ran and the machine's load, and `--check` fails when page and JSON disagree."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.services import ROOT

SCRIPT = ROOT / "scripts" / "docs_results.py"
sys.path.insert(0, str(SCRIPT.parent))
import docs_results  # noqa: E402

SAMPLE = Path(__file__).with_name("sample_results.json")
X, DASH = docs_results.X, docs_results.DASH


def recorded() -> dict:  # type: ignore[type-arg]
    return json.loads(docs_results.RESULTS.read_text())


def rendered_alone(name: str, figures: dict[str, object]) -> str:
    """The results section of the sample run holding only benchmark `name`."""
    results = json.loads(SAMPLE.read_text())
    entry = results["benchmarks"]["post_cpu"]
    results["benchmarks"] = {name: {**entry, "figures": figures}}
    return docs_results.section(results)


def test_the_page_matches_the_recorded_run() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_every_recorded_benchmark_says_how_when_and_under_what_load() -> None:
    results = recorded()
    assert results["benchmarks"], "bench/results.json holds no benchmark"
    assert "load average" in results["load_before"]["uptime"]
    page = docs_results.PAGE.read_text()
    for name, entry in results["benchmarks"].items():
        assert entry["figures"], f"{name} recorded no figures"
        assert len(entry["load_before"]["loadavg"]) == 3
        assert f"`{entry['command']}`: {docs_results.when(entry)}" in page
        assert docs_results.load(entry) in page


def test_every_recorded_command_runs() -> None:
    """The command beside a figure is one that parses: its script and flags exist."""
    for entry in recorded()["benchmarks"].values():
        argv = shlex.split(entry["command"])
        assert (ROOT / argv[0]).exists() or argv[0] == "python3", argv
        script = ROOT / argv[1]
        result = subprocess.run(
            [sys.executable, str(script), *argv[2:], "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr


def test_a_figure_changed_in_the_json_makes_the_page_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "results.md"
    page.write_text(docs_results.PAGE.read_text())
    monkeypatch.setattr(docs_results, "PAGE", page)
    assert docs_results.main(["--results", str(SAMPLE)]) == 0
    row = f"| CPU per POST inside the app, no HTTP server | 38.9 µs | 33.9 µs | 1.15{X} |"
    assert row in page.read_text()
    assert docs_results.main(["--check", "--results", str(SAMPLE)]) == 0
    changed = json.loads(SAMPLE.read_text())
    changed["benchmarks"]["post_cpu"]["figures"]["countq_us"] = 99.0
    other = tmp_path / "changed.json"
    other.write_text(json.dumps(changed))
    assert docs_results.main(["--check", "--results", str(other)]) == 1


def test_targets_come_from_the_bench_scripts() -> None:
    rendered = docs_results.section(json.loads(SAMPLE.read_text()))
    assert f"Target: ≥ 0.7{X} the ceiling's req/s and p99 ≤ 25 ms" in rendered
    assert f"Target: ≥ {docs_results.num(docs_results.target('bench_drain', 'TARGET'))}" in (
        rendered
    )
    when = f"2026-12-07 16:01{DASH}16:02 UTC, load average (1, 5, 15 min) 1, 2, 3 before"
    assert when in rendered


def test_an_unknown_benchmark_is_rendered_figure_by_figure() -> None:
    assert "| `a.b` | 1.50 |" in rendered_alone("bench_new", {"a": {"b": 1.5}})


def test_a_run_cut_short_says_so() -> None:
    results = json.loads(SAMPLE.read_text())
    assert "cut short" not in docs_results.section(results)
    results["complete"] = False
    assert "**The run was cut short**" in docs_results.section(results)


def test_a_side_by_side_run_against_an_earlier_commit_shows_both_and_the_ratio() -> None:
    figure = {"label": "drain msg/s", "ref": 20000.0, "this": 19000.0, "ratio": 0.95}
    figures = {"ref": "47eafc8cf9", "ref_short": "47eafc8", "figures": {"drain": figure}}
    rendered = rendered_alone("bench_against", figures)
    assert "### This tree against an earlier commit" in rendered
    assert f"| drain msg/s | 20,000 | 19,000 | 0.95{X} |" in rendered


def test_tracing_off_and_on_are_shown_with_the_cost_of_on() -> None:
    figures: dict[str, object] = {
        "post_off_rps": 10000.0, "post_on_rps": 8000.0,
        "post_off_ratio_to_ceiling": 0.9, "post_on_ratio_to_ceiling": 0.72,
        "post_off_p99_ms": 9.0, "post_on_p99_ms": 18.0,
        "post_off_cpu_us": 100.0, "post_on_cpu_us": 125.0,
        "drain_off_msgs_per_s": 60000.0, "drain_on_msgs_per_s": 45000.0,
        "drain_off_cpu_us_per_msg": 10.0, "drain_on_cpu_us_per_msg": 12.5,
        "sample_ratio": 0.1, "spans_received": 1234,
    }  # fmt: skip
    rendered = rendered_alone("bench_tracing", figures)
    assert "with 10% of traces sampled" in rendered
    assert "1,234 spans received" in rendered
    assert "| POST /count req/s | 10,000 | 8,000 | -20% |" in rendered
    assert "| producer CPU per request | 100 µs | 125 µs | +25% |" in rendered
