"""countq.tracing's pieces that decide per message: which traceparents link, and
that a batch linked to a sampled message is sampled whatever the ratio."""

from __future__ import annotations

from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags

from countq import tracing

TRACE, SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def test_only_sampled_w3c_traceparents_link() -> None:
    ids = (int(TRACE, 16), int(SPAN, 16))
    assert tracing._parse(f"00-{TRACE}-{SPAN}-01") == ids
    assert tracing._parse(f"00-{TRACE}-{SPAN}-03") == ids  # sampled + random trace id
    assert tracing._parse(f"00-{TRACE}-{SPAN}-00") is None  # not sampled
    assert tracing._parse(f"00-{TRACE}-{SPAN}-02") is None
    assert tracing._parse(f"01-{TRACE}-{SPAN}-01") is None  # unknown version
    assert tracing._parse(f"00-{'0' * 32}-{SPAN}-01") is None  # invalid trace id
    assert tracing._parse(f"00-{'x' * 32}-{SPAN}-01") is None
    assert tracing._parse(None) is None and tracing._parse("") is None


def test_a_batch_linked_to_a_sampled_message_is_sampled() -> None:
    never = tracing.LinkedSampler(TraceIdRatioBased(0.0))
    sampled = SpanContext(int(TRACE, 16), int(SPAN, 16), True, TraceFlags(TraceFlags.SAMPLED))
    unsampled = SpanContext(int(TRACE, 16), int(SPAN, 16), True, TraceFlags(0))

    def decision(kind: SpanKind, links: list[Link]) -> Decision:
        return never.should_sample(None, 1, "process", kind, {}, links).decision

    assert decision(SpanKind.CONSUMER, [Link(unsampled), Link(sampled)]).is_sampled()
    assert not decision(SpanKind.CONSUMER, [Link(unsampled)]).is_sampled()
    assert not decision(SpanKind.CONSUMER, []).is_sampled()
    assert not decision(SpanKind.PRODUCER, [Link(sampled)]).is_sampled()
