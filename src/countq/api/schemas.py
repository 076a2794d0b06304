"""What the API takes and answers, as the OpenAPI document (/docs) shows it.

The frontend's types are generated from that document
(frontend/src/api-types.ts), so a field added here reaches the page's type
check at the next `make frontend-types`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from countq.messages import INT64_MAX, INT64_MIN


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
    rows: int = Field(..., description="Rows held in MySQL now (RETENTION_DAYS drops old ones)")
    stored_total: int = Field(..., description="Every message ever stored, dropped ones included")
    last_value: int | None = Field(
        ..., description="`count` of the newest message stored (by enqueue time, then id)"
    )
    last_id: str | None = Field(..., description="UUID of that message")
    updated_at: str | None = Field(..., description="When it was stored (ISO 8601, UTC)")
    hostname: str = Field(..., description="The host that served this answer")


class PartitionStatsOut(BaseModel):
    stream: str = Field(..., description="The partition's stream key", examples=["{countq}:stream"])
    backlog: int = Field(..., description="Queued in this stream, not yet delivered")
    pending: int = Field(..., description="Delivered from it, not yet stored and acked")
    dead_letters: int = Field(..., description="This partition's dead letters")
    oldest_age_seconds: float = Field(..., description="Age of its oldest unstored message")
    consumers: int = Field(..., description="Consumers in its group")


class StatsOut(BaseModel):
    backlog: int = Field(
        ..., description="Queued, not yet delivered to a consumer (every partition)"
    )
    pending: int = Field(..., description="Delivered to a consumer, not yet stored and acked")
    dead_letters: int = Field(..., description="Messages moved to the dead-letter streams")
    stored_rows: int = Field(..., description="Rows stored in MySQL")
    oldest_age_seconds: float = Field(..., description="Age of the oldest unstored message")
    consumers: int = Field(..., description="Consumers registered in the group")
    end_to_end_p50_seconds: float | None = Field(
        None, description="Median time from POST to stored, over the last minute (null: none)"
    )
    end_to_end_p99_seconds: float | None = Field(
        None, description="99th percentile of the time from POST to stored, over the last minute"
    )
    partitions: list[PartitionStatsOut] = Field(
        ...,
        description="Each stream of the queue (QUEUE_PARTITIONS, and any a former value"
        " left that still exists); the figures above are their sums",
    )
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


class Json(JSONResponse):
    """JSON rendered by orjson: the hot POST path spends less time encoding."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
