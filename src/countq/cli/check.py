"""`countq check`: the container health check, for producer and consumer alike.

It needs no argument: where a consumer runs under this DATA_DIR, its heartbeat
decides (countq.worker.heartbeat); elsewhere, the producer's GET /health on
HTTP_PORT does.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request

from countq.config import Settings
from countq.worker import heartbeat


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("check", help="health check for either: exit 0 when healthy")
    p.set_defaults(handler=handler)


def handler(args: argparse.Namespace, settings: Settings) -> int:
    problem = unhealthy(settings)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


def unhealthy(settings: Settings) -> str | None:
    """None when healthy, else why not, in one line."""
    ages = heartbeat.ages(settings.data_dir)
    if ages:
        stuck = [
            f"consumer {pid} silent for {age:.0f} s"
            for pid, age in ages.items()
            if age >= settings.consumer_stall_s
        ]
        return "; ".join(stuck) or None
    url = f"http://127.0.0.1:{settings.http_port}/health"
    return None if answers(url) else f"{url} does not answer 200"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (our http URLs)
            return bool(response.status == 200)
    except OSError:
        return False
