"""OpenTelemetry traces of the pipeline, per the messaging semantic conventions.

- POST /count: a PRODUCER span `send {stream}` with the XADD inside it (a
  CLIENT span); its W3C `traceparent` travels in the stream entry as a field.
- The consumer: a CONSUMER span `process {stream}` per batch, linked to each
  sampled message's context (span links, as the conventions advise for a batch
  receive), with the database commit and the ack as its children.

Configured only by the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT
or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL,
OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER / _ARG, OTEL_BSP_*, ...), read by the
SDK itself. Off unless an endpoint is set: then this module imports nothing of
OpenTelemetry, and each hook costs one test of `ENABLED`. The SDK and the
exporter are the `tracing` extra (the image installs it; `make run` does not).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, Protocol

from countq.queue import keys

if TYPE_CHECKING:
    from countq.messages import Message

log = logging.getLogger(__name__)


def _enabled(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    return any(env.get(name) for name in endpoints)


ENABLED = _enabled(os.environ)
"""Read once at import: tracing is on for the life of the process, or off."""

# The conventions' attribute names (semantic conventions 1.3x, messaging and database).
_SYSTEM = "redis"
_MAX_LINKS = 128  # the SDK's default span link limit: links past it would be dropped anyway
_SAMPLED_DIGITS = frozenset("13579bdfBDF")  # trace-flags whose low (sampled) bit is set

_state: dict[str, Any] = {}
_lock = threading.Lock()


def _tracer(service: str) -> Any:
    """This process's tracer, set up on first use (after a fork, a new one: the
    exporter's thread does not survive it). None when the SDK is missing."""
    pid = os.getpid()
    if _state.get("pid") == pid:
        return _state["tracer"]
    with _lock:
        if _state.get("pid") != pid:
            _state.update(pid=pid, tracer=_set_up(service))
    return _state["tracer"]


def _set_up(service: str) -> Any:
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        exporter = _exporter()
    except ImportError as exc:  # tracing must never cost a request: off, said once
        log.error(
            "tracing is off: an OTLP endpoint is set, but %s is not installed "
            "(pip install 'countq[tracing]'; for OTEL_EXPORTER_OTLP_PROTOCOL=grpc, "
            "opentelemetry-exporter-otlp-proto-grpc)",
            exc.name,
        )
        return None
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service}
    # The sampler the OTEL_TRACES_SAMPLER variables name, made to keep every
    # batch that carries a sampled message (LinkedSampler).
    sampler: Any = LinkedSampler(TracerProvider().sampler)  # duck-typed: no SDK import when off
    provider = TracerProvider(sampler=sampler, resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider.get_tracer("countq")


def _exporter() -> Any:
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol.strip() == "grpc":
        # Not in the `tracing` extra (grpcio is large): install it to use it.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:  # http/protobuf, the specification's default
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()


class LinkedSampler:
    """The configured sampler, except that a batch span linked to a sampled
    message is sampled too: at a 10% sample, a sampled POST's trace still shows
    where its message was stored."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Sequence[Any] | None = None,
        trace_state: Any = None,
    ) -> Any:
        from opentelemetry.sdk.trace.sampling import Decision, SamplingResult
        from opentelemetry.trace import SpanKind, get_current_span

        no_parent = not get_current_span(parent_context).get_span_context().is_valid
        sampled_link = any(link.context.trace_flags.sampled for link in links or ())
        if kind is SpanKind.CONSUMER and no_parent and sampled_link:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
        return self.base.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"LinkedSampler{{{self.base.get_description()}}}"


# The producer ----------------------------------------------------------------


@contextmanager
def send(destination: str, headers: Mapping[str, str]) -> Iterator[Any]:
    """Around one enqueue: yields a Send whose `traceparent` goes into the entry.
    The request's own traceparent header, if any, is the producer span's parent
    (W3C trace context only: baggage is not carried)."""
    tracer = _tracer("countq-producer")
    if tracer is None:
        yield Send(None, None)
        return
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    w3c = TraceContextTextMapPropagator()
    parent = w3c.extract(headers) if "traceparent" in headers else None
    attributes = {
        "messaging.system": _SYSTEM,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": destination,
    }
    with tracer.start_as_current_span(
        f"send {destination}", context=parent, kind=trace.SpanKind.PRODUCER, attributes=attributes
    ) as span:
        carrier: dict[str, str] = {}
        w3c.inject(carrier)
        if not span.is_recording():  # not sampled: the context travels, no span is kept
            yield Send(None, carrier.get("traceparent"))
            return
        xadd = {
            "db.system.name": "redis",
            "db.operation.name": "XADD",
            "db.collection.name": destination,
        }
        with tracer.start_as_current_span("XADD", kind=trace.SpanKind.CLIENT, attributes=xadd):
            yield Send(span, carrier.get("traceparent"))


class Send:
    def __init__(self, span: Any, traceparent: str | None) -> None:
        self.span = span
        self.traceparent = traceparent

    def stored_as(self, message_id: str) -> None:
        if self.span is not None:
            self.span.set_attribute("messaging.message.id", message_id)


# The consumer ----------------------------------------------------------------


class Acks(list[str]):
    """Entry ids to ack, carrying the batch span the ack's span belongs under."""

    span: Any = None


class _Traced(Protocol):
    def acks(self, entry_ids: list[str]) -> list[str]: ...


class _Off:
    def acks(self, entry_ids: list[str]) -> list[str]:
        return entry_ids


_OFF = _Off()


@contextmanager
def process(destination: str, batch: Sequence[Message]) -> Iterator[_Traced]:
    """Around storing one batch: the batch span, current while the batch is
    stored (so the commit's span is its child). It stays open until its ack
    (`settle`) when `acks` hands it on, and ends here otherwise."""
    tracer = _tracer("countq-consumer") if ENABLED and batch else None
    if tracer is None:
        yield _OFF
        return
    from opentelemetry import trace

    attributes = {
        "messaging.system": _SYSTEM,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": destination,
        "messaging.consumer.group.name": keys.GROUP,
        "messaging.batch.message_count": len(batch),
    }
    span = tracer.start_span(
        f"process {destination}",
        kind=trace.SpanKind.CONSUMER,
        attributes=attributes,
        links=_links(batch),
    )
    handed = _Handed(span)
    try:
        with trace.use_span(span, end_on_exit=False, record_exception=True):
            yield handed
    finally:
        if not handed.handed_on:
            span.end()


class _Handed:
    def __init__(self, span: Any) -> None:
        self.span = span
        self.handed_on = False

    def acks(self, entry_ids: list[str]) -> list[str]:
        if not entry_ids:
            return entry_ids
        self.handed_on = True
        acks = Acks(entry_ids)
        acks.span = self.span
        return acks


def _links(batch: Sequence[Message]) -> list[Any]:
    """A link per sampled message (an unsampled one would lead nowhere); entries
    without a traceparent (written before tracing, or with it off) have none."""
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    links = []
    for message in batch:
        context = _parse(message.traceparent)
        if context is not None:
            trace_id, span_id = context
            sampled = TraceFlags(TraceFlags.SAMPLED)
            links.append(Link(SpanContext(trace_id, span_id, is_remote=True, trace_flags=sampled)))
            if len(links) == _MAX_LINKS:
                break
    return links


def _parse(traceparent: str | None) -> tuple[int, int] | None:
    """(trace id, span id) of a sampled W3C traceparent (version 00); None otherwise."""
    # The sampled flag first: most entries are not sampled, and this is per message.
    if not traceparent or len(traceparent) != 55 or traceparent[-1] not in _SAMPLED_DIGITS:
        return None
    version, trace_hex, span_hex, flags = traceparent.split("-")
    try:
        trace_id, span_id, sampled = int(trace_hex, 16), int(span_hex, 16), int(flags, 16) & 1
    except ValueError:
        return None
    if version != "00" or not (trace_id and span_id and sampled):
        return None
    return trace_id, span_id


def commit(system: str, table: str, rows: int) -> Any:
    """The database commit's span, a child of the current batch span."""
    if not ENABLED or (tracer := _tracer("countq-consumer")) is None:
        return nullcontext()
    from opentelemetry import trace

    attributes = {
        "db.system.name": system,
        "db.operation.name": "INSERT",
        "db.collection.name": table,
        "db.operation.batch.size": rows,
    }
    return tracer.start_as_current_span(
        f"INSERT {table}", kind=trace.SpanKind.CLIENT, attributes=attributes
    )


@contextmanager
def settle(destination: str, entry_ids: list[str]) -> Iterator[None]:
    """The ack's span under its batch span, which ends with it."""
    parent = getattr(entry_ids, "span", None)
    if parent is None:
        yield
        return
    from opentelemetry import trace

    tracer = _tracer("countq-consumer")
    attributes = {
        "messaging.system": _SYSTEM,
        "messaging.operation.type": "settle",
        "messaging.operation.name": "ack",
        "messaging.destination.name": destination,
        "messaging.batch.message_count": len(entry_ids),
    }
    try:
        with tracer.start_as_current_span(
            f"ack {destination}",
            context=trace.set_span_in_context(parent),
            kind=trace.SpanKind.CLIENT,
            attributes=attributes,
        ):
            yield
    finally:
        parent.end()
