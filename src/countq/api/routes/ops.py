"""For operators and the page: liveness, readiness, the pipeline's figures, metrics."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from countq.api.deps import HOSTNAME, Database, Queue
from countq.api.errors import REDIS_DOWN, UNAVAILABLE
from countq.api.metrics import metrics_text
from countq.api.schemas import Health, Json, Readiness, StatsOut
from countq.db import repo


async def health() -> Health:
    return Health(status="ok", hostname=HOSTNAME)


async def ready(queue: Queue, engine: Database) -> Json:
    checks = {"redis": "ok", "database": "ok"}
    try:
        await queue.ping()
    except REDIS_DOWN as exc:
        checks["redis"] = f"error: {type(exc).__name__}: {exc}"
    try:
        await run_in_threadpool(repo.ping, engine)
    except SQLAlchemyError as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ok else "unavailable", **checks}
    return Json(body, status_code=200 if ok else 503)


async def stats(queue: Queue, engine: Database) -> StatsOut:
    figures = await queue.stats()
    p50, p99 = await queue.end_to_end()
    summary = await run_in_threadpool(repo.summary, engine)
    return StatsOut(
        **figures,
        stored_rows=summary.rows,
        end_to_end_p50_seconds=p50,
        end_to_end_p99_seconds=p99,
        hostname=HOSTNAME,
    )


async def metrics() -> Response:
    return Response(metrics_text(), media_type=CONTENT_TYPE_LATEST)


def add_routes(app: FastAPI) -> None:
    app.add_api_route("/health", health, methods=["GET"], summary="Liveness: the process answers")
    app.add_api_route(
        "/ready",
        ready,
        methods=["GET"],
        response_model=Readiness,
        summary="Readiness: Redis and the database answer",
        responses={503: {"model": Readiness, "description": "A dependency is down"}},
    )
    app.add_api_route(
        "/stats", stats, methods=["GET"], summary="Queue and store figures", responses=UNAVAILABLE
    )
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
