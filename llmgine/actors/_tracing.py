"""The runtime's tracing hook: records, trace context, and the sink protocol.

The runtime and every layer above it hand :class:`TraceRecord` copies to the
system's tracer through :meth:`TraceSink.emit`, which never waits and never
raises. The tracer itself lives in :mod:`llmgine.observability`; this module
only defines what flows to it, so the runtime needs nothing from above.
"""

from __future__ import annotations

import contextvars
import enum
import os
import random
import time
from collections.abc import Mapping
from typing import Protocol

import attrs

__all__ = [
    "RecordKind",
    "Span",
    "current_sink",
    "TraceContext",
    "TraceRecord",
    "TraceSink",
    "current_trace",
    "new_span_id",
    "new_trace_id",
    "traced",
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


def new_trace_id() -> str:
    """A fresh 128-bit trace id as 32 hex digits (W3C / OpenTelemetry shape)."""
    return f"{_bits(128) or 1:032x}"


def new_span_id() -> str:
    """A fresh 64-bit span id as 16 hex digits."""
    return f"{_bits(64) or 1:016x}"


@attrs.frozen(slots=True)
class TraceContext:
    """Where a piece of work sits in a trace; carried in envelopes across actors."""

    trace_id: str
    span_id: str

    @classmethod
    def new_root(cls) -> TraceContext:
        """A context that starts a new trace."""
        return cls(new_trace_id(), new_span_id())

    def child(self) -> TraceContext:
        """A new span in the same trace, whose parent is this one."""
        return TraceContext(self.trace_id, new_span_id())


#: How many ``traced`` spans are open right now, in any task. While it is zero
#: no task can hold a trace context, so a ``tell`` skips reading
#: :data:`current_trace` (a hint for speed: set the context through ``traced``).
live_spans = 0

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


class TraceSink(Protocol):
    """What the runtime hands records to (the :class:`~llmgine.observability.Tracer`).

    ``emit`` must never block and never raise: when the sink is full it counts
    the record as dropped.
    """

    def emit(self, record: TraceRecord) -> None:
        """Take a copy of ``record`` without waiting."""

    def start(self, system: object) -> None:
        """Attach to a running system (called once, before any record)."""

    async def run(self) -> None:
        """Run until cancelled, delivering records to handlers."""

    async def aclose(self) -> None:
        """Deliver what is held and close the handlers."""


#: The tracer of the actor system this task runs in (set by ``open_actor_system``
#: and inherited by every task it starts), or None.
current_sink: contextvars.ContextVar[TraceSink | None] = contextvars.ContextVar(
    "llmgine_current_sink", default=None
)


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
    tracer active this costs one context-variable read.
    """

    __slots__ = (
        "_actor",
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
        self._sink = sink = current_sink.get()
        if sink is None:
            self._span = _NOOP
            return
        self._kind = kind
        self._name = name
        self._actor = actor
        parent = current_trace.get()
        if parent is None:
            ctx = TraceContext(new_trace_id(), new_span_id())
            self._span = span = Span(ctx, None)
        else:
            ctx = TraceContext(parent.trace_id, new_span_id())
            self._span = span = Span(ctx, parent.span_id)
        if attributes:
            span.attributes.update(attributes)

    def __enter__(self) -> Span:
        span = self._span
        if self._sink is not None:
            global live_spans
            live_spans += 1
            self._token = current_trace.set(span.context)
            self._wall = time.time()
            self._start = time.perf_counter()
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        tb: object,
    ) -> None:
        sink = self._sink
        if sink is None:
            return
        global live_spans
        live_spans -= 1
        current_trace.reset(self._token)
        span = self._span
        ctx = span.context
        assert ctx is not None
        sink.emit(
            TraceRecord(
                kind=self._kind,
                name=self._name,
                trace_id=ctx.trace_id,
                span_id=ctx.span_id,
                parent_id=span.parent_id,
                at=self._wall,
                duration=time.perf_counter() - self._start,
                actor=self._actor,
                error=None if error is None else _describe(error),
                error_type=None if error is None else type(error).__qualname__,
                attributes=span.attributes,
            )
        )


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__qualname__}: {text}" if text else type(error).__qualname__
