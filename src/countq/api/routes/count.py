"""POST /count queues a message; GET /count reads what the consumers stored."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from countq.api.deps import HOSTNAME, Database, Queue
from countq.api.errors import BAD_INPUT, UNAVAILABLE
from countq.api.metrics import ENQUEUED
from countq.api.schemas import CountIn, CountOut, Queued
from countq.db import repo

router = APIRouter()


@router.post(
    "/count",
    status_code=202,
    summary="Queue one count; a consumer stores it",
    responses={**UNAVAILABLE, **BAD_INPUT},
)
async def post_count(body: CountIn, queue: Queue) -> Queued:
    message_id = await queue.enqueue(body.count)
    ENQUEUED.inc()
    return Queued(id=message_id)


@router.get("/count", summary="Stored rows and the last stored value", responses=UNAVAILABLE)
def get_count(engine: Database) -> CountOut:
    summary = repo.summary(engine)
    return CountOut(
        rows=summary.rows,
        last_value=summary.last_value,
        last_id=str(uuid.UUID(bytes=bytes(summary.last_id))) if summary.last_id else None,
        updated_at=repo.ms_to_iso(summary.updated_ms),
        hostname=HOSTNAME,
    )
