"""Trace primitives: records, trace contexts, spans and the sink protocol.

The floor every layer stands on: it imports nothing of llmgine. The runtime and
every layer above it hand :class:`TraceRecord` copies to the system's tracer
through :meth:`TraceSink.emit`, which never waits and never raises. The tracer
itself lives in :mod:`llmgine.observability`; this module only defines what
flows to it, and how a span opens and closes (:func:`open_span`,
:func:`close_span`), so the runtime needs nothing from above.
"""

from __future__ import annotations

import contextvars
import enum
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Protocol, TypeAlias

import attrs

__all__ = [
    "SAMPLE_ALL",
    "RecordKind",
    "ambient_context",
    "Span",
    "current_sink",
    "TraceContext",
    "TraceRecord",
    "TraceSink",
    "close_span",
    "current_actor",
    "current_trace",
    "describe_error",
    "make_context",
    "make_record",
    "new_span_id",
    "open_span",
    "start_context",
    "trace_headers",
    "traced",
    "traceparent",
]


class RecordKind(enum.StrEnum):
    """What a :class:`TraceRecord` describes."""

    # point events of the runtime
    ACTOR_SPAWNED = "actor.spawned"
    ACTOR_STARTED = "actor.started"
    ACTOR_STOPPED = "actor.stopped"
    ACTOR_RESTARTED = "actor.restarted"
    ACTOR_FAILED = "actor.failed"
    DEAD_LETTER = "dead_letter"
    BREAKER = "breaker"
    TRACER_DROPPED = "tracer.dropped"
    # spans (``duration`` is set)
    MESSAGE = "message"
    BUS_COMMAND = "bus.command"
    BUS_EVENT = "bus.event"
    LLM_CALL = "llm.call"
    TOOL_CALL = "tool.call"
    ENGINE_RUN = "engine.run"
    # anything a user or extension emits
    CUSTOM = "custom"


# Trace ids need to be unique, not secret: a private PRNG seeded from the OS
# is five times cheaper than os.urandom and unaffected by users seeding `random`.
_bits = random.Random(os.urandom(16)).getrandbits

#: ``sample_bound`` of a sink that records every trace: trace ids are sampled
#: when their low 64 bits are below the bound (OpenTelemetry's
#: ``TraceIdRatioBased`` rule), and no 64-bit number reaches 2**64.
SAMPLE_ALL = 1 << 64
_LOW64 = SAMPLE_ALL - 1


def new_span_id() -> str:
    """A fresh 64-bit span id as 16 hex digits."""
    return (_bits(64) or 1).to_bytes(8, "big").hex()


@attrs.frozen(slots=True)
class TraceContext:
    """Where a piece of work sits in a trace; carried in envelopes across actors.

    ``sampled`` is the head-sampling decision taken when the trace began (see
    ``Tracer(sample_ratio=...)``): work in a trace that is not sampled still
    carries its context, so that none of the trace is recorded, but emits
    nothing.
    """

    trace_id: str
    span_id: str
    sampled: bool = True

    @classmethod
    def new_root(cls, sample_bound: int = SAMPLE_ALL) -> TraceContext:
        """A context that starts a new trace, sampled by ``sample_bound``."""
        bits = _bits(128) or 1
        return make_context(
            bits.to_bytes(16, "big").hex(), new_span_id(), (bits & _LOW64) < sample_bound
        )

    def child(self) -> TraceContext:
        """A new span in the same trace, whose parent is this one."""
        return make_context(self.trace_id, new_span_id(), self.sampled)


# Frozen attrs classes build through object.__setattr__, which costs about a
# microsecond per record; the hot paths (a span per traced message) fill the
# slots directly instead. Same objects, same validation-free fields.
_new = object.__new__
_ctx_trace, _ctx_span, _ctx_sampled = (
    TraceContext.__dict__[name].__set__ for name in ("trace_id", "span_id", "sampled")
)


def make_context(trace_id: str, span_id: str, sampled: bool = True) -> TraceContext:
    """``TraceContext(trace_id, span_id, sampled)``, built faster."""
    context = _new(TraceContext)
    _ctx_trace(context, trace_id)
    _ctx_span(context, span_id)
    _ctx_sampled(context, sampled)
    return context


def start_context(sink: TraceSink) -> tuple[TraceContext, str | None] | None:
    """The context and parent span id of a span starting here, in this task.

    Without a current trace context, the span joins the caller's ambient trace
    when the sink reads one (:func:`ambient_context`), else starts a new trace,
    sampled by the sink's ``sample_bound`` (when it has one). Inside a trace
    that is not sampled there is no new span: None.
    """
    parent = current_trace.get()
    if parent is None:
        parent = ambient_context(sink)
        if parent is None:
            return TraceContext.new_root(getattr(sink, "sample_bound", SAMPLE_ALL)), None
    if parent.sampled:
        return make_context(parent.trace_id, new_span_id()), parent.span_id
    return None


def ambient_context(sink: TraceSink) -> TraceContext | None:
    """The caller's current span in another tracing system, as a parent context.

    A sink whose ``joins_ambient`` attribute is true has an
    ``ambient_context()`` method that reads it (the
    :class:`~llmgine.observability.Tracer` does, when it has an
    :class:`~llmgine.observability.OtelHandler`: the current OpenTelemetry
    span). None when the sink reads none, or there is none. Work that starts
    without an llmgine parent is parented there, so llmgine joins the
    caller's trace.
    """
    if getattr(sink, "joins_ambient", False):
        read: Callable[[], TraceContext | None] = sink.ambient_context  # type: ignore[attr-defined]
        return read()
    return None


#: The path of the actor whose task this is (each actor's task sets it as it
#: starts; tasks it starts inherit it), or None outside actors. A record made
#: inside an actor (an LLM call, a tool call) names it as its ``actor``.
current_actor: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "llmgine_current_actor", default=None
)


#: The trace context of the work running in this task, if any. Actors set it
#: while they handle a traced message, so nested tells, asks and LLM calls are
#: parented correctly.
current_trace: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar(
    "llmgine_current_trace", default=None
)


@attrs.frozen(kw_only=True, slots=True)
class TraceRecord:
    """One thing that happened, copied to the tracer.

    Span records (messages, bus commands and events, LLM calls, tool calls,
    engine runs) have ``duration`` set and are emitted when the work ends;
    point events (spawned, restarted, dead letter, breaker change, ...) have
    ``duration=None``. ``at`` is the wall-clock start, in seconds since the epoch.
    ``attributes`` hold the details; for LLM, tool and engine records they use the
    OpenTelemetry GenAI attribute names (``gen_ai.request.model``, ...). They must
    never hold secrets.
    """

    kind: RecordKind
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None = None
    at: float = attrs.field(factory=time.time)
    duration: float | None = None
    actor: str | None = None
    error: str | None = None
    error_type: str | None = None
    attributes: Mapping[str, object] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        """True unless the record describes a failure."""
        return self.error_type is None


(
    _set_kind,
    _set_name,
    _set_trace_id,
    _set_span_id,
    _set_parent_id,
    _set_at,
    _set_duration,
    _set_actor,
    _set_error,
    _set_error_type,
    _set_attributes,
) = (TraceRecord.__dict__[field.name].__set__ for field in attrs.fields(TraceRecord))


def make_record(
    kind: RecordKind,
    name: str,
    trace_id: str,
    span_id: str,
    parent_id: str | None,
    at: float,
    duration: float | None,
    actor: str | None,
    error: str | None,
    error_type: str | None,
    attributes: Mapping[str, object],
) -> TraceRecord:
    """A :class:`TraceRecord` with every field given, built faster (hot paths)."""
    record = _new(TraceRecord)
    _set_kind(record, kind)
    _set_name(record, name)
    _set_trace_id(record, trace_id)
    _set_span_id(record, span_id)
    _set_parent_id(record, parent_id)
    _set_at(record, at)
    _set_duration(record, duration)
    _set_actor(record, actor)
    _set_error(record, error)
    _set_error_type(record, error_type)
    _set_attributes(record, attributes)
    return record


class TraceSink(Protocol):
    """What the runtime hands records to (the :class:`~llmgine.observability.Tracer`).

    ``emit`` must never block and never raise: when the sink is full it counts
    the record as dropped. A sink may also have an int ``sample_bound``: a new
    trace is recorded when the low 64 bits of its id are below it (absent, every
    trace is recorded; see :data:`SAMPLE_ALL`).

    ``open_spans`` counts the spans open right now in the tasks of the system
    the sink serves (kept by :func:`open_span` and :func:`close_span`). While
    it is zero no task of that system holds a trace context, so a ``tell``
    skips reading :data:`current_trace`.

    A sink that can join the caller's trace in another tracing system sets
    ``joins_ambient = True`` and has two more methods: ``ambient_context()``,
    the caller's current span there as a :class:`TraceContext` (or None), and
    ``propagation_headers(context)``, the headers that carry ``context`` to
    another service (or None to let :func:`trace_headers` write
    ``traceparent`` itself). ``joins_ambient`` is read on the hot paths, so
    it is a plain attribute, fixed when the sink is made.
    """

    open_spans: int

    def emit(self, record: TraceRecord) -> None:
        """Take a copy of ``record`` without waiting."""

    def start(self, system: object) -> None:
        """Attach to a running system (called once, before any record)."""

    async def run(self) -> None:
        """Run until cancelled, delivering records to handlers."""

    async def aclose(self) -> None:
        """Deliver what is held and close the handlers."""


#: What :func:`open_span` returns for :func:`close_span`.
SpanToken: TypeAlias = "contextvars.Token[TraceContext | None]"

#: The tracer of the actor system this task runs in (set by ``open_actor_system``
#: and inherited by every task it starts), or None.
current_sink: contextvars.ContextVar[TraceSink | None] = contextvars.ContextVar(
    "llmgine_current_sink", default=None
)


def open_span(
    sink: TraceSink, context: TraceContext
) -> contextvars.Token[TraceContext | None]:
    """Make ``context`` the task's current trace context, counting the open span.

    Every span the runtime or a layer opens goes through here and through
    :func:`close_span` with the token returned, so ``sink.open_spans`` is exact.
    """
    sink.open_spans += 1
    return current_trace.set(context)


def close_span(sink: TraceSink, token: SpanToken) -> None:
    """Restore the trace context :func:`open_span` replaced."""
    current_trace.reset(token)
    sink.open_spans -= 1


class Span:
    """A span in progress: add attributes while the work runs.

    Made by :func:`traced`; when no tracer is active it is a no-op whose
    ``set`` does nothing.
    """

    __slots__ = ("attributes", "context", "parent_id")

    def __init__(self, context: TraceContext | None, parent_id: str | None) -> None:
        self.context = context
        self.parent_id = parent_id
        self.attributes: dict[str, object] = {}

    @property
    def recording(self) -> bool:
        """True when a tracer will receive this span."""
        return self.context is not None

    def set(self, key: str, value: object) -> None:
        """Set one attribute (ignored when not recording)."""
        if self.context is not None:
            self.attributes[key] = value

    def update(self, values: Mapping[str, object]) -> None:
        """Set several attributes (ignored when not recording)."""
        if self.context is not None:
            self.attributes.update(values)


_NOOP = Span(None, None)


class traced:
    """Record the enclosed work as a span of the current system's trace.

    The span is a child of the task's current trace context (or starts a new
    trace), becomes the current context inside the block, and is emitted when
    the block ends, with the error type and message if it raised. With no
    tracer active this costs one context-variable read; inside a trace that
    the tracer does not sample, two.
    """

    __slots__ = (
        "_actor",
        "_context",
        "_kind",
        "_name",
        "_sink",
        "_span",
        "_start",
        "_token",
        "_wall",
    )

    def __init__(
        self,
        kind: RecordKind,
        name: str,
        attributes: Mapping[str, object] | None = None,
        *,
        actor: str | None = None,
    ) -> None:
        self._span = _NOOP
        self._sink = sink = current_sink.get()
        if sink is None:
            return
        started = start_context(sink)
        if started is None:  # inside a trace that is not sampled
            self._sink = None
            return
        self._context, parent_id = started
        if not self._context.sampled:
            return  # a new trace not sampled: its context is set, nothing emitted
        self._kind = kind
        self._name = name
        self._actor = actor if actor is not None else current_actor.get()
        self._span = span = Span(self._context, parent_id)
        if attributes:
            span.attributes.update(attributes)

    def __enter__(self) -> Span:
        if self._sink is not None:
            self._token = open_span(self._sink, self._context)
            if self._span is not _NOOP:
                self._wall = time.time()
                self._start = time.perf_counter()
        return self._span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        tb: object,
    ) -> None:
        sink = self._sink
        if sink is None:
            return
        close_span(sink, self._token)
        span = self._span
        if span is _NOOP:
            return
        ctx = self._context
        sink.emit(
            make_record(
                self._kind,
                self._name,
                ctx.trace_id,
                ctx.span_id,
                span.parent_id,
                self._wall,
                time.perf_counter() - self._start,
                self._actor,
                None if error is None else describe_error(error),
                None if error is None else type(error).__qualname__,
                span.attributes,
            )
        )


_HEX = frozenset("0123456789abcdef")


def _w3c_id(value: object, length: int) -> bool:
    return (
        isinstance(value, str)
        and len(value) == length
        and _HEX.issuperset(value)
        and value.strip("0") != ""
    )


def traceparent(context: TraceContext) -> str:
    """The W3C Trace Context ``traceparent`` header value for ``context``.

    ``00-{trace_id}-{span_id}-{flags}``, flags ``01`` when the trace is
    sampled and ``00`` when not. Raises :class:`~llmgine.ConfigurationError`
    when the ids are not W3C ids (32 and 16 lower-case hex digits, not all
    zero), as llmgine's own always are.
    """
    trace_id, span_id = context.trace_id, context.span_id
    if not (_w3c_id(trace_id, 32) and _w3c_id(span_id, 16)):
        from ._exceptions import ConfigurationError

        raise ConfigurationError(
            "a traceparent needs a 32-digit trace id and a 16-digit span id in"
            f" lower-case hex, not all zero (got {trace_id!r}, {span_id!r})"
        )
    return f"00-{trace_id}-{span_id}-{'01' if context.sampled else '00'}"


def trace_headers(context: TraceContext | None = None) -> dict[str, str]:
    """The HTTP headers that carry a trace context to another service.

    ``context`` defaults to the current task's (:data:`current_trace`); with
    none, the answer is empty. When the current tracer propagates through
    OpenTelemetry (it has an :class:`~llmgine.observability.OtelHandler`),
    OpenTelemetry's configured propagator writes them (by default
    ``traceparent``, with ``tracestate`` and ``baggage`` of the caller's trace
    when the work joined one); otherwise ``traceparent`` alone
    (:func:`traceparent`). Never raises: ids that are not W3C ids give no
    headers.
    """
    if context is None:
        context = current_trace.get()
        if context is None:
            return {}
    sink = current_sink.get()
    if sink is not None and getattr(sink, "joins_ambient", False):
        headers = sink.propagation_headers(context)  # type: ignore[attr-defined]
        if headers is not None:
            return dict(headers)
    if not (_w3c_id(context.trace_id, 32) and _w3c_id(context.span_id, 16)):
        return {}
    return {"traceparent": traceparent(context)}


def describe_error(error: BaseException) -> str:
    """``Type: message`` (or just ``Type``), as records carry errors."""
    text = str(error)
    return f"{type(error).__qualname__}: {text}" if text else type(error).__qualname__
