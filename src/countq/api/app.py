"""The producer's FastAPI application: wiring only."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from countq import __version__
from countq.api import errors
from countq.api.deps import Services
from countq.api.routes import count, ops
from countq.config import Settings, get_settings
from countq.db.engine import create_engine
from countq.queue.producer import ProducerQueue

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services(ProducerQueue(settings), create_engine(settings))
        app.state.services = services
        try:
            await services.queue.ensure_group()
        except errors.REDIS_DOWN as exc:  # start anyway: /ready reports it, POST answers 503
            log.warning("Redis not reachable at start: %s", exc)
        # What exists now lives as long as the process: keep it out of the
        # collector's full passes. Requests in flight at a collection reach
        # the oldest generation, so under load full passes came dozens of
        # times a second and each walked the whole app: that was the POST
        # p99's tail, which bench/bench_post.py measures (frozen, the passes
        # are an order of magnitude shorter, timed with gc.callbacks under
        # its load).
        gc.collect()  # garbage frozen now would never be freed
        gc.freeze()
        yield
        await services.queue.close()
        services.engine.dispose()

    app = FastAPI(
        title="countq",
        version=__version__,
        summary="Producer API: queue counts onto Redis, read what MySQL stored",
        lifespan=lifespan,
        # FastAPI's OpenTelemetry hooks look for a configured provider on every
        # request (measurable in bench/post_cpu.py's CPU per POST); countq exports
        # Prometheus and CloudWatch figures, not OpenTelemetry.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.add_middleware(errors.JsonBodies)
    # Added last, so outermost: refusals carry CORS headers too.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origin_list,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type"],
    )
    errors.add_handlers(app)
    count.add_routes(app)
    ops.add_routes(app)
    _serve_page(app, settings)
    return app


def _serve_page(app: FastAPI, settings: Settings) -> None:
    """The built page on the same origin (no CORS, no mixed content), else an empty 200 at /."""
    page = settings.frontend_dir
    if page is not None and page.is_dir():
        # Mounted after the API routes, so they win; "/" serves index.html.
        app.mount("/", StaticFiles(directory=page, html=True), name="frontend")
        return
    if page is not None:
        log.warning("FRONTEND_DIR %s is not a directory; serving the API only", page)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return Response(status_code=200)
