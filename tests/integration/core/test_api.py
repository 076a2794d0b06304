"""The producer's HTTP contract against the real Redis and MariaDB."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from countq.api.app import create_app
from countq.config import Settings
from countq.worker.loop import Consumer
from tests.helpers.processes import free_port, settings_env
from tests.helpers.services import REDIS_URL
from tests.helpers.timing import loaded

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def stream_length(settings: Settings) -> int:
    return int(redis.Redis.from_url(REDIS_URL).xlen(settings.stream_key))


def test_root_is_an_empty_200(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.content == b""


def test_health_answers_without_dependencies(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(broken)) as c:
        body = c.get("/health").json()
    assert body["status"] == "ok"
    assert body["hostname"]


def test_ready_when_both_answer(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "redis": "ok", "database": "ok"}


def test_ready_names_redis_when_it_is_down(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(broken)) as c:
        response = c.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"].startswith("error:")
    assert body["database"] == "ok"


def test_ready_names_the_database_when_it_is_down(settings: Settings) -> None:
    url = f"mysql+pymysql://root:@127.0.0.1:{free_port()}/nope"
    with TestClient(create_app(settings.model_copy(update={"database_url": url}))) as c:
        response = c.get("/ready")
        assert response.status_code == 503
        assert response.json()["database"].startswith("error:")
        assert response.json()["redis"] == "ok"
        count = c.get("/count")
    assert count.status_code == 503
    assert "database" in count.json()["detail"]


def test_post_queues_a_message(client: TestClient, settings: Settings) -> None:
    stamp = int(time.time())
    response = client.post("/count", json={"count": stamp})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    message_id = uuid.UUID(body["id"])
    assert message_id.version == 7
    entries = redis.Redis.from_url(REDIS_URL, decode_responses=True).xrange(settings.stream_key)
    assert [(e[1]["id"], e[1]["count"]) for e in entries] == [(body["id"], str(stamp))]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ('{"count": true}', 422, "not a boolean"),
        ('{"count": 1.5}', 422, "fraction"),
        ('{"count": 1.0}', 422, "fraction"),
        ('{"count": "12"}', 422, "not a string"),
        ('{"count": null}', 422, "null"),
        ('{"count": [1]}', 422, "array"),
        ("{}", 422, "count is required"),
        ('{"other": 1}', 422, "count is required"),
        ("[1]", 422, "JSON object"),
        ("12", 422, "JSON object"),
        ('{"count": 9223372036854775808}', 422, "64-bit"),
        ('{"count": -9223372036854775809}', 422, "64-bit"),
        ("not json", 400, "not valid JSON"),
        ('{"count": 1', 400, "not valid JSON"),
        ("", 400, "not valid JSON"),
        ("[" * 5000, 413, "larger than"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_queued(
    client: TestClient, settings: Settings, body: str, status: int, detail: str
) -> None:
    response = client.post("/count", content=body, headers=JSON)
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert stream_length(settings) == 0


def test_int64_bounds_are_accepted(client: TestClient) -> None:
    for value in (-(2**63), 2**63 - 1, 0):
        assert client.post("/count", json={"count": value}).status_code == 202


def test_wrong_content_type_is_415(client: TestClient, settings: Settings) -> None:
    for headers in ({"Content-Type": "text/plain"}, {}):
        response = client.post("/count", content='{"count": 1}', headers=headers)
        assert response.status_code == 415
        assert "application/json" in response.json()["detail"]
    assert client.post("/count", data={"count": "1"}).status_code == 415
    assert stream_length(settings) == 0


def test_oversized_body_is_413_by_declared_length(client: TestClient, settings: Settings) -> None:
    response = client.post("/count", content='{"count": 1}' + " " * 5000, headers=JSON)
    assert response.status_code == 413
    assert stream_length(settings) == 0


def test_cors_allows_any_origin_by_default(client: TestClient) -> None:
    response = client.options(
        "/count",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    get = client.get("/count", headers={"Origin": "https://example.org"})
    assert get.headers["access-control-allow-origin"] == "*"


def test_cors_origins_are_configurable(settings: Settings) -> None:
    only = settings.model_copy(update={"cors_origins": "https://countq.example"})
    with TestClient(create_app(only)) as c:
        allowed = c.get("/health", headers={"Origin": "https://countq.example"})
        other = c.get("/health", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://countq.example"
    assert "access-control-allow-origin" not in other.headers


def test_redis_down_gives_503_within_the_retry_bound(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(broken)) as c:
        started = time.monotonic()
        response = c.post("/count", json={"count": 1})
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "Redis" in response.json()["detail"]
    assert elapsed < loaded(broken.redis_timeout_s), f"took {elapsed:.2f}s"


def test_backlog_over_the_bound_is_refused_not_dropped(settings: Settings) -> None:
    bounded = settings.model_copy(update={"max_backlog": 3})
    with TestClient(create_app(bounded)) as c:
        accepted = [c.post("/count", json={"count": i}).status_code for i in range(3)]
        refused = c.post("/count", json={"count": 99})
    assert accepted == [202, 202, 202]
    assert refused.status_code == 503
    assert "backlog" in refused.json()["detail"]
    assert stream_length(settings) == 3


def test_get_count_and_stats_follow_the_pipeline(client: TestClient, settings: Settings) -> None:
    empty = client.get("/count").json()
    assert empty["rows"] == 0
    assert empty["last_value"] is None
    ids = [client.post("/count", json={"count": i}).json()["id"] for i in (5, 6, 7)]
    stats = client.get("/stats").json()
    assert (stats["backlog"], stats["pending"], stats["stored_rows"]) == (3, 0, 0)
    assert stats["oldest_age_seconds"] >= 0
    consumer = Consumer(settings, name="api-test")
    while consumer.run_once():
        pass
    body = client.get("/count").json()
    assert (body["rows"], body["stored_total"]) == (3, 3)
    assert body["last_value"] == 7
    assert body["last_id"] == ids[-1]
    assert body["updated_at"].endswith("+00:00")
    assert body["hostname"]
    stats = client.get("/stats").json()
    assert (stats["backlog"], stats["pending"], stats["dead_letters"]) == (0, 0, 0)
    assert stats["stored_rows"] == 3
    assert stats["consumers"] == 1


def test_openapi_documents_the_fields(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    count_out = schema["components"]["schemas"]["CountOut"]["properties"]
    assert set(count_out) == {
        "rows",
        "stored_total",
        "last_value",
        "last_id",
        "updated_at",
        "hostname",
    }
    body = schema["paths"]["/count"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["count"]["type"] == "integer"
    assert client.get("/docs").status_code == 200


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    client.post("/count", json={"count": 1})
    text = client.get("/metrics").text
    assert "countq_enqueued_total" in text


def test_concurrent_posts_share_a_call_and_respect_the_bound(settings: Settings) -> None:
    """Messages that arrive together are appended in one script call, each checked."""
    from countq.queue.keys import MESSAGE_FIELDS
    from countq.queue.producer import BacklogFull, ProducerQueue

    calls: list[tuple[object, ...]] = []  # the Redis calls the burst made, with their arguments

    async def burst() -> list[object]:
        queue = ProducerQueue(settings.model_copy(update={"max_backlog": 3}))
        await queue.ensure_group()
        client_eval = queue.client.eval

        def counted_eval(*args: object) -> object:
            calls.append(args)
            return client_eval(*args)  # type: ignore[arg-type]

        queue.client.eval = counted_eval  # type: ignore[assignment,method-assign]
        try:
            return await asyncio.gather(
                *(queue.enqueue(i) for i in range(5)), return_exceptions=True
            )
        finally:
            await queue.close()

    results = asyncio.run(burst())
    # One script call for the five: the bound, the field names, then id, count,
    # ts, traceparent of each.
    ((_script, keys, key, bound, *fields),) = calls
    assert (keys, key, bound) == (1, settings.stream_key, 3)
    assert tuple(fields[:4]) == MESSAGE_FIELDS
    assert fields[4:][1::4] == [0, 1, 2, 3, 4]
    assert [isinstance(r, str) for r in results] == [True, True, True, False, False]
    assert all(isinstance(r, BacklogFull) for r in results[3:])
    entries = redis.Redis.from_url(REDIS_URL, decode_responses=True).xrange(settings.stream_key)
    assert [e[1]["id"] for e in entries] == results[:3]
    assert [e[1]["count"] for e in entries] == ["0", "1", "2"]


def test_a_bad_setting_is_a_clear_cli_error(settings: Settings) -> None:
    env = {**settings_env(settings), "CONSUMER_BATCH_SIZE": "9000", "HTTP_PORT": "x"}
    proc = subprocess.run(
        [sys.executable, "-m", "countq", "consumer"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "CONSUMER_BATCH_SIZE='9000': Input should be less than or equal to 5000" in proc.stderr
    assert "HTTP_PORT='x'" in proc.stderr
