"""OtelHandler: GenAI semantic conventions, span structure, metrics, content opt-in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import attrs
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Histogram,
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from llmgine._exceptions import ConfigurationError
from llmgine.observability import OtelHandler
from llmgine.observability._otel import (
    CAPTURE_CONTENT_ENV,
    DURATION_BUCKETS,
    TOKEN_USAGE_BUCKETS,
)
from llmgine.tracing import RecordKind, TraceRecord

from ._records import make_record

T0 = 1_700_000_000.0


@attrs.define
class Otel:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def handler(self, **kwargs: Any) -> OtelHandler:
        return OtelHandler(self.tracer_provider, self.meter_provider, **kwargs)

    def spans(self) -> dict[str, ReadableSpan]:
        return {span.name: span for span in self.exporter.get_finished_spans()}

    def _metrics(self) -> list[Metric]:
        data = self.reader.get_metrics_data()
        if data is None:
            return []
        return [
            metric
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
        ]

    def points(self, name: str) -> list[HistogramDataPoint]:
        found: list[HistogramDataPoint] = []
        for metric in self._metrics():
            if metric.name == name:
                found.extend(cast(Histogram, metric.data).data_points)
        return found

    def units(self) -> dict[str, str | None]:
        return {metric.name: metric.unit for metric in self._metrics()}


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Otel(exporter, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def llm_record(**overrides: Any) -> TraceRecord:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.response.id": "chatcmpl-123",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 52,
        "gen_ai.usage.output_tokens": 18,
        "server.address": "api.openai.com",
        "server.port": 443,
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": []}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": []}]),
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "hi"}]),
    }
    fields: dict[str, Any] = {
        "kind": RecordKind.LLM_CALL,
        "name": "chat gpt-4o",
        "at": T0,
        "duration": 0.75,
        "actor": "/app/llm",
        "attributes": attributes,
    }
    fields.update(overrides)
    return make_record(**fields)


def test_llm_call_becomes_a_client_chat_span(otel: Otel) -> None:
    handler = otel.handler()
    handler.handle([llm_record()])
    span = otel.spans()["chat gpt-4o"]
    assert span.kind is SpanKind.CLIENT
    assert span.start_time == int(T0 * 1e9)
    assert span.end_time == int(T0 * 1e9) + int(0.75 * 1e9)
    assert span.parent is None
    attributes = dict(span.attributes or {})
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.response.id": "chatcmpl-123",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.usage.input_tokens": 52,
        "gen_ai.usage.output_tokens": 18,
        "server.address": "api.openai.com",
        "server.port": 443,
        "llmgine.actor.path": "/app/llm",
    }
    assert attributes.items() >= expected.items()
    assert tuple(attributes["gen_ai.response.finish_reasons"]) == ("stop",)  # type: ignore[arg-type]
    assert "error.type" not in attributes
    assert span.status.status_code is StatusCode.UNSET
    assert span.instrumentation_scope is not None
    assert (
        span.instrumentation_scope.schema_url == "https://opentelemetry.io/schemas/1.37.0"
    )


def test_content_is_left_out_unless_opted_in(otel: Otel) -> None:
    otel.handler().handle([llm_record()])
    attributes = otel.spans()["chat gpt-4o"].attributes or {}
    assert not {k for k in attributes if k.endswith(("messages", "instructions"))}


def test_capture_content_puts_messages_on_the_chat_span(otel: Otel) -> None:
    otel.handler(capture_content=True).handle([llm_record()])
    attributes = otel.spans()["chat gpt-4o"].attributes or {}
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": []}
    ]
    assert "gen_ai.output.messages" in attributes
    assert "gen_ai.system_instructions" in attributes


@pytest.mark.parametrize(("value", "captured"), [("true", True), ("False", False)])
def test_the_standard_variable_turns_capture_on(
    otel: Otel, monkeypatch: pytest.MonkeyPatch, value: str, captured: bool
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, value)
    handler = otel.handler()
    assert handler.capture_content is captured
    handler.handle([llm_record()])
    assert (
        "gen_ai.input.messages" in (otel.spans()["chat gpt-4o"].attributes or {})
    ) is (captured)


def test_both_genai_histograms_are_recorded(otel: Otel) -> None:
    otel.handler().handle([llm_record()])
    base = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "server.address": "api.openai.com",
        "server.port": 443,
    }
    assert otel.units() == {
        "gen_ai.client.token.usage": "{token}",
        "gen_ai.client.operation.duration": "s",
    }
    tokens = {
        (p.attributes or {})["gen_ai.token.type"]: p
        for p in otel.points("gen_ai.client.token.usage")
    }
    assert set(tokens) == {"input", "output"}
    assert tokens["input"].sum == 52
    assert tokens["output"].sum == 18
    assert dict(tokens["input"].attributes or {}) == {
        **base,
        "gen_ai.token.type": "input",
    }
    assert tuple(tokens["input"].explicit_bounds) == TOKEN_USAGE_BUCKETS
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert duration.sum == pytest.approx(0.75)
    assert dict(duration.attributes or {}) == base
    assert tuple(duration.explicit_bounds) == DURATION_BUCKETS


def test_a_failed_call_carries_error_type(otel: Otel) -> None:
    record = llm_record(
        error="RateLimitError: [openai HTTP 429] slow down",
        error_type="RateLimitError",
        attributes={"gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o"},
    )
    otel.handler().handle([record])
    span = otel.spans()["chat gpt-4o"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "RateLimitError: [openai HTTP 429] slow down"
    assert (span.attributes or {})["error.type"] == "RateLimitError"
    (duration,) = otel.points("gen_ai.client.operation.duration")
    assert (duration.attributes or {})["error.type"] == "RateLimitError"
    assert otel.points("gen_ai.client.token.usage") == []  # no usage, no token points


def test_tool_and_engine_spans(otel: Otel) -> None:
    engine = make_record(
        RecordKind.ENGINE_RUN,
        "invoke_agent helper",
        attributes={"gen_ai.agent.name": "helper"},
    )
    tool = make_record(
        RecordKind.TOOL_CALL,
        "execute_tool add",
        parent_id=engine.span_id,
        attributes={"gen_ai.tool.name": "add", "gen_ai.tool.call.id": "call_1"},
    )
    otel.handler().handle([tool, engine])
    spans = otel.spans()
    tool_span, engine_span = spans["execute_tool add"], spans["invoke_agent helper"]
    assert tool_span.kind is SpanKind.INTERNAL
    assert engine_span.kind is SpanKind.INTERNAL
    assert (tool_span.attributes or {})["gen_ai.operation.name"] == "execute_tool"
    assert (tool_span.attributes or {})["gen_ai.tool.call.id"] == "call_1"
    assert (engine_span.attributes or {})["gen_ai.operation.name"] == "invoke_agent"
    assert (engine_span.attributes or {})["gen_ai.agent.name"] == "helper"
    assert otel.points("gen_ai.client.operation.duration") == []  # chat calls only


def test_children_emitted_first_are_parented_when_the_parent_arrives(otel: Otel) -> None:
    # A (actor /app/a) handles a message and asks B (actor /app/b); B's work
    # makes an LLM call. Records arrive as the work ends: innermost first.
    a = make_record(RecordKind.MESSAGE, "receive Go", actor="/app/a", at=T0, duration=1.0)
    b = make_record(
        RecordKind.MESSAGE,
        "receive Ask",
        actor="/app/b",
        parent_id=a.span_id,
        at=T0 + 0.1,
        duration=0.8,
    )
    llm = llm_record(parent_id=b.span_id, at=T0 + 0.2, duration=0.5)
    restarted = make_record(
        RecordKind.ACTOR_RESTARTED,
        "/app/c",
        parent_id=a.span_id,
        at=T0 + 0.05,
        duration=None,
        attributes={"attempt": 1},
    )
    handler = otel.handler()
    handler.handle([llm, restarted])
    assert otel.spans() == {}  # nothing can be placed yet
    assert handler.held == 2
    handler.handle([b])
    assert otel.spans() == {}
    handler.handle([a])
    assert handler.held == 0
    spans = otel.spans()
    span_a, span_b, span_llm = (
        spans["receive Go"],
        spans["receive Ask"],
        spans["chat gpt-4o"],
    )
    assert span_a.parent is None
    assert span_b.parent is not None
    assert span_llm.parent is not None
    assert span_b.parent.span_id == span_a.context.span_id
    assert span_llm.parent.span_id == span_b.context.span_id
    assert {span_b.context.trace_id, span_llm.context.trace_id} == {
        span_a.context.trace_id
    }
    assert (span_b.attributes or {})["llmgine.actor.path"] == "/app/b"
    assert (span_b.attributes or {})["llmgine.span_id"] == b.span_id
    # the point event became an event on its parent span
    (event,) = span_a.events
    assert event.name == "actor.restarted"
    assert event.timestamp == int((T0 + 0.05) * 1e9)
    assert dict(event.attributes or {}) == {"llmgine.name": "/app/c", "attempt": 1}


def test_failures_inside_a_span_become_events_with_the_error(otel: Otel) -> None:
    parent = make_record(RecordKind.MESSAGE, "receive Work", actor="/app/sup")
    failed = make_record(
        RecordKind.ACTOR_FAILED,
        "/app/sup/worker",
        parent_id=parent.span_id,
        duration=None,
        actor="/app/sup/worker",
        error="ValueError: bad input",
        error_type="ValueError",
        attributes={"restarts": 2, "note": None},
    )
    handler = otel.handler()
    handler.handle([failed, parent])
    (event,) = otel.spans()["receive Work"].events
    assert event.name == "actor.failed"
    assert dict(event.attributes or {}) == {
        "llmgine.name": "/app/sup/worker",
        "restarts": 2,
        "llmgine.actor.path": "/app/sup/worker",
        "error.type": "ValueError",
        "exception.message": "ValueError: bad input",
    }


def test_late_children_join_a_created_parent(otel: Otel) -> None:
    parent = make_record(RecordKind.BUS_COMMAND, "execute StartChat")
    child = make_record(
        RecordKind.BUS_EVENT, "publish ChatDone", parent_id=parent.span_id
    )
    dead = make_record(
        RecordKind.DEAD_LETTER,
        "ChatDone",
        parent_id=parent.span_id,
        duration=None,
        actor="/app/bus",
        error="ActorStopped: gone",
        error_type="ActorStopped",
    )
    handler = otel.handler()
    handler.handle([parent])
    handler.handle([child, dead])  # the parent ended long ago
    spans = otel.spans()
    root = spans["execute StartChat"]
    for name in ("publish ChatDone", "dead_letter ChatDone"):
        assert spans[name].parent is not None
        assert spans[name].parent.span_id == root.context.span_id  # type: ignore[union-attr]
    letter = spans["dead_letter ChatDone"]
    assert letter.start_time == letter.end_time  # zero-length
    assert (letter.attributes or {})["error.type"] == "ActorStopped"
    assert letter.status.status_code is StatusCode.ERROR


def test_rootless_point_events(otel: Otel) -> None:
    handler = otel.handler()
    handler.handle(
        [
            make_record(RecordKind.ACTOR_SPAWNED, "/app/a", duration=None),
            make_record(RecordKind.ACTOR_STOPPED, "/app/a", duration=None),
            make_record(
                RecordKind.BREAKER,
                "/app/llm",
                duration=None,
                attributes={"from": "closed", "to": "open"},
            ),
        ]
    )
    assert set(otel.spans()) == {"breaker /app/llm"}  # lifecycle noise is skipped


def test_orphans_are_released_as_roots_on_overflow_and_close(otel: Otel) -> None:
    handler = otel.handler(max_pending=4)
    waiting = [make_record(name=f"r{i}", parent_id=f"{i}" * 16) for i in range(4)]
    event = make_record(RecordKind.DEAD_LETTER, "late", parent_id="5" * 16, duration=None)
    noise = make_record(
        RecordKind.ACTOR_STOPPED, "quiet", parent_id="6" * 16, duration=None
    )
    handler.handle([*waiting, event])  # 5 waiting > 4: the oldest give way
    assert set(otel.spans()) == {"r0", "r1"}
    assert handler.held == 3
    handler.handle([noise])
    handler.close()
    assert set(otel.spans()) == {"r0", "r1", "r2", "r3", "dead_letter late"}
    assert all(span.parent is None for span in otel.exporter.get_finished_spans())
    assert handler.held == 0


def test_looping_parent_ids_are_still_released(otel: Otel) -> None:
    one = make_record(name="one", span_id="1" * 16, parent_id="2" * 16)
    two = make_record(name="two", span_id="2" * 16, parent_id="1" * 16)
    handler = otel.handler()
    handler.handle([one, two])
    handler.close()
    assert set(otel.spans()) == {"one", "two"}
    assert handler.held == 0


def test_children_of_a_released_orphan_follow_it(otel: Otel) -> None:
    middle = make_record(name="middle", parent_id="9" * 16)
    leaf = make_record(name="leaf", parent_id=middle.span_id)
    handler = otel.handler()
    handler.handle([leaf, middle])
    handler.close()
    spans = otel.spans()
    assert spans["middle"].parent is None
    assert spans["leaf"].parent is not None
    assert spans["leaf"].parent.span_id == spans["middle"].context.span_id


def test_attribute_values_are_made_otel_safe(otel: Otel) -> None:
    otel.handler().handle(
        [
            make_record(
                name="values",
                attributes={
                    "strings": ["a", "b"],
                    "ints": (1, 2),
                    "mixed": [1, "a"],
                    "nested": {"k": [1]},
                    "empty": [],
                    "none": None,
                    "objects": [object, object],
                },
            )
        ]
    )
    attributes = otel.spans()["values"].attributes or {}
    assert tuple(attributes["strings"]) == ("a", "b")  # type: ignore[arg-type]
    assert tuple(attributes["ints"]) == (1, 2)  # type: ignore[arg-type]
    assert attributes["mixed"] == '[1, "a"]'
    assert attributes["nested"] == '{"k": [1]}'
    assert attributes["empty"] == "[]"
    assert "none" not in attributes
    assert str(attributes["objects"]).startswith('["<class')


def test_secrets_never_reach_spans(otel: Otel) -> None:
    otel.handler(capture_content=True).handle(
        [
            llm_record(
                attributes={
                    "gen_ai.request.model": "m",
                    "authorization": "Bearer abcdefghij",
                    "gen_ai.input.messages": json.dumps(
                        [{"content": "my key is sk-abcdefghijklmnopqrstu"}]
                    ),
                },
                error="AuthenticationError: bad key sk-abcdefghijklmnopqrstu",
                error_type="AuthenticationError",
            )
        ]
    )
    span = otel.exporter.get_finished_spans()[0]
    text = json.dumps(dict(span.attributes or {})) + str(span.status.description)
    assert "abcdefghij" not in text
    assert "[REDACTED]" in text


def test_close_flushes_or_shuts_down_the_providers(otel: Otel) -> None:
    calls: list[str] = []

    class Provider:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def force_flush(self) -> None:
            calls.append("flush")

        def shutdown(self) -> None:
            calls.append("shutdown")

    tracer_provider = Provider(otel.tracer_provider)
    meter_provider = Provider(otel.meter_provider)
    OtelHandler(tracer_provider, meter_provider).close()  # type: ignore[arg-type]
    assert calls == ["flush", "flush"]
    calls.clear()
    OtelHandler(
        tracer_provider,  # type: ignore[arg-type]
        meter_provider,  # type: ignore[arg-type]
        shutdown_on_close=True,
    ).close()
    assert calls == ["shutdown", "shutdown"]


def test_global_providers_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    handler = OtelHandler()
    handler.handle([llm_record()])  # no SDK configured: no-op spans, no error
    handler.close()
    assert repr(handler) == "OtelHandler(capture_content=False)"


def test_max_pending_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="'max_pending' must be a positive int"):
        OtelHandler(max_pending=0)


def test_created_span_memory_is_bounded(otel: Otel) -> None:
    handler = otel.handler(max_pending=1)
    handler._created_limit = 3
    records = [make_record(name=f"r{i}") for i in range(5)]
    handler.handle(records)
    assert list(handler._created) == [r.span_id for r in records[-3:]]
