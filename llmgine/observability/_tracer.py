"""The tracer: a side channel from the running system to trace handlers.

Producers (the actor runtime, the bus, providers, tools, engines) call
:meth:`Tracer.emit`, which appends to a bounded deque and returns: it never
waits, never raises, and when the deque is full the record is counted as
dropped. A background task (:meth:`Tracer.run`) wakes when a batch is ready
or every ``flush_interval`` seconds, and hands the records to each handler in
batches. Nothing the tracer does goes back into a mailbox or the bus.

Why not a trio memory channel: ``send_nowait`` wakes the consumer task per
record. On traced tell→receive traffic, waking the tracer task per record cut
throughput by a third or more against appending to a deque and waking once
per batch (``stress/bench_tracer.py`` measures both).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

import attrs
import trio

from llmgine._exceptions import ConfigurationError
from llmgine.observability._content import (
    capture_content_from_env,
    handler_captures,
    without_content,
)
from llmgine.tracing import (
    SAMPLE_ALL,
    RecordKind,
    TraceContext,
    TraceRecord,
    current_sink,
    current_trace,
)

__all__ = ["DROPPED_REPORT_INTERVAL", "TraceHandler", "Tracer", "TracerStatistics"]

#: Seconds between two ``tracer.dropped`` records, at least.
DROPPED_REPORT_INTERVAL = 1.0

_log = logging.getLogger("llmgine.observability")


class TraceHandler(Protocol):
    """Where a :class:`Tracer` delivers records.

    ``handle`` is called from the tracer task with a batch of records, in the
    order they were emitted. It is synchronous and should be quick: it runs on
    the trio thread between actor steps (a buffered file write per batch is
    fine; a network round trip per record is not). An exception is counted and
    isolated. ``close`` is called once, when the tracer closes.
    """

    def handle(self, records: Sequence[TraceRecord]) -> None:
        """Deliver one batch of records."""

    def close(self) -> None:
        """Release resources (flush files, shut exporters down)."""


@attrs.frozen(kw_only=True)
class TracerStatistics:
    """A snapshot of a :class:`Tracer`'s counters.

    ``received == handled + dropped + queued`` at all times. ``handler_errors``
    counts failed ``handle``/``close`` calls (one per handler per batch).
    """

    received: int
    handled: int
    dropped: int
    handler_errors: int
    queued: int


def _positive_int(name: str, value: object) -> int:
    if type(value) is not int or value <= 0:
        raise ConfigurationError(f"{name!r} must be a positive int (got {value!r})")
    return value


def _positive_float(name: str, value: object) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            f"{name!r} must be a positive number of seconds (got {value!r})"
        )
    return float(value)


def _ratio(name: str, value: object) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not 0.0 <= value <= 1.0  # also refuses NaN
    ):
        raise ConfigurationError(f"{name!r} must be a number from 0 to 1 (got {value!r})")
    return float(value)


class Tracer:
    """Collects :class:`TraceRecord` copies and delivers them to handlers.

    Pass it to ``open_actor_system(..., tracer=Tracer([...]))``: the system
    makes it the sink of every task, runs :meth:`run` in the background and
    calls :meth:`aclose` at exit, after all actors stopped, so every record is
    delivered and every handler closed when the ``async with`` block ends.

    Standalone (in a test, or around plain trio code), make it the current
    sink with :meth:`activate` and call :meth:`flush` to deliver what is held::

        tracer = Tracer([handler])
        with tracer.activate(), traced(RecordKind.CUSTOM, "work"):
            ...
        tracer.flush()

    ``capacity`` bounds the records held between deliveries (beyond it they
    are dropped and counted), ``batch_size`` is how many records wake the
    tracer task early and the most handed to a handler at once, and
    ``flush_interval`` is the longest a record waits when fewer arrive.

    ``sample_ratio`` is head sampling: the share of new traces that are
    recorded, decided once when a trace begins from its id (OpenTelemetry's
    ``TraceIdRatioBased`` rule) and inherited by everything in the trace,
    across actors. Work in a trace that is not sampled emits no spans. Point
    events (actor lifecycle, dead letters, breaker changes) are always recorded.

    ``capture_content`` is the content switch (see
    :mod:`llmgine.observability._content`): prompts and replies reach a
    handler only when it is on here, on that handler, or through
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (read when
    ``capture_content`` is None, the default). Otherwise handlers get records
    without them.

    With an :class:`~llmgine.observability.OtelHandler` among the handlers
    (``joins_ambient`` is then true), work that starts without an llmgine
    parent joins the caller's current OpenTelemetry span, read in the
    caller's task at ``ask``, ``tell``, ``execute`` or a root ``traced``; the
    caller's sampling decision then holds for it. Provider requests carry the
    ``traceparent`` of their ``chat`` span (:func:`llmgine.tracing.trace_headers`).

    Records dropped because the tracer was full are reported to the handlers
    as a ``tracer.dropped`` record (attribute ``llmgine.tracer.dropped``: how
    many since the last report) at most once every
    :data:`DROPPED_REPORT_INTERVAL` seconds, and once more at close.
    """

    __slots__ = (
        "_ambient",
        "_batch_size",
        "_capacity",
        "_closed",
        "_dropped",
        "_failing",
        "_flush_interval",
        "_handled",
        "_handler_errors",
        "_handlers",
        "_kick_at",
        "_now",
        "_queue",
        "_reported",
        "_reported_at",
        "_system",
        "_token",
        "_wake",
        "capture_content",
        "joins_ambient",
        "open_spans",
        "sample_bound",
        "sample_ratio",
    )

    def __init__(
        self,
        handlers: Iterable[TraceHandler],
        *,
        capacity: int = 65536,
        batch_size: int = 512,
        flush_interval: float = 0.05,
        sample_ratio: float = 1.0,
        capture_content: bool | None = None,
    ) -> None:
        self._handlers: tuple[TraceHandler, ...] = tuple(handlers)
        if capture_content is not None and not isinstance(capture_content, bool):
            raise ConfigurationError(
                f"'capture_content' must be a bool or None (got {capture_content!r})"
            )
        #: Whether every handler gets prompt and reply content.
        self.capture_content: bool = (
            capture_content_from_env() if capture_content is None else capture_content
        )
        if self.capture_content:  # one switch for every handler
            for handler in self._handlers:
                if hasattr(handler, "capture_content"):
                    with contextlib.suppress(AttributeError):
                        handler.capture_content = True
        for handler in self._handlers:
            if not callable(getattr(handler, "handle", None)):
                raise ConfigurationError(
                    "a trace handler must have a handle(records) method"
                    f" (got {handler!r})"
                )
        self._capacity = _positive_int("capacity", capacity)
        self._batch_size = _positive_int("batch_size", batch_size)
        self._flush_interval = _positive_float("flush_interval", flush_interval)
        self.sample_ratio = _ratio("sample_ratio", sample_ratio)
        #: New traces whose id's low 64 bits are below this are recorded.
        self.sample_bound = round(self.sample_ratio * SAMPLE_ALL)
        # emit() wakes the task when the queue reaches this length
        self._kick_at = min(self._batch_size, self._capacity)
        self._queue: deque[TraceRecord] = deque()
        self._handled = 0
        self._dropped = 0
        self._handler_errors = 0
        self._failing: set[int] = set()
        self._reported = 0
        self._reported_at = -math.inf
        self._now = time.monotonic
        self._closed = False
        #: Spans open now in the system's tasks (kept by the runtime).
        self.open_spans = 0
        # The handlers that read the caller's ambient trace (OpenTelemetry's
        # current span), with their index: fixed here, so the hot paths test
        # one attribute (joins_ambient) to know whether to ask.
        self._ambient: tuple[tuple[int, TraceHandler], ...] = tuple(
            (index, handler)
            for index, handler in enumerate(self._handlers)
            if callable(getattr(handler, "ambient_context", None))
        )
        #: True when a handler reads the caller's ambient trace context: work
        #: that starts without an llmgine parent then joins the caller's trace.
        self.joins_ambient: bool = bool(self._ambient)
        self._system: object = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._wake: trio.Event | None = None

    @property
    def handlers(self) -> tuple[TraceHandler, ...]:
        """The handlers records are delivered to, in order."""
        return self._handlers

    @property
    def records_content(self) -> bool:
        """True when some handler may see content: producers attach it only then."""
        return self.capture_content or any(map(handler_captures, self._handlers))

    def ambient_context(self) -> TraceContext | None:
        """The caller's current span in another tracing system, or None.

        Asks every handler that reads one (an
        :class:`~llmgine.observability.OtelHandler` reads the current
        OpenTelemetry span, and remembers it as a parent it did not create);
        the first answer wins. Called in the caller's task, where ``ask``,
        ``tell`` or a span without an llmgine parent starts. Never raises: a
        failing handler is counted as a handler error.
        """
        found: TraceContext | None = None
        for index, handler in self._ambient:
            try:
                context = handler.ambient_context()  # type: ignore[attr-defined]
            except Exception:
                self._handler_failed(index, handler, "ambient_context")
                continue
            if found is None and isinstance(context, TraceContext):
                found = context
        return found

    def propagation_headers(self, context: TraceContext) -> dict[str, str] | None:
        """The headers a handler writes to carry ``context`` to another service.

        None when no handler writes them (then ``traceparent`` is written by
        :func:`llmgine.tracing.trace_headers` itself). Never raises.
        """
        for index, handler in self._ambient:
            write = getattr(handler, "propagation_headers", None)
            if write is None:
                continue
            try:
                headers = write(context)
            except Exception:
                self._handler_failed(index, handler, "propagation_headers")
                continue
            if headers is not None:
                return {str(k): str(v) for k, v in headers.items()}
        return None

    def emit(self, record: TraceRecord) -> None:
        """Take ``record`` without waiting; count it as dropped when full.

        Safe to call from any task, and from worker threads.
        """
        queue = self._queue
        held = len(queue)
        if held >= self._capacity:
            self._dropped += 1
            return
        queue.append(record)
        if held + 1 == self._kick_at:
            self._kick()

    def _kick(self) -> None:
        # Once per batch: wake the tracer task through the trio token, which
        # is safe from worker threads as well as from the trio thread.
        token = self._token
        if token is not None:
            # trio.RunFinishedError (a RuntimeError): the run is over
            with contextlib.suppress(RuntimeError):
                token.run_sync_soon(self._set_wake, idempotent=True)

    def _set_wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def statistics(self) -> TracerStatistics:
        """Counters: received, handled, dropped, handler errors, queued."""
        queued = len(self._queue)
        return TracerStatistics(
            received=self._handled + self._dropped + queued,
            handled=self._handled,
            dropped=self._dropped,
            handler_errors=self._handler_errors,
            queued=queued,
        )

    def start(self, system: object) -> None:
        """Attach to a running system (the runtime calls this once).

        A tracer serves one system: once closed, its handlers are closed too,
        so starting it again raises :class:`ConfigurationError`.
        """
        if self._closed:
            raise ConfigurationError(
                "this Tracer is closed (its system has exited): give each actor"
                " system a Tracer of its own"
            )
        self._system = system
        self._token = trio.lowlevel.current_trio_token()

    async def run(self) -> None:
        """Deliver records in batches until cancelled."""
        self._token = trio.lowlevel.current_trio_token()
        # This task's context only: whatever a handler traces must not come
        # back to the tracer (it would feed on itself).
        current_sink.set(None)
        current_trace.set(None)
        queue = self._queue
        while True:
            self._wake = trio.Event()
            if len(queue) < self._kick_at:
                with trio.move_on_after(self._flush_interval):
                    await self._wake.wait()
            # Deliver what is here now, one batch at a time, letting the
            # system run between batches.
            pending = len(queue)
            while pending > 0:
                pending -= self._deliver_batch()
                await trio.lowlevel.checkpoint()

    @contextlib.contextmanager
    def activate(self) -> Iterator[Tracer]:
        """Make this the tracer that :func:`traced` reports to, inside the block.

        For use without an actor system (``open_actor_system`` does this for
        every task it runs). Tasks started inside the block inherit it.
        """
        token = current_sink.set(self)
        try:
            yield self
        finally:
            current_sink.reset(token)

    def flush(self) -> None:
        """Deliver everything held now, synchronously."""
        token = current_sink.set(None)
        try:
            while self._queue:
                self._deliver_batch()
        finally:
            current_sink.reset(token)

    async def aclose(self) -> None:
        """Deliver everything held, then close the handlers.

        Records emitted afterwards are counted as dropped. Runs to the end even
        inside a cancelled scope: the point is not to lose what was traced.
        """
        if self._closed:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        self.flush()
        self._report_dropped(force=True)
        self._closed = True
        self._capacity = 0
        self._kick_at = -1
        token = current_sink.set(None)
        try:
            for index, handler in enumerate(self._handlers):
                try:
                    handler.close()
                except Exception:
                    self._handler_failed(index, handler, "close")
        finally:
            current_sink.reset(token)
        await trio.lowlevel.cancel_shielded_checkpoint()

    def _deliver_batch(self) -> int:
        queue = self._queue
        count = min(len(queue), self._batch_size)
        popleft = queue.popleft
        batch = [popleft() for _ in range(count)]
        self._deliver(batch)
        self._handled += count
        if self._dropped != self._reported:
            self._report_dropped(force=False)
        return count

    def _deliver(self, batch: list[TraceRecord]) -> None:
        everyone = self.capture_content
        plain: list[TraceRecord] | None = None
        for index, handler in enumerate(self._handlers):
            given = batch
            if not everyone and not handler_captures(handler):
                if plain is None:
                    plain = [without_content(r) for r in batch]
                given = plain
            try:
                handler.handle(given)
            except Exception:
                self._handler_failed(index, handler, "handle")

    def _report_dropped(self, *, force: bool) -> None:
        """Tell the handlers how many records were dropped since the last report."""
        dropped = self._dropped - self._reported
        now = self._now()
        if dropped <= 0 or (
            not force and now - self._reported_at < DROPPED_REPORT_INTERVAL
        ):
            return
        self._reported = self._dropped
        self._reported_at = now
        context = TraceContext.new_root()
        self._deliver(
            [
                TraceRecord(
                    kind=RecordKind.TRACER_DROPPED,
                    name="tracer.dropped",
                    trace_id=context.trace_id,
                    span_id=context.span_id,
                    attributes={
                        "llmgine.tracer.dropped": dropped,
                        "llmgine.tracer.dropped_total": self._dropped,
                    },
                )
            ]
        )

    def _handler_failed(self, index: int, handler: TraceHandler, what: str) -> None:
        self._handler_errors += 1
        # Log the first failure of each handler only: a handler that fails on
        # every batch must not flood the log.
        if index not in self._failing:
            self._failing.add(index)
            _log.exception(
                "trace handler %r failed in %s(); further failures are only counted",
                handler,
                what,
            )

    def __repr__(self) -> str:
        stats = self.statistics()
        sampled = "" if self.sample_ratio == 1.0 else f" sample_ratio={self.sample_ratio}"
        return (
            f"<Tracer handlers={len(self._handlers)}{sampled} held={stats.queued}"
            f" handled={stats.handled} dropped={stats.dropped}>"
        )
