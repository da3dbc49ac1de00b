"""W3C trace context on provider requests, written without OpenTelemetry.

A provider call made while tracing is on sends ``traceparent`` naming its
``chat`` span; without tracing, no trace header is sent at all.
"""

from __future__ import annotations

import httpx
import pytest

from llmgine._exceptions import ConfigurationError
from llmgine.llm import AnthropicProvider, LLMRequest, Message, RetryPolicy
from llmgine.observability import Tracer
from llmgine.tracing import (
    RecordKind,
    TraceContext,
    current_trace,
    trace_headers,
    traced,
    traceparent,
)

from .conftest import RecordingSink, Wire, collect, sse, stream_response

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
REPLY = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Hi"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 5, "output_tokens": 1},
}
STREAM = sse(
    ("message_start", {"type": "message_start", "message": {**REPLY, "content": []}}),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Hi"},
        },
    ),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
    ("message_stop", {"type": "message_stop"}),
)
REQUEST = LLMRequest(model="claude-sonnet-4-5", messages=[Message.user("hello")])


def provider(wire: Wire) -> AnthropicProvider:
    return AnthropicProvider(api_key="sk-test", client=wire.client())


def test_traceparent_is_the_w3c_header() -> None:
    assert traceparent(TraceContext(TRACE, SPAN)) == f"00-{TRACE}-{SPAN}-01"
    assert traceparent(TraceContext(TRACE, SPAN, False)) == f"00-{TRACE}-{SPAN}-00"
    root = TraceContext.new_root()
    version, trace_id, span_id, flags = traceparent(root).split("-")
    assert (version, trace_id, span_id, flags) == (
        "00",
        root.trace_id,
        root.span_id,
        "01",
    )


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [
        ("0" * 32, SPAN),  # all zero is invalid
        (TRACE, "0" * 16),
        (TRACE.upper(), SPAN),  # lower case only
        (TRACE[:-1], SPAN),
        (TRACE, SPAN + "0"),
        ("trace", "span"),
    ],
)
def test_ids_that_are_not_w3c_ids_are_refused(trace_id: str, span_id: str) -> None:
    context = TraceContext(trace_id, span_id)
    with pytest.raises(ConfigurationError, match="traceparent needs"):
        traceparent(context)
    assert trace_headers(context) == {}  # never raises on a request path


def test_trace_headers_follow_the_current_trace() -> None:
    assert trace_headers() == {}
    token = current_trace.set(TraceContext(TRACE, SPAN))
    try:
        assert trace_headers() == {"traceparent": f"00-{TRACE}-{SPAN}-01"}
    finally:
        current_trace.reset(token)
    with Tracer([]).activate(), traced(RecordKind.CUSTOM, "work") as span:
        assert span.context is not None
        assert trace_headers() == {"traceparent": traceparent(span.context)}


async def test_a_call_carries_its_chat_span(sink: RecordingSink) -> None:
    wire = Wire(httpx.Response(200, json=REPLY))
    await provider(wire).complete(REQUEST)
    (record,) = sink.records
    assert record.name == "chat claude-sonnet-4-5"
    (sent,) = wire.requests
    expected = f"00-{record.trace_id}-{record.span_id}-01"
    assert sent.headers["traceparent"] == expected
    assert "tracestate" not in sent.headers


async def test_every_retry_carries_the_same_chat_span(sink: RecordingSink) -> None:
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    wire = Wire(httpx.Response(529, json=error), httpx.Response(200, json=REPLY))
    llm = AnthropicProvider(
        api_key="sk-test", client=wire.client(), retry=RetryPolicy.for_tests()
    )
    await llm.complete(REQUEST)
    first, second = (r.headers["traceparent"] for r in wire.requests)
    (record,) = sink.records
    assert first == second == f"00-{record.trace_id}-{record.span_id}-01"


async def test_a_streamed_call_carries_its_chat_span(sink: RecordingSink) -> None:
    wire = Wire(stream_response(STREAM))
    events = await collect(provider(wire).stream(REQUEST))
    assert events
    (record,) = sink.records
    (sent,) = wire.requests
    assert sent.headers["traceparent"] == f"00-{record.trace_id}-{record.span_id}-01"


async def test_inside_an_unsampled_trace_the_trace_still_travels(
    sink: RecordingSink,
) -> None:
    unsampled = TraceContext(TRACE, SPAN, False)
    token = current_trace.set(unsampled)
    try:
        wire = Wire(httpx.Response(200, json=REPLY), stream_response(STREAM))
        llm = provider(wire)
        await llm.complete(REQUEST)
        await collect(llm.stream(REQUEST))
    finally:
        current_trace.reset(token)
    assert sink.records == []  # nothing recorded
    for sent in wire.requests:
        assert sent.headers["traceparent"] == f"00-{TRACE}-{SPAN}-00"


async def test_without_tracing_no_trace_header_is_sent() -> None:
    wire = Wire(httpx.Response(200, json=REPLY), stream_response(STREAM))
    llm = provider(wire)
    await llm.complete(REQUEST)
    await collect(llm.stream(REQUEST))
    for sent in wire.requests:
        assert "traceparent" not in sent.headers
        assert "tracestate" not in sent.headers


async def test_a_new_trace_that_is_not_sampled_still_travels() -> None:
    wire = Wire(httpx.Response(200, json=REPLY), stream_response(STREAM))
    llm = provider(wire)
    tracer = Tracer([], sample_ratio=0.0)
    with tracer.activate():
        await llm.complete(REQUEST)
        await collect(llm.stream(REQUEST))
    tracer.flush()
    assert tracer.statistics().received == 0
    for sent in wire.requests:
        assert sent.headers["traceparent"].endswith("-00")
    first, second = (r.headers["traceparent"].split("-")[1] for r in wire.requests)
    assert first != second  # each call began a trace of its own
