"""The HTTP producer: validates, enqueues onto the Redis stream, reads the summary."""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)
from pydantic import BaseModel, Field
from redis.exceptions import AuthenticationError, RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from countq import store
from countq.config import Settings, get_settings
from countq.queue import INT64_MAX, INT64_MIN, BacklogFull, ProducerQueue

log = logging.getLogger(__name__)
HOSTNAME = socket.gethostname()
MAX_BODY_BYTES = 1024

ENQUEUED = Counter("countq_enqueued_total", "Messages accepted onto the queue")
REFUSED = Counter("countq_refused_total", "POST /count refused", ["reason"])


class CountIn(BaseModel):
    count: int = Field(
        ...,
        ge=INT64_MIN,
        le=INT64_MAX,
        strict=True,
        description="A signed 64-bit integer (e.g. a unix timestamp)",
        examples=[1764283170],
    )


class Queued(BaseModel):
    id: str = Field(..., description="The message's UUIDv7; the stored row keeps it")
    status: str = Field("queued", examples=["queued"])


class CountOut(BaseModel):
    rows: int = Field(..., description="Rows stored in MySQL")
    last_value: int | None = Field(..., description="`count` of the most recently stored message")
    last_id: str | None = Field(..., description="UUID of that message")
    updated_at: str | None = Field(..., description="When it was stored (ISO 8601, UTC)")
    hostname: str = Field(..., description="The host that served this answer")


class StatsOut(BaseModel):
    backlog: int = Field(..., description="Queued, not yet delivered to a consumer")
    pending: int = Field(..., description="Delivered to a consumer, not yet stored and acked")
    dead_letters: int = Field(..., description="Messages moved to the dead-letter stream")
    stored_rows: int = Field(..., description="Rows stored in MySQL")
    oldest_age_seconds: float = Field(..., description="Age of the oldest unstored message")
    consumers: int = Field(..., description="Consumers registered in the group")
    hostname: str


class Health(BaseModel):
    status: str = Field(..., examples=["ok"])
    hostname: str


class Readiness(BaseModel):
    status: str = Field(..., examples=["ready"])
    redis: str
    database: str


class ErrorOut(BaseModel):
    detail: str = Field(..., description="What went wrong, for a person")


class _Json(JSONResponse):
    """JSON rendered by orjson: the hot POST path spends less time encoding."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _metrics_text() -> bytes:
    """This process's metrics, or every worker's added up when there are several."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _error(status: int, detail: str) -> JSONResponse:
    return _Json({"detail": detail}, status_code=status)


class BodyLimit:
    """Refuse oversized bodies before they are read whole (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                too_big = _error(413, f"request body larger than {self.limit} bytes")
                await too_big(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "Redis or the database is unavailable"},
}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.queue = ProducerQueue(settings)
        app.state.engine = store.create_engine(settings)
        try:
            await app.state.queue.ensure_group()
        except RedisError as exc:  # start anyway: /ready reports it, POST answers 503
            log.warning("Redis not reachable at start: %s", exc)
        yield
        await app.state.queue.close()
        app.state.engine.dispose()

    app = FastAPI(
        title="countq",
        version="0.1.0",
        summary="Producer API: queue counts onto Redis, read what MySQL stored",
        lifespan=lifespan,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type"],
    )
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    async def _bad_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    async def _with_redis(request: Request, call: Any) -> Any:
        """Run a Redis call; refresh credentials once if they were rotated."""
        queue: ProducerQueue = request.app.state.queue
        try:
            return await call(queue)
        except AuthenticationError:
            await queue.reconnect(refresh_credentials=True)
            return await call(request.app.state.queue)

    def _redis_down(op: str, exc: Exception) -> JSONResponse:
        REFUSED.labels("redis").inc()
        log.warning("Redis unavailable during %s: %s", op, exc)
        return _error(503, f"queue unavailable (Redis): {type(exc).__name__}; retry later")

    frontend = settings.frontend_dir
    if frontend is not None and not frontend.is_dir():
        log.warning("FRONTEND_DIR %s is not a directory; serving the API only", frontend)
        frontend = None

    if frontend is None:

        @app.get("/", include_in_schema=False)
        async def root() -> Response:
            return Response(status_code=200)

    @app.get("/health", response_model=Health, summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok", "hostname": HOSTNAME}

    @app.get(
        "/ready",
        response_model=Readiness,
        summary="Readiness: Redis and the database answer",
        responses={503: {"model": Readiness, "description": "A dependency is down"}},
    )
    async def ready(request: Request) -> JSONResponse:
        checks = {"redis": "ok", "database": "ok"}
        try:
            await _with_redis(request, lambda q: q.ping())
        except RedisError as exc:
            checks["redis"] = f"error: {type(exc).__name__}: {exc}"
        try:
            await run_in_threadpool(_ping_database, request.app.state.engine)
        except SQLAlchemyError as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        body = {"status": "ready" if ok else "unavailable", **checks}
        return _Json(body, status_code=200 if ok else 503)

    @app.post(
        "/count",
        status_code=202,
        response_model=Queued,
        summary="Queue one count; a consumer stores it",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": CountIn.model_json_schema()}},
            }
        },
        responses={
            **_ERRORS,
            400: {"model": ErrorOut, "description": "Body is not JSON"},
            413: {"model": ErrorOut, "description": "Body too large"},
            415: {"model": ErrorOut, "description": "Not application/json"},
            422: {"model": ErrorOut, "description": "`count` missing or not a 64-bit integer"},
        },
    )
    async def post_count(request: Request) -> Any:
        count = await _read_count(request)
        if isinstance(count, JSONResponse):
            REFUSED.labels("invalid").inc()
            return count
        try:
            message_id = await _with_redis(request, lambda q: q.enqueue(count))
        except BacklogFull as exc:
            REFUSED.labels("backlog").inc()
            return _error(503, f"{exc}; retry later")
        except RedisError as exc:
            return _redis_down("enqueue", exc)
        ENQUEUED.inc()
        return _Json({"id": message_id, "status": "queued"}, status_code=202)

    @app.get(
        "/count",
        response_model=CountOut,
        summary="Stored rows and the last stored value",
        responses=_ERRORS,
    )
    def get_count(request: Request) -> Any:
        try:
            summary = _summary(request.app.state.engine)
        except SQLAlchemyError as exc:
            log.warning("database unavailable for GET /count: %s", exc)
            return _error(503, "database unavailable; retry later")
        return {
            "rows": summary.rows,
            "last_value": summary.last_value,
            "last_id": _uuid_str(summary.last_id),
            "updated_at": store.ms_to_iso(summary.updated_ms),
            "hostname": HOSTNAME,
        }

    @app.get(
        "/stats", response_model=StatsOut, summary="Queue and store figures", responses=_ERRORS
    )
    async def stats(request: Request) -> Any:
        try:
            queue_stats = await _with_redis(request, lambda q: q.stats())
        except RedisError as exc:
            return _redis_down("stats", exc)
        try:
            summary = await run_in_threadpool(_summary, request.app.state.engine)
        except SQLAlchemyError:
            return _error(503, "database unavailable; retry later")
        return {**queue_stats, "stored_rows": summary.rows, "hostname": HOSTNAME}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(_metrics_text(), media_type=CONTENT_TYPE_LATEST)

    if frontend is not None:
        # Same origin as the API: no CORS, no mixed content. Mounted last so the
        # API routes win; "/" then serves index.html instead of the empty 200.
        app.mount("/", StaticFiles(directory=frontend, html=True), name="frontend")

    return app


async def _read_count(request: Request) -> int | JSONResponse:
    """Parse and validate the body by hand: exact messages, and no 500 on odd input."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return _error(415, "Content-Type must be application/json")
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:  # chunked bodies carry no Content-Length
        return _error(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return _error(400, "body is not valid JSON")
    if not isinstance(data, dict):
        return _error(422, 'body must be a JSON object like {"count": 1764283170}')
    if "count" not in data:
        return _error(422, "count is required")
    count = data["count"]
    # bool is a subclass of int in Python, but true is not a count.
    if type(count) is not int:
        return _error(422, f"count must be an integer, not {_json_type(count)}")
    if not INT64_MIN <= count <= INT64_MAX:
        return _error(422, "count must fit in a signed 64-bit integer")
    return count


def _json_type(value: Any) -> str:
    names = {
        bool: "a boolean",
        float: "a number with a fraction",
        str: "a string",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _uuid_str(raw: bytes | None) -> str | None:
    return str(uuid.UUID(bytes=bytes(raw))) if raw else None


def _ping_database(engine: Any) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def _summary(engine: Any) -> store.CountSummary:
    with engine.connect() as conn:
        return store.read_summary(conn)
