"""For operators and the page: liveness, readiness, the pipeline's figures, metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from countq.api.deps import HOSTNAME, Database, Queue
from countq.api.errors import UNAVAILABLE
from countq.api.metrics import metrics_text
from countq.api.schemas import Health, Readiness, StatsOut
from countq.db import repo

router = APIRouter()


@router.get("/health", summary="Liveness: the process answers")
async def health() -> Health:
    return Health(status="ok", hostname=HOSTNAME)


@router.get(
    "/ready",
    response_model=Readiness,
    summary="Readiness: Redis and the database answer",
    responses={503: {"model": Readiness, "description": "A dependency is down"}},
)
async def ready(queue: Queue, engine: Database) -> JSONResponse:
    checks = {"redis": "ok", "database": "ok"}
    try:
        await queue.ping()
    except RedisError as exc:
        checks["redis"] = f"error: {type(exc).__name__}: {exc}"
    try:
        await run_in_threadpool(repo.ping, engine)
    except SQLAlchemyError as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ok else "unavailable", **checks}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/stats", summary="Queue and store figures", responses=UNAVAILABLE)
async def stats(queue: Queue, engine: Database) -> StatsOut:
    figures = await queue.stats()
    summary = await run_in_threadpool(repo.summary, engine)
    return StatsOut(**figures, stored_rows=summary.rows, hostname=HOSTNAME)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(metrics_text(), media_type=CONTENT_TYPE_LATEST)
