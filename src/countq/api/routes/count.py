"""POST /count queues a message; GET /count reads what the consumers stored."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.routing import request_response

from countq import tracing
from countq.api.deps import HOSTNAME, Database, services
from countq.api.errors import BAD_INPUT, UNAVAILABLE, validated
from countq.api.metrics import ENQUEUED
from countq.api.schemas import CountIn, CountOut, Json, Queued
from countq.db import repo


class PlainRoute(APIRoute):
    """Documented in /docs like any route, served as Starlette serves one: the
    endpoint takes the Request and returns the Response itself.

    FastAPI's own handler (dependency solving, two exit stacks, a response
    model) cost more CPU per request than the rest of POST /count together:
    bench/post_cpu.py measures the CPU per POST inside the app against a bare
    FastAPI POST (docs/performance/results.md). Errors still go
    through the app's exception handlers, so every answer stays the same.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = request_response(self.endpoint)


async def post_count(request: Request) -> Response:
    # The hot path, kept lean: Pydantic parses and validates the body in one
    # call, the queue comes from the typed app state, and orjson writes the
    # answer. FastAPI's body parameter, a Depends and an included router would
    # each add CPU per request (PlainRoute above says how much).
    body = validated(CountIn, await request.body())
    queue = services(request).queue
    if tracing.ENABLED:
        with tracing.send(queue.settings.stream_key, request.headers) as sent:
            message_id = await queue.enqueue(body.count, sent.traceparent)
            sent.stored_as(message_id)
    else:
        message_id = await queue.enqueue(body.count)
    ENQUEUED.inc()
    return Json({"id": message_id, "status": "queued"}, status_code=202)


def get_count(engine: Database) -> CountOut:
    summary = repo.summary(engine)
    return CountOut(
        rows=summary.rows,
        stored_total=summary.stored_total,
        last_value=summary.last_value,
        last_id=str(uuid.UUID(bytes=bytes(summary.last_id))) if summary.last_id else None,
        updated_at=repo.ms_to_iso(summary.updated_ms),
        hostname=HOSTNAME,
    )


# What post_count takes and answers, for /docs (it reads the body itself).
_POST_DOCS: dict[str, Any] = {
    "responses": {202: {"model": Queued, "description": "Queued"}, **BAD_INPUT, **UNAVAILABLE},
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CountIn.model_json_schema()}},
        }
    },
}


def add_routes(app: FastAPI) -> None:
    # On the app itself, POST first: each route matched before it costs CPU.
    app.router.add_api_route(
        "/count",
        post_count,
        methods=["POST"],
        status_code=202,
        response_model=None,
        summary="Queue one count; a consumer stores it",
        route_class_override=PlainRoute,
        **_POST_DOCS,
    )
    app.add_api_route(
        "/count",
        get_count,
        methods=["GET"],
        summary="Stored rows and the last stored value",
        responses=UNAVAILABLE,
    )
