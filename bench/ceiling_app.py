"""The stack's own ceiling for POST /count: FastAPI with an `async def` POST that
only reads the body and answers 202. No validation, no queue, no middleware.

Served by uvicorn exactly as countq's producer is (same loop, parser and worker
count), so countq's ratio to it is what its own layers and work cost.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/count")
async def post_count(request: Request) -> Response:
    await request.body()
    return Response(b'{"status":"queued"}', status_code=202, media_type="application/json")
