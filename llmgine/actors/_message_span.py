"""Message spans: a traced message handled inside a ``receive`` span of its own.

An envelope that carries a trace context (an ``ask`` from a system with a
tracer, or a ``tell`` made inside a span) is handled here instead of the bare
dispatch path. This is :func:`~llmgine.tracing.traced` written out for
one case, since it runs once per traced message; the span opens and closes
through the same :func:`~llmgine.tracing.open_span` pair.
"""

from __future__ import annotations

import time
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..tracing import (
    SAMPLE_ALL,
    RecordKind,
    TraceContext,
    TraceSink,
    ambient_context,
    close_span,
    current_trace,
    describe_error,
    make_context,
    make_record,
    new_span_id,
    open_span,
)
from ._actor import Failure
from ._envelope import Envelope

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["MessageSpans", "handle_traced"]


class MessageSpans:
    """What one actor needs to trace the messages it handles."""

    __slots__ = (
        "_ask_attributes",
        "_tell_attributes",
        "joins_ambient",
        "path",
        "sample_bound",
        "sink",
    )

    def __init__(self, sink: TraceSink, path: str) -> None:
        self.sink = sink
        self.path = path
        self.sample_bound: int = getattr(sink, "sample_bound", SAMPLE_ALL)
        #: The sink joins the caller's ambient trace (read where a message is
        #: sent, in the sender's task: see :meth:`ambient_context`).
        self.joins_ambient: bool = getattr(sink, "joins_ambient", False) is True
        # The attributes of every span of this actor, shared (read-only) by all.
        self._tell_attributes = MappingProxyType(
            {"llmgine.actor.path": path, "llmgine.ask": False}
        )
        self._ask_attributes = MappingProxyType(
            {"llmgine.actor.path": path, "llmgine.ask": True}
        )

    def ambient_context(self) -> TraceContext | None:
        """The sender's ambient trace context, as the parent of its message."""
        return ambient_context(self.sink)

    def emit(
        self,
        envelope: Envelope,
        ctx: TraceContext,
        parent_id: str | None,
        wall: float,
        start: float,
        error: BaseException | None,
    ) -> None:
        """Hand the finished ``receive`` span of ``envelope`` to the tracer."""
        duration = time.perf_counter() - start
        ask = envelope.reply is not None
        self.sink.emit(
            make_record(
                RecordKind.MESSAGE,
                f"receive {type(envelope.message).__name__}",
                ctx.trace_id,
                ctx.span_id,
                parent_id,
                wall,
                duration,
                self.path,
                None if error is None else describe_error(error),
                None if error is None else type(error).__qualname__,
                self._ask_attributes if ask else self._tell_attributes,
            )
        )


async def handle_traced(cell: Cell, envelope: Envelope, receive: Any) -> None:
    """Handle ``envelope`` in ``cell`` inside its ``receive`` span.

    The span is a child of the sender's context; failures are filed in the
    sender's context, as they would be had the span not opened. In a trace
    that is not sampled the context is passed on and nothing is recorded.
    """
    spans = cell.spans
    assert spans is not None
    parent = envelope.trace
    if parent is None:
        # An ask from untraced code outside any ambient trace (the sender read
        # that in its own task, as the ask began): a trace of its own.
        ctx = TraceContext.new_root(spans.sample_bound)
        parent_id = None
    elif parent.sampled:
        ctx = make_context(parent.trace_id, new_span_id())
        parent_id = parent.span_id
    else:
        ctx = parent
    recording = ctx.sampled
    if recording:
        wall = time.time()
        start = time.perf_counter()
    sink = spans.sink
    token = open_span(sink, ctx)
    try:
        result = await receive(envelope.message)
    except Exception as exc:
        if recording:
            spans.emit(envelope, ctx, parent_id, wall, start, exc)
        current_trace.set(parent)
        cell.fail_item(envelope, exc)
        raise
    finally:
        close_span(sink, token)
    if recording:
        spans.emit(envelope, ctx, parent_id, wall, start, None)
    cell._current = None
    if envelope.reply is None and type(result) is Failure:
        # A told failure is filed in the sender's context.
        token = current_trace.set(parent)
        try:
            cell.settle(envelope, result)
        finally:
            current_trace.reset(token)
        return
    cell.settle(envelope, result)
