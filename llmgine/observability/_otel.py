"""OpenTelemetry output, following the GenAI semantic conventions (v1.37.0).

This module imports nothing from OpenTelemetry at import time: the class can
be named without the ``otel`` extra installed, and constructing it without
the extra raises :class:`~llmgine.ConfigurationError`.

Our records carry llmgine's own trace and span ids, and a child usually ends,
and so is emitted, before its parent. SDK spans cannot take our ids, so the
handler assembles each trace itself: it remembers, for every span it has
created, our span id → the OpenTelemetry ``SpanContext``; a record whose
parent was created becomes that parent's child at once; a record whose parent
has not arrived waits for it (in a bounded buffer; on overflow, and at close,
the oldest waiting records are released as roots). Spans get explicit start
and end times taken from the record, so creating them late changes nothing.

With the SDK's ``TracerProvider``, the spans made for records take the
records' own ids (the handler hands them to the SDK tracer it uses, through
that tracer's id generator), so a ``traceparent`` header llmgine sent names
the exported span; with another provider the SDK's ids are used.

Joining the caller's trace: :meth:`OtelHandler.ambient_context` reads the
caller's current OpenTelemetry span when llmgine work starts without an
llmgine parent (at ``ask``, ``tell``, ``execute``, or a root ``traced``) and
remembers it. A record whose parent is such a span is made its child at once,
so the SDK puts it in the caller's trace. :meth:`OtelHandler.propagation_headers`
writes the headers for an llmgine span through OpenTelemetry's configured
propagator, with the caller's ``tracestate`` and baggage when the trace joined
one.

Point events (spawned, restarted, dead letter, breaker, ...) become *span
events* on their parent span when it has not been created yet (the usual
case: they happen while the parent's work runs); zero-length child spans when
the parent was already created; and, without a parent, zero-length root spans
for the kinds worth an alert (failed, restarted, dead letter, breaker,
custom). Lifecycle noise without a parent (spawned, started, stopped) is
skipped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmgine._exceptions import ConfigurationError
from llmgine.observability._content import (
    CAPTURE_CONTENT_ENV,
    CONTENT_ATTRIBUTES,
    capture_content_from_env,
)
from llmgine.observability._redact import redact_record
from llmgine.tracing import RecordKind, TraceContext, TraceRecord, make_context

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import SpanContext, TracerProvider
    from opentelemetry.util.types import AttributeValue

__all__ = ["CAPTURE_CONTENT_ENV", "SCHEMA_URL", "SEMCONV_VERSION", "OtelHandler"]

#: The GenAI semantic conventions version the mapping follows.
SEMCONV_VERSION = "1.37.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"

TOKEN_USAGE_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
                       4194304, 16777216, 67108864)  # fmt: skip
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
                    20.48, 40.96, 81.92)  # fmt: skip

_OPERATIONS: Mapping[RecordKind, str] = {
    RecordKind.LLM_CALL: "chat",
    RecordKind.TOOL_CALL: "execute_tool",
    RecordKind.ENGINE_RUN: "invoke_agent",
}
_METRIC_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "server.address",
    "server.port",
)
# Point events without a parent that still deserve a (zero-length) span.
_ALERTS = frozenset(
    {
        RecordKind.ACTOR_FAILED,
        RecordKind.ACTOR_RESTARTED,
        RecordKind.DEAD_LETTER,
        RecordKind.BREAKER,
        RecordKind.CUSTOM,
        RecordKind.TRACER_DROPPED,
    }
)


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _plain(value: object) -> AttributeValue | None:
    """An OpenTelemetry attribute value for ``value`` (None to leave it out)."""
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return str(value)  # plain str, also for StrEnum members
    if isinstance(value, list | tuple) and value:
        kind = type(value[0])
        if all(type(v) is kind for v in value):
            if isinstance(value[0], str):
                return [str(v) for v in value]
            if kind in (bool, int, float):
                return list(value)
    return json.dumps(value, default=repr, ensure_ascii=False)


def _id(text: str, digits: int) -> int:
    """The id ``text`` names (``digits`` hex digits), or 0 when it names none."""
    if len(text) != digits:
        return 0
    try:
        return int(text, 16)
    except ValueError:
        return 0


class _PresetIds:
    """An SDK id generator that hands out the ids set just before a span starts.

    Wraps the provider's own generator, which answers whenever no id was set.
    The SDK shares one tracer per instrumentation scope, so handlers on one
    provider share this generator: the ids set are the setting thread's own.
    """

    __slots__ = ("_base", "_local")

    def __init__(self, base: Any) -> None:
        self._base = base
        self._local = threading.local()

    def preset(self, trace_id: int, span_id: int) -> None:
        """Hand these ids (0: none) to the next span this thread starts."""
        local = self._local
        local.trace_id = trace_id
        local.span_id = span_id

    def generate_trace_id(self) -> int:
        local = self._local
        value: int = getattr(local, "trace_id", 0)
        local.trace_id = 0
        return value or int(self._base.generate_trace_id())

    def generate_span_id(self) -> int:
        local = self._local
        value: int = getattr(local, "span_id", 0)
        local.span_id = 0
        return value or int(self._base.generate_span_id())

    def is_trace_id_random(self) -> bool:
        check = getattr(self._base, "is_trace_id_random", None)
        return bool(check()) if callable(check) else False


class OtelHandler:
    """Turn records into OpenTelemetry spans, span events and GenAI metrics.

    ``tracer_provider`` and ``meter_provider`` default to the global ones
    (``opentelemetry.trace.get_tracer_provider()``), as any instrumentation.
    Message content (``gen_ai.input.messages`` and friends) is exported only
    when ``capture_content=True`` here or on the :class:`Tracer`, or
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is true. Records the
    tracer dropped are counted by the ``llmgine.tracer.dropped`` counter.
    ``max_pending`` bounds the records waiting for their parent.
    ``shutdown_on_close`` shuts the providers down at close (for providers
    made just for this handler); otherwise they are only flushed.

    A :class:`Tracer` with this handler joins the caller's trace: see
    :meth:`ambient_context` and :meth:`propagation_headers`.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool = False,
        *,
        max_pending: int = 10_000,
        shutdown_on_close: bool = False,
    ) -> None:
        try:
            from opentelemetry import context, metrics, propagate, trace
        except ImportError as exc:
            raise ConfigurationError(
                "OtelHandler needs OpenTelemetry, which is not installed:"
                " pip install 'llmgine[otel]'"
            ) from exc
        if type(max_pending) is not int or max_pending <= 0:
            raise ConfigurationError(
                f"'max_pending' must be a positive int (got {max_pending!r})"
            )
        self._trace = trace
        self._context = context
        self._propagate = propagate
        self.tracer_provider = tracer_provider or trace.get_tracer_provider()
        self.meter_provider = meter_provider or metrics.get_meter_provider()
        #: Whether this handler asked for content (the Tracer applies the switch).
        self.capture_content = bool(capture_content) or capture_content_from_env()
        self.max_pending = max_pending
        self.shutdown_on_close = shutdown_on_close
        self._tracer = self.tracer_provider.get_tracer("llmgine", schema_url=SCHEMA_URL)
        # An SDK tracer takes its ids from its id generator: the "llmgine"
        # tracer gets one that hands out the records' ids, so exported spans
        # carry them (handlers on one provider share that tracer, and it).
        self._ids: _PresetIds | None = None
        base_ids = getattr(self._tracer, "id_generator", None)
        if isinstance(base_ids, _PresetIds):
            self._ids = base_ids
        elif callable(getattr(base_ids, "generate_span_id", None)):
            self._ids = _PresetIds(base_ids)
            setattr(self._tracer, "id_generator", self._ids)  # noqa: B010
        meter = self.meter_provider.get_meter("llmgine", schema_url=SCHEMA_URL)
        self._token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_USAGE_BUCKETS,
        )
        self._operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._dropped = meter.create_counter(
            "llmgine.tracer.dropped",
            unit="{record}",
            description="Trace records the llmgine tracer dropped because it was full.",
        )
        # our span id -> the SpanContext of the span made for it (bounded)
        self._created: dict[str, SpanContext] = {}
        self._created_limit = max(4 * max_pending, 65536)
        # our parent span id -> records waiting for that parent
        self._pending: dict[str, list[TraceRecord]] = {}
        self._held = 0
        # the caller's spans read by ambient_context (span id -> its context),
        # and the caller's OpenTelemetry context by trace id (for propagation)
        self._foreign: dict[str, SpanContext] = {}
        self._joined: dict[str, Context] = {}

    @property
    def held(self) -> int:
        """How many records are waiting for their parent span."""
        return self._held

    def ambient_context(self) -> TraceContext | None:
        """The caller's current OpenTelemetry span as a parent for llmgine work.

        None when there is no valid current span. The span is remembered (a
        bounded number of them), so records whose parent it is are made its
        children, in the caller's trace, and :meth:`propagation_headers` can
        carry its ``tracestate`` and baggage on.
        """
        current = self._context.get_current()
        span_context = self._trace.get_current_span(current).get_span_context()
        if not span_context.is_valid:
            return None
        trace_id = format(span_context.trace_id, "032x")
        span_id = format(span_context.span_id, "016x")
        foreign = self._foreign
        foreign.pop(span_id, None)  # read last, evicted last
        foreign[span_id] = span_context
        if len(foreign) > self._created_limit:
            del foreign[next(iter(foreign))]
        # The caller's context with its span replaced by a light stand-in:
        # baggage and tracestate are kept, the caller's span object is not.
        joined = self._joined
        joined.pop(trace_id, None)  # newest last: evicted last
        joined[trace_id] = self._trace.set_span_in_context(
            self._trace.NonRecordingSpan(span_context), current
        )
        if len(joined) > self._created_limit:
            del joined[next(iter(joined))]
        return make_context(trace_id, span_id, span_context.trace_flags.sampled)

    def propagation_headers(self, context: TraceContext) -> dict[str, str]:
        """The headers that carry ``context`` to another service.

        Written by OpenTelemetry's configured propagator (W3C ``traceparent``,
        ``tracestate`` and ``baggage`` by default), from the caller's
        OpenTelemetry context when ``context``'s trace joined one.
        """
        trace = self._trace
        base = self._joined.get(context.trace_id)
        if base is None:
            base = self._context.Context()
            state = trace.TraceState()
        else:
            state = trace.get_current_span(base).get_span_context().trace_state
        span_context = trace.SpanContext(
            int(context.trace_id, 16),
            int(context.span_id, 16),
            is_remote=False,
            trace_flags=trace.TraceFlags(
                trace.TraceFlags.SAMPLED if context.sampled else trace.TraceFlags.DEFAULT
            ),
            trace_state=state,
        )
        carrier: dict[str, str] = {}
        self._propagate.inject(
            carrier,
            context=trace.set_span_in_context(trace.NonRecordingSpan(span_context), base),
        )
        return carrier

    def handle(self, records: Sequence[TraceRecord]) -> None:
        """Record metrics, and create spans for every record whose parent is known."""
        for record in records:
            record = redact_record(record)
            if record.kind is RecordKind.LLM_CALL and record.duration is not None:
                self._record_metrics(record)
            elif record.kind is RecordKind.TRACER_DROPPED:
                count = record.attributes.get("llmgine.tracer.dropped")
                if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                    self._dropped.add(count)
            self._place(record)
        if self._held > self.max_pending:
            # release a quarter at once, so a steady overflow costs little
            self._release(until=self.max_pending * 3 // 4)

    def close(self) -> None:
        """Release every waiting record as a root, then flush (or shut down)."""
        self._release(until=0)
        for provider in (self.tracer_provider, self.meter_provider):
            method = "shutdown" if self.shutdown_on_close else "force_flush"
            action = getattr(provider, method, None)
            if callable(action):
                action()

    # -- spans -----------------------------------------------------------

    def _place(self, record: TraceRecord) -> None:
        parent = record.parent_id
        if parent is None:
            if record.duration is not None or record.kind in _ALERTS:
                self._create(record, None)
            return
        parent_context = self._created.get(parent) or self._foreign.get(parent)
        if parent_context is not None:
            self._create(record, parent_context)
            return
        self._pending.setdefault(parent, []).append(record)
        self._held += 1

    def _release(self, *, until: int) -> None:
        """Give up waiting for parents, oldest first, until ``until`` are held.

        Only records whose parent is not itself waiting are released as roots;
        their own children follow them as usual.
        """
        while self._held > until:
            waiting = {r.span_id for group in self._pending.values() for r in group}
            tops = [parent for parent in self._pending if parent not in waiting]
            if not tops:  # ids that loop (never made by llmgine): oldest first
                tops = [next(iter(self._pending))]
            for parent in tops:
                orphans = self._pending.pop(parent)
                self._held -= len(orphans)
                for record in orphans:
                    if record.duration is not None or record.kind in _ALERTS:
                        self._create(record, None)
                if self._held <= until:
                    break

    def _create(self, record: TraceRecord, parent: SpanContext | None) -> None:
        trace = self._trace
        stack = [(record, parent)]
        while stack:
            record, parent = stack.pop()
            waiting = self._pending.pop(record.span_id, ())
            self._held -= len(waiting)
            if parent is None:
                ctx = self._context.Context()  # a root, whatever the current context
            else:
                ctx = trace.set_span_in_context(trace.NonRecordingSpan(parent))
            start = _ns(record.at)
            ids = self._ids
            if ids is not None and record.span_id not in self._created:
                ids.preset(_id(record.trace_id, 32), _id(record.span_id, 16))
            span = self._tracer.start_span(
                self._span_name(record),
                context=ctx,
                kind=(
                    trace.SpanKind.CLIENT
                    if record.kind is RecordKind.LLM_CALL
                    else trace.SpanKind.INTERNAL
                ),
                attributes=self._span_attributes(record),
                start_time=start,
                record_exception=False,
                set_status_on_exception=False,
            )
            if ids is not None:  # a child takes no trace id: forget the unused one
                ids.preset(0, 0)
            for event in waiting:
                if event.duration is None:
                    span.add_event(
                        event.kind.value,
                        attributes=self._event_attributes(event),
                        timestamp=_ns(event.at),
                    )
            if record.error_type is not None:
                span.set_status(
                    trace.Status(
                        trace.StatusCode.ERROR, record.error or record.error_type
                    )
                )
            span.end(end_time=start + _ns(record.duration or 0.0))
            span_context = span.get_span_context()
            self._remember(record.span_id, span_context)
            stack.extend((w, span_context) for w in waiting if w.duration is not None)

    def _remember(self, span_id: str, span_context: SpanContext) -> None:
        created = self._created
        created[span_id] = span_context
        if len(created) > self._created_limit:
            del created[next(iter(created))]

    @staticmethod
    def _span_name(record: TraceRecord) -> str:
        if record.duration is None:  # a point event made into a span
            return f"{record.kind.value} {record.name}"
        return record.name

    def _span_attributes(self, record: TraceRecord) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {}
        operation = _OPERATIONS.get(record.kind)
        if operation is not None:
            attributes["gen_ai.operation.name"] = operation
        capture = self.capture_content
        for key, value in record.attributes.items():
            if not capture and key in CONTENT_ATTRIBUTES:
                continue
            plain = _plain(value)
            if plain is not None:
                attributes[key] = plain
        if record.actor:
            attributes["llmgine.actor.path"] = record.actor
        attributes["llmgine.record.kind"] = record.kind.value
        attributes["llmgine.trace_id"] = record.trace_id
        attributes["llmgine.span_id"] = record.span_id
        if record.error_type is not None:
            attributes["error.type"] = record.error_type
        return attributes

    @staticmethod
    def _event_attributes(record: TraceRecord) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {"llmgine.name": record.name}
        for key, value in record.attributes.items():
            plain = _plain(value)
            if plain is not None:
                attributes[key] = plain
        if record.actor:
            attributes["llmgine.actor.path"] = record.actor
        if record.error_type is not None:
            attributes["error.type"] = record.error_type
            if record.error:
                attributes["exception.message"] = record.error
        return attributes

    # -- metrics ---------------------------------------------------------

    def _record_metrics(self, record: TraceRecord) -> None:
        source = record.attributes
        base: dict[str, Any] = {"gen_ai.operation.name": "chat"}
        for key in _METRIC_KEYS:
            value = _plain(source.get(key))
            if value is not None:
                base[key] = value
        duration_attributes = dict(base)
        if record.error_type is not None:
            duration_attributes["error.type"] = record.error_type
        assert record.duration is not None
        self._operation_duration.record(record.duration, duration_attributes)
        for token_type, key in (
            ("input", "gen_ai.usage.input_tokens"),
            ("output", "gen_ai.usage.output_tokens"),
        ):
            count = source.get(key)
            if isinstance(count, int) and not isinstance(count, bool):
                self._token_usage.record(count, {**base, "gen_ai.token.type": token_type})

    def __repr__(self) -> str:
        return f"OtelHandler(capture_content={self.capture_content})"
