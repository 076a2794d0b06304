"""`make bench`: every benchmark in turn, then one summary of the medians.

Each script also runs alone (`.venv/bin/python bench/bench_post.py --help`).
A missed target is reported, not an error; a benchmark that fails is.

The figures, each benchmark's command, its start and end (UTC) and the
machine's load around it go to bench/results.json (--output), from which
scripts/docs_results.py renders docs/performance/results.md: a figure is
never quoted without the run that measured it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SCRIPTS = (
    "post_cpu",
    "bench_post",
    "bench_drain",
    "bench_get",
    "bench_latency",
    "bench_tracing",
    "bench_redis_ops",
    "bench_summary_shards",
    "bench_partitions",
)
# Run only when named (--only): this tree against the last release, in a git
# worktree, takes as long as the rest together.
OPTIONAL = ("bench_against",)
# The scripts that have a --quick mode (one short run); --quick passes it on.
QUICK = ("bench_redis_ops", "bench_summary_shards")
RESULTS = BENCH / "results.json"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def machine_load() -> dict[str, Any]:
    """What `uptime` says, and the load averages as numbers: the machine may be
    shared, and a figure means little without the load it was measured under."""
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    return {"uptime": uptime.strip(), "loadavg": [round(x, 2) for x in os.getloadavg()]}


def server_version(argv: list[str], pattern: str, name: str) -> str:
    """`MariaDB 10.11.19`, `Redis 7.0.15`: what the figures were measured against."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return f"{name} (version unknown)"
    match = re.search(pattern, out.stdout + out.stderr)
    return f"{name} {match[1]}" if match else f"{name} (version unknown)"


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "mariadb": server_version(["mariadb", "--version"], r"Distrib ([\d.]+)-MariaDB", "MariaDB"),
        "redis": server_version(["redis-server", "--version"], r"v=([\d.]+)", "Redis"),
    }


def python() -> str:
    """This interpreter as a person would type it from the repository root."""
    return os.path.relpath(sys.executable, ROOT) if sys.prefix != sys.base_prefix else "python3"


def argv(name: str, runs: int, quick: bool) -> list[str]:
    return [
        f"bench/{name}.py",
        "--runs",
        str(runs),
        *(["--quick"] if quick and name in QUICK else []),
    ]


def run_benchmark(
    script_argv: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None
) -> tuple[bool, dict[str, Any]]:
    """Run one benchmark script (its path and flags, from `cwd`) with --json:
    whether it succeeded, and the figures it saved (each script saves them
    under one key of its own: "post", "drain", ...)."""
    with tempfile.TemporaryDirectory() as tmp:
        figures_file = Path(tmp) / "figures.json"
        run = [sys.executable, *script_argv, "--json", str(figures_file)]
        ok = subprocess.run(run, cwd=cwd, env=env, check=False).returncode == 0
        saved = json.loads(figures_file.read_text()) if figures_file.exists() else {}
    return ok, next(iter(saved.values()), {})


def command(name: str, runs: int, quick: bool = False) -> str:
    """The command that reproduces one benchmark's figures, from the repository root."""
    return shlex.join([python(), *argv(name, runs, quick)])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=3, help="runs per figure (median reported)")
    p.add_argument("--only", nargs="+", choices=SCRIPTS + OPTIONAL, default=list(SCRIPTS))
    p.add_argument("--output", type=Path, default=RESULTS, help="where the results go (JSON)")
    p.add_argument("--quick", action="store_true", help=f"pass --quick to {', '.join(QUICK)}")
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the other benchmarks' figures already in --output (the update is recorded)",
    )
    args = p.parse_args()
    started = time.monotonic()
    failed = []
    repeat = shlex.join(
        [
            python(),
            "bench/run_all.py",
            "--runs",
            str(args.runs),
            "--only",
            *args.only,
            *(["--quick"] if args.quick else []),
            *(["--merge"] if args.merge else []),
        ]
    )
    results: dict[str, Any] = {
        "command": "make bench" if args.only == list(SCRIPTS) and args.runs == 3 else repeat,
        "started": now(),
        "machine": machine(),
        "load_before": machine_load(),
        "runs": args.runs,
        "benchmarks": {},
    }
    expected = len(args.only)
    if args.merge and args.output.exists():
        # The earlier run's record stands; this one is listed as an update of it,
        # and each benchmark entry says which command measured it and when.
        results = json.loads(args.output.read_text())
        results.setdefault("updates", []).append(
            {"command": repeat, "started": now(), "benchmarks": args.only}
        )
        expected = len(set(results["benchmarks"]) | set(args.only))
    for name in args.only:
        print(f"\n=== {name} ===", flush=True)
        entry: dict[str, Any] = {
            "command": command(name, args.runs, args.quick),
            "started": now(),
            "load_before": machine_load(),
        }
        ok, figures = run_benchmark(argv(name, args.runs, args.quick))
        if not ok:
            failed.append(name)
        entry.update(finished=now(), load_after=machine_load(), ok=ok, figures=figures)
        results["benchmarks"][name] = entry
        # After every benchmark: a run cut short keeps what it finished, and says so.
        if args.merge and "updates" in results:
            results["updates"][-1].update(finished=now(), load_after=entry["load_after"])
        else:
            results.update(
                finished=now(),
                load_after=entry["load_after"],
                seconds=round(time.monotonic() - started),
            )
        results["complete"] = len(results["benchmarks"]) == expected
        args.output.write_text(json.dumps(results, indent=2, allow_nan=True) + "\n")
    print(f"\n=== all figures (medians of {args.runs} runs) ===")
    print(json.dumps({k: v["figures"] for k, v in results["benchmarks"].items()}, indent=2))
    took = round(time.monotonic() - started)
    print(f"\nthis run took {took} s; results in {args.output}", flush=True)
    print("render the docs pages: make docs-results (make bench does)", flush=True)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
