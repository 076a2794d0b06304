"""The HTTP producer (FastAPI): validates, enqueues onto the Redis stream, reads the summary.

- `app`: wiring (lifespan, middleware, routes, the page);
- `deps`: what routes get injected (the queue, the engine);
- `schemas`: request and response bodies, as /docs shows them;
- `errors`: every 4xx and 503 the API answers;
- `routes/`: `count` (POST and GET /count) and `ops` (health, ready, stats, metrics),
  each with `add_routes(app)`;
- `metrics`: the Prometheus counters; `server`: `countq producer` (uvicorn).
"""
