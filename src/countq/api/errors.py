"""Every error the API answers, in one place: bad input is a 4xx that says what to
fix, a dependency down is a 503 that says which, never a 500 for a known failure.

- 413 / 415: `JsonBodies`, before a body is read;
- 400 / 422: `validated`, from what Pydantic found wrong with a body;
- 503: `add_handlers`, for Redis, the backlog bound and the database.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from countq.api.metrics import REFUSED
from countq.api.schemas import ErrorOut, Json
from countq.errors import BacklogFull, QueueUnavailable
from countq.messages import INT64_MAX, INT64_MIN

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

MAX_BODY_BYTES = 1024
# Redis down or not answering as needed, as the producer raises it: redis-py's
# errors, and ours (countq.errors is not a RedisError: the importer has no redis).
REDIS_DOWN = (RedisError, QueueUnavailable)
NOT_JSON = "body is not valid JSON"

# For the OpenAPI document: what each status means, in the shape `error` gives.
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "Redis or the database is unavailable"},
}
BAD_INPUT: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Body is not JSON"},
    413: {"model": ErrorOut, "description": "Body too large"},
    415: {"model": ErrorOut, "description": "Not application/json"},
    422: {"model": ErrorOut, "description": "`count` missing or not a 64-bit integer"},
}


def error(status: int, detail: str) -> Json:
    return Json({"detail": detail}, status_code=status)


def too_large(limit: int) -> str:
    return f"request body larger than {limit} bytes"


class JsonBodies:
    """Every body this API takes is a small JSON document: refuse any other (413,
    415) before reading it. A body without Content-Length (chunked) is counted
    as it arrives instead."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        content_type = length = b""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
        status, detail = _refusal(content_type, length, self.limit)
        if status:
            REFUSED.labels("invalid").inc()
            return await error(status, detail)(scope, receive, send)
        await self.app(scope, _counted(receive, self.limit) if not length else receive, send)


def _refusal(content_type: bytes, length: bytes, limit: int) -> tuple[int, str]:
    if length and (not length.isdigit() or int(length) > limit):
        return 413, too_large(limit)
    if content_type.split(b";")[0].strip().lower() != b"application/json":
        return 415, "Content-Type must be application/json"
    return 0, ""


def _counted(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            REFUSED.labels("invalid").inc()
            raise HTTPException(413, too_large(limit))  # FastAPI renders {"detail": ...}
        return message

    return receive_counted


def validated(model: type[M], raw: bytes) -> M:
    """`raw` parsed and validated by Pydantic in one call; else a 400 or 422 that
    says what to fix (FastAPI renders the HTTPException as {"detail": ...})."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        REFUSED.labels("invalid").inc()
        raise HTTPException(*invalid_body(list(exc.errors()))) from None


def invalid_body(errors: list[Any]) -> tuple[int, str]:
    """The status and the sentence for what Pydantic found wrong."""
    statuses, details = zip(*(_one_error(e) for e in errors), strict=True)
    return min(statuses), "; ".join(details)


def _one_error(err: dict[str, Any]) -> tuple[int, str]:
    kind, field = err.get("type"), ".".join(str(p) for p in err.get("loc", ()))
    if kind == "json_invalid":
        return 400, NOT_JSON
    if not field:
        return 422, 'body must be a JSON object like {"count": 1764283170}'
    if kind == "missing":
        return 422, f"{field} is required"
    if kind == "int_type":
        return 422, f"{field} must be an integer, not {_json_type(err.get('input'))}"
    if set((err.get("ctx") or {}).values()) & {INT64_MIN, INT64_MAX}:
        return 422, f"{field} must fit in a signed 64-bit integer"
    return 422, f"{field}: {err.get('msg', 'invalid')}"


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


# Async handlers: Starlette runs a plain `def` handler in its thread pool.
async def _backlog_full(_request: Request, exc: Exception) -> Response:
    REFUSED.labels("backlog").inc()
    return error(503, f"{exc}; retry later")


async def _redis_down(_request: Request, exc: Exception) -> Response:
    # Logged by the queue's Outage, once per outage, not once per request.
    REFUSED.labels("redis").inc()
    return error(503, f"queue unavailable (Redis): {type(exc).__name__}; retry later")


async def _database_down(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    return error(503, "database unavailable; retry later")


def add_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BacklogFull, _backlog_full)
    for down in REDIS_DOWN:
        app.add_exception_handler(down, _redis_down)
    app.add_exception_handler(SQLAlchemyError, _database_down)
