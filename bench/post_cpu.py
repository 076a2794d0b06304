"""CPU per POST /count inside the application, without an HTTP server or a client.

Requests go straight into the ASGI app (50 at a time, as 50 connections would
send them), countq's and the ceiling's (`ceiling_app.py`) alternating in one
process, against the real Redis. Process CPU time is counted, not wall time,
so the figure holds on a busy machine where wrk's req/s does not: it is the
one to compare when changing the request path. `bench_post.py` gives what
these microseconds become through uvicorn.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import common
import uvloop
from ceiling_app import app as ceiling

BODY = b'{"count": 1764283170}'
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/count",
    "raw_path": b"/count",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"localhost"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


async def post(app: Any) -> int:
    """One POST /count through `app`; its status."""
    messages = [{"type": "http.request", "body": BODY, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client never disconnects
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(SCOPE), receive, send)
    return status


async def started(app: Any) -> asyncio.Queue[dict[str, str]]:
    """`app` after its lifespan's startup; put a shutdown on the queue to stop it."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    answer = await outbox.get()
    if answer["type"] != "lifespan.startup.complete":
        raise SystemExit(f"app did not start: {answer}")
    task.add_done_callback(lambda _: None)
    return inbox


async def cpu_per_post(app: Any, requests: int, concurrency: int) -> float:
    """Microseconds of this process's CPU per POST, `concurrency` in flight at once."""
    start = time.process_time()
    for _ in range(requests // concurrency):
        statuses = await asyncio.gather(*(post(app) for _ in range(concurrency)))
        if set(statuses) != {202}:
            raise SystemExit(f"expected only 202s, got {sorted(set(statuses))}")
    return (time.process_time() - start) / requests * 1e6


async def measure(runs: int, requests: int, concurrency: int) -> dict[str, list[float]]:
    from countq.api.app import create_app  # after main() set its environment

    countq = create_app()
    stop = await started(countq)
    apps = {"ceiling": ceiling, "countq": countq}
    for app in apps.values():  # warm: imports, first connections, caches
        await cpu_per_post(app, 1000, concurrency)
    figures: dict[str, list[float]] = {name: [] for name in apps}
    for run in range(runs):
        for name, app in apps.items():
            figures[name].append(await cpu_per_post(app, requests, concurrency))
        done = ", ".join(f"{name} {values[-1]:.1f} µs" for name, values in figures.items())
        common.log(f"run {run + 1}: {done}")
    await stop.put({"type": "lifespan.shutdown"})
    return figures


def main() -> None:
    p = common.parser(__doc__ or "")
    p.add_argument("--requests", type=int, default=20_000, help="POSTs per app per run")
    p.add_argument("--concurrency", type=int, default=50, help="POSTs in flight at once")
    args = p.parse_args()
    with common.redis_queue("post-cpu") as queue:
        os.environ.update(REDIS_URL=common.REDIS_URL, REDIS_QUEUE=queue, LOG_LEVEL="WARNING")
        os.environ["MAX_BACKLOG"] = "100000000"
        figures = uvloop.run(measure(max(args.runs, 3), args.requests, args.concurrency))
    countq, ceiling = common.median(figures["countq"]), common.median(figures["ceiling"])
    common.table(
        f"CPU per POST /count in the app, no HTTP server (median of {len(figures['countq'])})",
        ["app", "µs CPU / POST", "ratio to ceiling"],
        [
            ["ceiling (FastAPI POST that only reads the body)", common.fmt(ceiling), "1.00"],
            ["countq (validate, enqueue, answer)", common.fmt(countq), f"{countq / ceiling:.2f}"],
        ],
    )
    common.save(
        args.json,
        "post_cpu",
        {"countq_us": countq, "ceiling_us": ceiling, "ratio": countq / ceiling},
    )


if __name__ == "__main__":
    main()
