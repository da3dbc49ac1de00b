"""One content switch for every handler, and secrets kept out of every output."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Sum
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.console import Console

from llmgine import _secrets
from llmgine._exceptions import ConfigurationError
from llmgine.observability import ConsoleHandler, JsonlHandler, OtelHandler, Tracer
from llmgine.observability._content import (
    CAPTURE_CONTENT_ENV,
    CONTENT_ATTRIBUTES,
    without_content,
)
from llmgine.observability._tracer import DROPPED_REPORT_INTERVAL
from llmgine.tracing import RecordKind, TraceRecord

from ._records import ListHandler, make_record

PROMPT = "my secret plan for the quarter"


def llm_record(**attributes: object) -> TraceRecord:
    return make_record(
        RecordKind.LLM_CALL,
        "chat m",
        attributes={
            "gen_ai.usage.input_tokens": 3,
            "gen_ai.input.messages": json.dumps([{"role": "user", "content": PROMPT}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant"}]),
            "gen_ai.system_instructions": "be brief",
            **attributes,
        },
    )


class Outputs:
    """A console, a JSONL file and an OTel exporter, read back as text."""

    def __init__(self, tmp_path: Path, **capture: bool) -> None:
        self.out = io.StringIO()
        self.path = tmp_path / "trace.jsonl"
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.handlers = [
            ConsoleHandler(
                Console(file=self.out, width=400),
                capture_content=capture.get("console", False),
            ),
            JsonlHandler(self.path, capture_content=capture.get("jsonl", False)),
            OtelHandler(
                provider,
                MeterProvider(metric_readers=[self.reader]),
                capture_content=capture.get("otel", False),
            ),
        ]

    def texts(self) -> dict[str, str]:
        spans = self.exporter.get_finished_spans()
        return {
            "console": self.out.getvalue(),
            "jsonl": self.path.read_text(),
            "otel": repr([dict(s.attributes or {}) for s in spans])
            + repr([[dict(e.attributes or {}) for e in s.events] for s in spans]),
        }


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)


def _run(tracer: Tracer, *records: TraceRecord) -> None:
    for record in records:
        tracer.emit(record)
    tracer.flush()
    for handler in tracer.handlers:
        handler.close()


def test_content_is_off_by_default_for_every_handler(tmp_path: Path) -> None:
    outputs = Outputs(tmp_path)
    tracer = Tracer(outputs.handlers)
    assert not tracer.capture_content
    assert not tracer.records_content
    _run(tracer, llm_record())
    for name, text in outputs.texts().items():
        assert PROMPT not in text, name
        assert "be brief" not in text, name
    assert "in=3" in outputs.texts()["console"]  # the rest is there


def test_the_tracer_switch_turns_it_on_for_every_handler(tmp_path: Path) -> None:
    outputs = Outputs(tmp_path)
    custom = ListHandler()  # no switch of its own: the tracer's counts
    tracer = Tracer([*outputs.handlers, custom], capture_content=True)
    assert tracer.records_content
    _run(tracer, llm_record())
    for name, text in outputs.texts().items():
        assert "my secret plan" in text, name
    assert PROMPT in str(custom.records[0].attributes["gen_ai.input.messages"])


def test_a_handler_switch_turns_it_on_for_that_handler_only(tmp_path: Path) -> None:
    outputs = Outputs(tmp_path, jsonl=True)
    tracer = Tracer(outputs.handlers)
    assert tracer.records_content  # providers attach it: one handler wants it
    _run(tracer, llm_record())
    texts = outputs.texts()
    assert PROMPT in texts["jsonl"]
    assert PROMPT not in texts["console"]
    assert PROMPT not in texts["otel"]


def test_a_custom_handler_gets_no_content_unless_the_tracer_says_so() -> None:
    handler = ListHandler()
    tracer = Tracer([handler])
    _run(tracer, llm_record())
    (record,) = handler.records
    assert CONTENT_ATTRIBUTES.isdisjoint(record.attributes)
    assert record.attributes["gen_ai.usage.input_tokens"] == 3


@pytest.mark.parametrize(("value", "on"), [("true", True), ("0", False)])
def test_the_standard_variable_is_the_tracer_default(
    monkeypatch: pytest.MonkeyPatch, value: str, on: bool
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, value)
    assert Tracer([]).capture_content is on
    assert Tracer([], capture_content=False).capture_content is False


def test_the_switch_must_be_a_bool() -> None:
    with pytest.raises(ConfigurationError, match="capture_content"):
        Tracer([], capture_content="yes")  # type: ignore[arg-type]


def test_without_content_keeps_a_clean_record_as_it_is() -> None:
    record = make_record(attributes={"a": 1})
    assert without_content(record) is record
    assert without_content(make_record()) is not None


def test_registered_secrets_never_reach_any_output(tmp_path: Path) -> None:
    key = "registered-but-shapeless-3e9f"
    _secrets.register_secret(key)
    outputs = Outputs(tmp_path)
    tracer = Tracer(outputs.handlers, capture_content=True)
    record = llm_record(**{"http.note": f"sent {key}", "gen_ai.input.messages": key})
    failed = make_record(
        RecordKind.ACTOR_FAILED,
        "boom",
        duration=None,
        error=f"AuthenticationError: bad key {key}",
        error_type="AuthenticationError",
    )
    _run(tracer, record, failed)
    for name, text in outputs.texts().items():
        assert key not in text, name
        assert "[REDACTED]" in text, name


def test_drops_are_reported_at_most_once_a_second() -> None:
    handler = ListHandler()
    tracer = Tracer([handler], capacity=2)
    now = [100.0]
    tracer._now = lambda: now[0]

    def overflow(count: int) -> None:
        for _ in range(count):
            tracer.emit(make_record())
        tracer.flush()

    overflow(5)  # 3 dropped: reported at once
    overflow(4)  # 2 more, within the second: held back
    now[0] += DROPPED_REPORT_INTERVAL
    overflow(3)  # 1 more, a second later: reported with the 2 held back
    overflow(2)  # nothing dropped: nothing reported
    reports = [r for r in handler.records if r.kind is RecordKind.TRACER_DROPPED]
    assert [r.attributes["llmgine.tracer.dropped"] for r in reports] == [3, 3]
    assert reports[-1].attributes["llmgine.tracer.dropped_total"] == 6
    assert tracer.statistics().dropped == 6


async def test_drops_still_unreported_are_reported_at_close() -> None:
    handler = ListHandler()
    tracer = Tracer([handler], capacity=1)
    tracer._now = lambda: 5.0
    for _ in range(3):
        tracer.emit(make_record())
    tracer.flush()
    tracer.emit(make_record())
    tracer.emit(make_record())  # dropped, within the second
    await tracer.aclose()
    reports = [r for r in handler.records if r.kind is RecordKind.TRACER_DROPPED]
    assert [r.attributes["llmgine.tracer.dropped"] for r in reports] == [2, 1]


def test_otel_counts_dropped_records(tmp_path: Path) -> None:
    outputs = Outputs(tmp_path)
    tracer = Tracer(outputs.handlers, capacity=1)
    for _ in range(4):
        tracer.emit(make_record())
    tracer.flush()
    # a report of another's making with no count adds nothing
    bogus = make_record(RecordKind.TRACER_DROPPED, "tracer.dropped", duration=None)
    outputs.handlers[2].handle([bogus])
    _run(tracer)
    data = outputs.reader.get_metrics_data()
    assert data is not None
    counts = [
        point.value
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "llmgine.tracer.dropped"
        for point in metric.data.data_points
        if isinstance(metric.data, Sum)
    ]
    assert counts == [3]
    assert "tracer.dropped" in outputs.texts()["console"]
