"""Joining the caller's OpenTelemetry trace, and carrying it to providers.

Work llmgine starts without an llmgine parent (``ask``, ``tell``, a root
``traced``, a bus ``execute``) becomes a child of the caller's current
OpenTelemetry span, with a real SDK ``TracerProvider`` and an in-memory
exporter; the provider's HTTP request carries the ``chat`` span as W3C
``traceparent`` (and the caller's ``tracestate`` and baggage).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest
import trio
import trio.testing
from opentelemetry import baggage, context, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    TraceFlags,
    TraceState,
)

from llmgine.actors import Actor, open_actor_system
from llmgine.bus import Command, MessageBus
from llmgine.engines import ChatEngine, UserInput
from llmgine.llm import AnthropicProvider, LLMRequest, Message
from llmgine.observability import OtelHandler, RecordKind, Tracer, traced
from llmgine.observability._otel import _PresetIds
from llmgine.tracing import TraceContext, current_trace, trace_headers

from ._records import ListHandler, make_record

REPLY = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Hello!"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 9, "output_tokens": 3},
}


@attrs.define
class Otel:
    exporter: InMemorySpanExporter
    provider: TracerProvider
    meters: MeterProvider

    @property
    def tracer(self) -> trace.Tracer:
        """The application's own OpenTelemetry tracer."""
        return self.provider.get_tracer("app")

    def handler(self, **options: Any) -> OtelHandler:
        return OtelHandler(self.provider, self.meters, **options)

    def spans(self) -> dict[str, ReadableSpan]:
        return {span.name: span for span in self.exporter.get_finished_spans()}


@pytest.fixture
def otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meters = MeterProvider()
    yield Otel(exporter, provider, meters)
    provider.shutdown()
    meters.shutdown()


def parent_of(span: ReadableSpan) -> int:
    assert span.parent is not None, span.name
    return span.parent.span_id


def hex_span(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.span_id, "016x")


class Echo(Actor):
    """Answers with the message; inside a span of its own."""

    async def receive(self, message: Any) -> Any:
        with traced(RecordKind.CUSTOM, "echo work"):
            return message


class Wire:
    """A provider endpoint that answers every request and keeps it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if json.loads(request.content).get("stream"):
            return httpx.Response(
                200, content=_stream_body(), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=REPLY)

    def provider(self) -> AnthropicProvider:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return AnthropicProvider(api_key="sk-test", client=client)


def _stream_body() -> bytes:
    events = [
        {
            "type": "message_start",
            "message": {**REPLY, "content": [], "stop_reason": None},
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Hello!"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 3},
        },
        {"type": "message_stop"},
    ]
    return "".join(
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events
    ).encode()


async def test_an_engine_ask_joins_the_callers_trace(otel: Otel) -> None:
    wire = Wire()
    tracer = Tracer([otel.handler()])
    async with open_actor_system("app", tracer=tracer) as system:
        engine = await system.spawn(
            functools.partial(ChatEngine, wire.provider(), model="claude-sonnet-4-5"),
            name="chat",
        )
        with otel.tracer.start_as_current_span("http-request") as outer:
            result = await engine.ask(UserInput("hi"))
    assert result.text == "Hello!"
    spans = otel.spans()
    request = spans["http-request"]
    receive = spans["receive UserInput"]
    agent = spans["invoke_agent chat"]
    chat = spans["chat claude-sonnet-4-5"]
    # one trace, the caller's, parented under the caller's span
    caller = outer.get_span_context()
    assert {s.context.trace_id for s in spans.values() if s.context} == {caller.trace_id}
    assert parent_of(receive) == caller.span_id
    assert parent_of(agent) == receive.context.span_id  # type: ignore[union-attr]
    assert parent_of(chat) == agent.context.span_id  # type: ignore[union-attr]
    assert request.parent is None
    # the exported spans carry llmgine's own ids
    attributes = chat.attributes or {}
    assert attributes["llmgine.span_id"] == hex_span(chat)
    assert attributes["llmgine.trace_id"] == format(caller.trace_id, "032x")
    # the provider request carried the chat span, as exported
    (sent,) = wire.requests
    trace_hex = format(caller.trace_id, "032x")
    assert sent.headers["traceparent"] == f"00-{trace_hex}-{hex_span(chat)}-01"


async def test_tracestate_and_baggage_of_the_caller_travel_on(otel: Otel) -> None:
    wire = Wire()
    tracer = Tracer([otel.handler()])
    remote = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "opaque")]),
    )
    incoming = baggage.set_baggage(
        "tenant", "acme", trace.set_span_in_context(NonRecordingSpan(remote))
    )
    async with open_actor_system("app", tracer=tracer) as system:
        engine = await system.spawn(
            functools.partial(ChatEngine, wire.provider(), model="claude-sonnet-4-5"),
            name="chat",
        )
        token = context.attach(incoming)
        try:
            with otel.tracer.start_as_current_span("handle"):
                await engine.ask(UserInput("hi"))
        finally:
            context.detach(token)
    chat = otel.spans()["chat claude-sonnet-4-5"]
    assert chat.context is not None
    assert chat.context.trace_id == remote.trace_id
    (sent,) = wire.requests
    assert sent.headers["traceparent"] == (
        f"00-0af7651916cd43dd8448eb211c80319c-{hex_span(chat)}-01"
    )
    assert sent.headers["tracestate"] == "vendor=opaque"
    assert sent.headers["baggage"] == "tenant=acme"


async def test_a_streamed_call_carries_its_chat_span(otel: Otel) -> None:
    wire = Wire()
    provider = wire.provider()
    tracer = Tracer([otel.handler()])
    async with open_actor_system("app", tracer=tracer):
        with otel.tracer.start_as_current_span("request") as outer:
            request = LLMRequest(
                model="claude-sonnet-4-5", messages=[Message.user("hi")], stream=True
            )
            with traced(RecordKind.CUSTOM, "caller"):
                events = [e async for e in provider.stream(request)]
    assert events
    spans = otel.spans()
    chat, caller = spans["chat claude-sonnet-4-5"], spans["caller"]
    assert parent_of(caller) == outer.get_span_context().span_id
    assert parent_of(chat) == caller.context.span_id  # type: ignore[union-attr]
    (sent,) = wire.requests
    assert sent.headers["traceparent"].split("-")[2] == hex_span(chat)


async def test_tell_and_traced_roots_join_the_callers_span(otel: Otel) -> None:
    handler = ListHandler()
    tracer = Tracer([otel.handler(), handler])
    assert tracer.joins_ambient
    async with open_actor_system("app", tracer=tracer) as system:
        echo = await system.spawn(Echo, name="echo")
        with otel.tracer.start_as_current_span("outer") as outer:
            await echo.tell("told")
            echo.tell_nowait("told again")
            with traced(RecordKind.CUSTOM, "root work"):
                pass
        await echo.tell("untraced")  # no OTel span, no llmgine span: no span
        await trio.testing.wait_all_tasks_blocked()
    spans = otel.exporter.get_finished_spans()
    caller = outer.get_span_context()
    received = [s for s in spans if s.name == "receive str"]
    assert len(received) == 2
    for span in received:
        assert parent_of(span) == caller.span_id
        assert span.context is not None
        assert span.context.trace_id == caller.trace_id
    (root,) = (s for s in spans if s.name == "root work")
    assert parent_of(root) == caller.span_id
    # other handlers see the same records: the caller's ids
    messages = [r for r in handler.records if r.kind is RecordKind.MESSAGE]
    assert {r.parent_id for r in messages} == {format(caller.span_id, "016x")}


@attrs.frozen(kw_only=True)
class Ping(Command):
    pass


async def test_a_bus_command_joins_the_callers_span(otel: Otel) -> None:
    tracer = Tracer([otel.handler()])
    async with open_actor_system("app", tracer=tracer) as system:
        bus = MessageBus(system)
        bus.register_command_handler(Ping, lambda command: "pong")
        with otel.tracer.start_as_current_span("outer") as outer:
            result = await bus.execute(Ping())
    assert result.success
    execute = otel.spans()["execute Ping"]
    assert parent_of(execute) == outer.get_span_context().span_id


async def test_an_unsampled_caller_trace_records_nothing(otel: Otel) -> None:
    handler = ListHandler()
    tracer = Tracer([otel.handler(), handler])
    wire = Wire()
    app = TracerProvider(sampler=ALWAYS_OFF).get_tracer("app")
    async with open_actor_system("app", tracer=tracer) as system:
        echo = await system.spawn(Echo, name="echo")
        engine = await system.spawn(
            functools.partial(ChatEngine, wire.provider(), model="claude-sonnet-4-5"),
            name="chat",
        )
        with app.start_as_current_span("not sampled") as outer:
            assert await echo.ask("hi") == "hi"
            await engine.ask(UserInput("hi"))
    # parent-based: the caller's decision holds for llmgine's part too
    assert [r for r in handler.records if r.duration is not None] == []
    assert otel.exporter.get_finished_spans() == ()
    (sent,) = wire.requests
    trace_hex = format(outer.get_span_context().trace_id, "032x")
    assert sent.headers["traceparent"].startswith(f"00-{trace_hex}-")
    assert sent.headers["traceparent"].endswith("-00")


async def test_without_an_otel_handler_the_caller_span_is_not_read(otel: Otel) -> None:
    handler = ListHandler()
    tracer = Tracer([handler])
    assert not tracer.joins_ambient
    assert tracer.ambient_context() is None
    async with open_actor_system("app", tracer=tracer) as system:
        echo = await system.spawn(Echo, name="echo")
        with otel.tracer.start_as_current_span("outer"):
            await echo.ask("hi")
            await echo.tell("told")  # untraced: no span
            await trio.testing.wait_all_tasks_blocked()
    spans = [r for r in handler.records if r.duration is not None]
    assert {r.name for r in spans} == {"receive str", "echo work"}
    (receive,) = (r for r in spans if r.name == "receive str")
    assert receive.parent_id is None  # a trace of llmgine's own


async def test_outside_any_otel_span_llmgine_starts_its_own_trace(otel: Otel) -> None:
    tracer = Tracer([otel.handler()])
    async with open_actor_system("app", tracer=tracer) as system:
        echo = await system.spawn(Echo, name="echo")
        assert await echo.ask("hi") == "hi"
    spans = otel.spans()
    receive, work = spans["receive str"], spans["echo work"]
    assert receive.parent is None
    assert parent_of(work) == receive.context.span_id  # type: ignore[union-attr]
    attributes = receive.attributes or {}
    assert receive.context is not None
    assert attributes["llmgine.trace_id"] == format(receive.context.trace_id, "032x")


def test_propagation_without_a_joined_trace_uses_the_propagator(otel: Otel) -> None:
    tracer = Tracer([otel.handler()])
    ctx = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", False)
    with tracer.activate():
        assert trace_headers(ctx) == {
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        }


class Failing:
    """A handler whose ambient reading and header writing fail."""

    def handle(self, records: object) -> None:
        pass

    def close(self) -> None:
        pass

    def ambient_context(self) -> TraceContext:
        raise RuntimeError("broken")

    def propagation_headers(self, context: TraceContext) -> dict[str, str]:
        raise RuntimeError("broken")


class Quiet:
    """Reads an ambient context but writes no headers (llmgine writes them)."""

    def __init__(self, found: TraceContext | None) -> None:
        self.found = found

    def handle(self, records: object) -> None:
        pass

    def close(self) -> None:
        pass

    def ambient_context(self) -> TraceContext | None:
        return self.found


class Silent(Quiet):
    """Reads nothing, and declines to write headers."""

    def propagation_headers(self, context: TraceContext) -> None:
        return None


def test_failing_handlers_are_counted_and_the_next_one_answers() -> None:
    found = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    tracer = Tracer([Failing(), Silent(None), Quiet(found)])
    assert tracer.joins_ambient
    assert tracer.ambient_context() is found
    assert tracer.propagation_headers(found) is None
    assert tracer.statistics().handler_errors == 2
    with tracer.activate():
        token = current_trace.set(found)
        try:
            headers = trace_headers()
        finally:
            current_trace.reset(token)
    assert headers == {
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    }
    with tracer.activate(), traced(RecordKind.CUSTOM, "joined") as span:
        assert span.parent_id == found.span_id
        assert span.context is not None
        assert span.context.trace_id == found.trace_id


def test_remembered_caller_spans_are_bounded(otel: Otel) -> None:
    handler = otel.handler()
    handler._created_limit = 2
    spans = {name: otel.tracer.start_span(name) for name in "abc"}

    def read(name: str) -> TraceContext:
        with trace.use_span(spans[name]):
            found = handler.ambient_context()
        assert found is not None
        return found

    a, b = read("a"), read("b")
    assert read("a") == a  # read again: kept once, and now the newest
    c = read("c")
    # the least recently read span ("b") is forgotten first
    assert list(handler._foreign) == [a.span_id, c.span_id]
    assert list(handler._joined) == [a.trace_id, c.trace_id]
    assert b.span_id not in handler._foreign
    assert handler.ambient_context() is None  # no current span
    for span in spans.values():
        span.end()


def test_records_keep_their_ids_only_when_they_are_ids(otel: Otel) -> None:
    handler = otel.handler()
    odd = make_record(name="odd", trace_id="not-hex", span_id="s" * 16)
    again = make_record(name="again", span_id="00000000000000aa")
    first = make_record(name="first", span_id="00000000000000aa")
    handler.handle([odd, first, again])
    spans = {s.name: s for s in otel.exporter.get_finished_spans()}
    assert spans["odd"].context is not None
    assert spans["odd"].context.trace_id != 0
    assert hex_span(spans["first"]) == "00000000000000aa"
    assert hex_span(spans["again"]) != "00000000000000aa"  # an id is used once


def test_a_provider_without_an_id_generator_keeps_its_own_ids() -> None:
    handler = OtelHandler(trace.NoOpTracerProvider(), MeterProvider())
    assert handler._ids is None
    handler.handle([make_record(name="work")])  # nothing to export, no failure
    ids = _PresetIds(object())
    assert ids.is_trace_id_random() is False


def test_handlers_on_one_provider_share_the_id_generator(otel: Otel) -> None:
    first, second = otel.handler(), otel.handler()
    assert first._ids is second._ids
    first.handle([make_record(name="one", span_id="00000000000000b1")])
    second.handle([make_record(name="two", span_id="00000000000000b2")])
    spans = otel.spans()
    assert hex_span(spans["one"]) == "00000000000000b1"
    assert hex_span(spans["two"]) == "00000000000000b2"
