"""Traces: POST -> stream entry (traceparent) -> batch span linked to it, with
the commit and the ack as its children, exported by OTLP/HTTP to a real
receiver in the test (decoded with opentelemetry-proto). Tracing off imports
no OpenTelemetry at all."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from bench.otlp_sink import Sink
from countq.config import Settings
from countq.messages import uuid7
from tests.helpers.database import db_rows
from tests.helpers.processes import LiveStack, free_port, settings_env, wait_until
from tests.helpers.services import REDIS_URL, ROOT


@pytest.fixture
def receiver() -> Iterator[Sink]:
    with Sink(port=0, keeping=True) as sink:
        yield sink


@pytest.fixture
def traced_stack(settings: Settings, tmp_path: Path, receiver: Sink) -> Iterator[LiveStack]:
    env = {
        **settings_env(settings),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    stack = LiveStack(settings, env, free_port(), tmp_path)
    try:
        stack.start_producer()
        stack.start_consumer()
        yield stack
    finally:
        stack.stop_all()


def test_a_message_is_one_trace_from_post_to_commit_and_ack(
    traced_stack: LiveStack, receiver: Sink, settings: Settings
) -> None:
    answer = httpx.post(f"{traced_stack.url}/count", json={"count": 7})
    assert answer.status_code == 202
    message_id = answer.json()["id"]
    wait_until(lambda: receiver.named("ack "), timeout=30)
    assert receiver.paths == {"/v1/traces"}

    (send,) = receiver.named("send ")
    assert send.kind == Span.SPAN_KIND_PRODUCER
    assert send.name == f"send {settings.stream_key}"
    attributes = {a.key: a.value.string_value for a in send.attributes}
    assert attributes["messaging.message.id"] == message_id
    assert attributes["messaging.operation.type"] == "send"
    (xadd,) = receiver.named("XADD")
    assert (xadd.trace_id, xadd.parent_span_id) == (send.trace_id, send.span_id)

    (batch,) = receiver.named("process ")
    assert batch.kind == Span.SPAN_KIND_CONSUMER
    assert [(link.trace_id, link.span_id) for link in batch.links] == [
        (send.trace_id, send.span_id)
    ]
    assert batch.trace_id != send.trace_id, "a batch is its own trace, linked to each message's"
    (commit,) = receiver.named("INSERT ")
    (ack,) = receiver.named("ack ")
    for child in (commit, ack):
        assert (child.trace_id, child.parent_span_id) == (batch.trace_id, batch.span_id)
    services = {service for service, _ in receiver.kept}
    assert services == {"countq-producer", "countq-consumer"}


def test_an_entry_without_traceparent_is_stored_and_counted(
    traced_stack: LiveStack, receiver: Sink, settings: Settings
) -> None:
    """As entries written before tracing (or by a producer with it off) are."""
    r = redis.Redis.from_url(REDIS_URL)
    r.xadd(settings.stream_key, {"id": str(uuid7()), "count": 5, "ts": 0})
    wait_until(lambda: db_rows(settings) == (1, 1, 1), timeout=30)
    assert httpx.get(f"{traced_stack.url}/count").json()["stored_total"] == 1
    wait_until(lambda: receiver.named("ack "), timeout=30)
    (batch,) = receiver.named("process ")
    assert list(batch.links) == []


def test_off_loads_no_tracing_sdk_or_exporter() -> None:
    """Off (no endpoint): storing a batch and its hooks load no tracer, no exporter.
    (The OpenTelemetry API is loaded anyway: FastAPI and redis-py import it.)"""
    code = """
import sys
from countq import tracing
import countq.api.app, countq.worker.loop
from countq.messages import Message
assert not tracing.ENABLED
batch = [Message("1-0", bytes(16), 1, 0, "00-" + "1" * 32 + "-" + "2" * 16 + "-01")]
with tracing.process("s", batch) as traced, tracing.commit("mysql", "messages", 1):
    acks = traced.acks(["1-0"])
with tracing.settle("s", acks):
    pass
tracer_or_exporter = ("opentelemetry.sdk.trace", "opentelemetry.exporter")
loaded = [m for m in sys.modules if m.startswith(tracer_or_exporter)]
assert not loaded, loaded
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)
