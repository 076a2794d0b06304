"""The naive reference producer: what a first version typically looks like.

A FastAPI sync `def` handler with a pydantic model, one Redis LPUSH per
request onto a plain list (BLPOP-consumed by naive_consumer.py), and a GET
/count answered with SELECT COUNT(*). Served by uvicorn with the same loop,
parser and worker count as countq's producer, so only the code differs.

`app_async` differs from `app` only in an `async def` POST handler: bench 4
uses it so that the naive *consumer* is what its latency figure measures.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

import redis
import redis.asyncio as aredis
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import BaseModel

QUEUE = os.environ.get("REDIS_QUEUE", "naive") + ":list"
REDIS_URL = os.environ["REDIS_URL"]
engine = sa.create_engine(
    os.environ["DATABASE_URL"], connect_args={"ssl_disabled": True}, pool_pre_ping=True
)


class CountIn(BaseModel):
    count: int


def _message(count: int) -> tuple[str, str]:
    message_id = str(uuid.uuid4())
    body = {"id": message_id, "count": count, "ts": time.time_ns() // 1_000_000}
    return message_id, json.dumps(body)


def _common(app: FastAPI) -> FastAPI:
    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/count")
    def get_count() -> dict[str, Any]:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT COUNT(*) FROM messages")).scalar_one()
            last = conn.execute(
                sa.text("SELECT count FROM messages ORDER BY seq DESC LIMIT 1")
            ).scalar()
        return {"rows": rows, "last_value": last}

    return app


app = _common(FastAPI())
client = redis.Redis.from_url(REDIS_URL)


@app.post("/count", status_code=202)
def post_count(body: CountIn) -> dict[str, str]:
    message_id, payload = _message(body.count)
    client.lpush(QUEUE, payload)
    return {"id": message_id, "status": "queued"}


app_async = _common(FastAPI())
aclient = aredis.Redis.from_url(REDIS_URL)


@app_async.post("/count", status_code=202)
async def post_count_async(body: CountIn) -> dict[str, str]:
    message_id, payload = _message(body.count)
    await aclient.lpush(QUEUE, payload)
    return {"id": message_id, "status": "queued"}
