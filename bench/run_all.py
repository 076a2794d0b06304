"""`make bench`: every benchmark in turn, then one summary of the medians.

Each script also runs alone (`.venv/bin/python bench/bench_post.py --help`).
A missed target is reported, not an error; a benchmark that fails is.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ("post_cpu", "bench_post", "bench_drain", "bench_get", "bench_latency", "bench_tracing")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=3, help="runs per figure (median reported)")
    p.add_argument("--only", nargs="+", choices=SCRIPTS, default=list(SCRIPTS))
    args = p.parse_args()
    started = time.monotonic()
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        for name in args.only:
            print(f"\n=== {name} ===", flush=True)
            argv = [sys.executable, str(BENCH / f"{name}.py"), "--runs", str(args.runs)]
            if subprocess.run([*argv, "--json", str(results)], check=False).returncode:
                failed.append(name)
        figures = json.loads(results.read_text()) if results.exists() else {}
    print(f"\n=== all figures (medians of {args.runs} runs) ===")
    print(json.dumps(figures, indent=2))
    print(f"\nmake bench took {time.monotonic() - started:.0f} s", flush=True)
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
