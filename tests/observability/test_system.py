"""The tracer inside a running actor system: spans across actors, delivery at exit."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import attrs
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmgine.actors import Actor, ActorRef, open_actor_system
from llmgine.observability import (
    JsonlHandler,
    OtelHandler,
    RecordKind,
    Tracer,
    read_jsonl,
    traced,
)

from ._records import ListHandler


@attrs.frozen
class Go:
    n: int


@attrs.frozen
class Double:
    n: int


@attrs.frozen
class Boom:
    pass


class Doubler(Actor):
    """B: answers with twice the number, inside an LLM-call-like span."""

    async def receive(self, message: Any) -> Any:
        match message:
            case Double(n=n):
                with traced(
                    RecordKind.LLM_CALL,
                    "chat scripted",
                    {"gen_ai.provider.name": "scripted", "gen_ai.request.model": "m"},
                ):
                    return 2 * n
            case Boom():
                raise ValueError("boom")


class Front(Actor):
    """A: asks B to do the work."""

    def __init__(self, back: ActorRef) -> None:
        self.back = back

    async def receive(self, message: Any) -> Any:
        match message:
            case Go(n=n):
                return await self.back.ask(Double(n))


async def _run(tracer: Tracer) -> int:
    async with open_actor_system("app", tracer=tracer) as system:
        back = await system.spawn(Doubler, name="back")
        front = await system.spawn(functools.partial(Front, back), name="front")
        with traced(RecordKind.CUSTOM, "request"):
            answer: int = await front.ask(Go(21))
        # a plain tell from untraced code makes no span
        await back.tell(Double(1))
    return answer


async def test_spans_are_parented_across_two_actors() -> None:
    handler = ListHandler()
    tracer = Tracer([handler])
    assert await _run(tracer) == 42
    # right after the block: every record delivered, every handler closed
    assert handler.closed == 1
    assert tracer.statistics().queued == 0
    assert tracer.statistics().dropped == 0
    spans = {r.name: r for r in handler.records if r.duration is not None}
    request = spans["request"]
    front, back = spans["receive Go"], spans["receive Double"]
    assert request.parent_id is None
    assert front.parent_id == request.span_id
    assert back.parent_id == front.span_id
    assert {front.trace_id, back.trace_id} == {request.trace_id}
    assert (front.actor, back.actor) == ("/app/front", "/app/back")
    # the untraced tell got no message span; its LLM call starts a trace of its own
    assert len([r for r in handler.records if r.name == "receive Double"]) == 1
    nested, alone = (r for r in handler.records if r.name == "chat scripted")
    assert nested.parent_id == back.span_id
    assert nested.trace_id == request.trace_id
    assert alone.parent_id is None
    kinds = {r.kind for r in handler.records}
    assert RecordKind.ACTOR_STARTED in kinds


async def test_otel_spans_from_a_running_system() -> None:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    try:
        await _run(Tracer([OtelHandler(tracer_provider, meter_provider)]))
        finished = exporter.get_finished_spans()
        spans = {s.name: s for s in finished}
        request, front = spans["request"], spans["receive Go"]
        back = spans["receive Double"]
        (llm,) = (s for s in finished if s.name == "chat scripted" and s.parent)
        assert request.parent is None
        assert front.parent is not None
        assert front.parent.span_id == request.context.span_id
        assert back.parent is not None
        assert back.parent.span_id == front.context.span_id
        assert llm.parent is not None
        assert llm.parent.span_id == back.context.span_id
        trace_ids = {s.context.trace_id for s in (request, front, back, llm)}
        assert len(trace_ids) == 1
        assert (back.attributes or {})["llmgine.actor.path"] == "/app/back"
        assert reader.get_metrics_data() is not None  # the chat call was measured
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


async def test_failures_are_traced_and_nothing_is_published_back(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    tracer = Tracer([JsonlHandler(path)])
    async with open_actor_system("app", tracer=tracer) as system:
        back = await system.spawn(Doubler, name="back")
        with (
            traced(RecordKind.CUSTOM, "request"),
            pytest.raises(ValueError, match="boom"),
        ):
            await back.ask(Boom())
        with traced(RecordKind.CUSTOM, "again"):
            assert await back.ask(Double(2)) == 4
        stats = back.statistics()
    records = read_jsonl(path)
    failed = next(r for r in records if r.name == "receive Boom")
    assert failed.error_type == "ValueError"
    assert failed.kind is RecordKind.MESSAGE
    restarted = next(r for r in records if r.kind is RecordKind.ACTOR_RESTARTED)
    assert restarted.actor == "/app/back"
    # the actor saw the two messages the test sent, and nothing from the tracer
    assert (stats.processed, stats.failed) == (1, 1)
    assert tracer.statistics().received == len(records)
