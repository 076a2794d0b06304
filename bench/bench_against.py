"""This tree against an earlier commit, side by side in one run: did a change
slow the request path or the drain down?

The earlier commit (--ref, by default the last release, `.release-baseline`)
is checked out in a git worktree, and its own benchmark scripts run there
with its own `src` first on PYTHONPATH, so its producer, consumer and
migrations are the ones measured; this tree's scripts run here. Each round
runs every benchmark four times, ref, this, this, ref: on this machine the
first of two back-to-back runs was faster by up to 10% (7 alternating drain
pairs, 2026-12-07), so a side that always went first, or first more often,
would win by its place. A round's ratio is this side's two runs over the
ref's two; the table gives each side's median and the median of the rounds'
ratios.

The figures compared are each benchmark's own headline: CPU per POST in the
app (post_cpu.py), POST /count's req/s, ratio to the ceiling and p99 at one
worker (bench_post.py), the drain rate at batch 1000 with one consumer
(bench_drain.py), and POST -> stored p50 and p99 at 5,000/s
(bench_latency.py). A side's figure is whatever that side's script printed,
from the same arguments.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import ROOT, log, median, parser, save, table
from run_all import run_benchmark

# The release's record, read where the upgrade replay reads it.
sys.path.insert(0, str(ROOT))
from tests.helpers.release import baseline

# (script, its arguments, [(figure path in its JSON, label)]).
CASES: list[tuple[str, list[str], list[tuple[str, str]]]] = [
    ("post_cpu", [], [("countq_us", "CPU per POST in the app, us")]),
    (
        "bench_post",
        ["--workers", "1"],
        [
            ("workers_1.countq_rps", "POST /count req/s (1 worker)"),
            ("workers_1.ratio_to_ceiling", "POST /count, ratio to the ceiling"),
            ("workers_1.countq_p99_ms", "POST /count p99, ms"),
        ],
    ),
    (
        "bench_drain",
        [
            "--batches",
            "1000",
            "--consumers",
            "1",
            "--messages",
            "100000",
            "--naive-messages",
            "1000",
        ],
        [
            ("countq_batch1000_consumers1", "drain msg/s (batch 1000, 1 consumer)"),
            ("countq_batch1000_consumers1_cpu_us_per_msg", "consumer CPU per message, us"),
        ],
    ),
    (
        "bench_latency",
        # The naive pair's catch-up is not compared: 5 s of it, not 30.
        ["--drain-timeout", "5"],
        [
            ("countq.p50_ms", "POST -> stored p50 at 5,000/s, ms"),
            ("countq.p99_ms", "POST -> stored p99 at 5,000/s, ms"),
        ],
    ),
]


@contextmanager
def worktree(ref: str) -> Iterator[Path]:
    """`ref` checked out beside this tree (detached), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="countq-bench-ref-"))
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", "--quiet", str(path), ref], check=True)
    try:
        yield path
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)


def run_once(tree: Path, script: str, args: list[str]) -> dict[str, Any]:
    """One run of `tree`'s own benchmark script against `tree`'s own countq."""
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    ok, figures = run_benchmark([f"bench/{script}.py", "--runs", "1", *args], tree, env)
    if not ok:
        raise SystemExit(f"bench_against: bench/{script}.py failed in {tree}")
    return figures


def pick(figures: dict[str, Any], path: str) -> float:
    value: Any = figures
    for part in path.split("."):
        value = value[part]
    return float(value)


def main() -> None:
    p = parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--ref", default=None, help="the earlier commit (default: the last release)")
    p.add_argument(
        "--only", nargs="+", choices=[c[0] for c in CASES], default=[c[0] for c in CASES]
    )
    args = p.parse_args()
    ref = args.ref or baseline().commit
    short = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", ref],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    cases = [c for c in CASES if c[0] in args.only]
    # figure -> side -> every run's value; figure -> each round's ratio.
    seen: dict[str, dict[str, list[float]]] = {}
    ratios: dict[str, list[float]] = {}
    with worktree(ref) as ref_tree:
        trees = {"ref": ref_tree, "this": ROOT}
        for run in range(1, args.runs + 1):
            for script, script_args, wanted in cases:
                got: dict[str, dict[str, float]] = {"ref": {}, "this": {}}
                for side in ("ref", "this", "this", "ref"):
                    log(f"run {run} {script} on {side} ({short if side == 'ref' else 'this tree'})")
                    figures = run_once(trees[side], script, script_args)
                    for path, _ in wanted:
                        value = pick(figures, path)
                        seen.setdefault(path, {"ref": [], "this": []})[side].append(value)
                        got[side][path] = got[side].get(path, 0.0) + value
                for path, _ in wanted:
                    before, after = got["ref"][path], got["this"][path]
                    ratios.setdefault(path, []).append(after / before if before else float("nan"))
    compared: dict[str, dict[str, float | str | bool]] = {}
    rows = []
    for _, _, wanted in cases:
        for path, label in wanted:
            before, after = median(seen[path]["ref"]), median(seen[path]["this"])
            ratio = median(ratios[path])
            compared[path] = {
                "label": label,
                "ref": before,
                "this": after,
                "ratio": ratio,
            }
            rows.append([label, f"{before:,.2f}", f"{after:,.2f}", f"{ratio:.2f}x"])
    table(
        f"This tree against {short}: medians of {2 * args.runs} runs a side;"
        f" this / ref is the median of {args.runs} rounds' ratios (ref, this, this, ref)",
        ["figure", short, "this tree", "this / ref"],
        rows,
    )
    save(args.json, "against", {"ref": ref, "ref_short": short, "figures": compared})


if __name__ == "__main__":
    main()
