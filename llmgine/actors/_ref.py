"""Actor refs: the only way to talk to an actor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import trio

from ..tracing import current_trace
from ._breaker import BreakerState
from ._envelope import Envelope
from ._mailbox import Priority

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["ActorRef", "ActorStatistics"]

# trio's scheduling calls the fast paths make, bound once
_current_task = trio.lowlevel.current_task
_park = trio.lowlevel.wait_task_rescheduled
_reschedule = trio.lowlevel.reschedule
_current_time = trio.current_time

_TELLS_PER_CHECKPOINT = 64
_NORMAL = Priority.NORMAL


@attrs.frozen(kw_only=True)
class ActorStatistics:
    """A snapshot of one actor.

    ``accepted == processed + dead_lettered + queued + in_flight`` whenever the
    actor is between messages. ``cancelled`` counts the processed messages
    whose asker gave up before the answer (their handling was cancelled);
    ``in_flight`` the messages answered later (a ``Deferred``) and not yet.
    """

    path: str
    queued: int
    capacity: int
    accepted: int
    processed: int
    failed: int
    dead_lettered: int
    restarts: int
    breaker: BreakerState | None
    breaker_trips: int
    running: bool
    cancelled: int = 0
    in_flight: int = 0


class ActorRef:
    """A stable handle to an actor: valid across restarts, cheap to share.

    ``tell`` and ``ask`` do not yield to the scheduler on every call: a sender
    checkpoints every few dozen tells, or when it has to wait for space.
    """

    __slots__ = ("_cell", "_queue", "name", "path")

    def __init__(self, cell: Cell) -> None:
        self._cell = cell
        self._queue = cell.queue
        self.name = cell.name
        self.path = cell.path

    def __repr__(self) -> str:
        return f"<ActorRef {self.path}>"

    async def tell(self, message: Any, *, priority: Priority = Priority.NORMAL) -> None:
        """Send without waiting for an answer.

        Under ``BACKPRESSURE`` this waits while the mailbox is full; under
        ``REJECT`` it raises :class:`MailboxFull`; the ``DROP_*`` policies
        dead-letter a message instead. Raises :class:`ActorStopped` if the actor
        has stopped.
        """
        queue = self._queue
        cell = self._cell
        if (
            cell.fast
            and priority is _NORMAL
            and queue.size < queue.capacity
            and not queue.closed
        ):
            # The fast case of Cell.offer, inlined: this is the hottest line in
            # llmgine. While no span is open in the system (the usual case) the
            # trace context is not read: an installed tracer costs untraced
            # tells next to nothing. A tracer that joins the caller's ambient
            # (OpenTelemetry) trace reads it here, in the sender's task.
            if cell.trace_hint.open_spans:
                trace = current_trace.get()
                if trace is None:
                    spans = cell.spans
                    if spans is not None and spans.joins_ambient:
                        trace = spans.ambient_context()
                if trace is not None:
                    message = Envelope(message, trace, True)
            queue.normal.append(message)  # type: ignore[union-attr]  # fast: made
            queue.size += 1
            queue.accepted += 1
            if queue.consumer_waiting:
                queue.wake()
        else:
            await cell.offer(message, priority)
        system = cell.system
        system.tell_budget -= 1
        if system.tell_budget <= 0:
            system.tell_budget = _TELLS_PER_CHECKPOINT
            await trio.lowlevel.checkpoint()

    def tell_nowait(self, message: Any, *, priority: Priority = Priority.NORMAL) -> None:
        """Send without ever waiting.

        Raises :class:`MailboxFull` when the mailbox is full under
        ``BACKPRESSURE`` or ``REJECT`` (the message was not accepted); the
        ``DROP_*`` policies dead-letter a message instead.
        """
        self._cell.offer_nowait(message, priority)

    async def ask(
        self,
        message: Any,
        *,
        timeout: float | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> Any:
        """Send and wait for the answer: what ``receive`` returned.

        The handler's exception (or a ``Failure``'s error) is raised here;
        :class:`AskTimeout` after ``timeout`` seconds; :class:`CircuitOpenError`
        at once while the actor's breaker is open. When the asker gives up (the
        timeout passes or its cancel scope is cancelled) the actor's handling of
        the message is cancelled.
        """
        queue = self._queue
        cell = self._cell
        traced = cell.traced
        if traced:
            trace = current_trace.get()
            if trace is None:  # untraced code: the caller's ambient trace, if any
                spans = cell.spans
                if spans is not None and spans.joins_ambient:
                    trace = spans.ambient_context()
        else:
            trace = None
        envelope = Envelope(message, trace, traced, cell)
        breaker_timeout = False
        if (
            cell.fast
            and priority is _NORMAL
            and queue.size < queue.capacity
            and not queue.closed
        ):
            # The fast case of Cell.offer, inlined.
            queue.normal.append(envelope)  # type: ignore[union-attr]  # fast: made
            queue.size += 1
            queue.accepted += 1
            if queue.consumer_waiting:  # queue.wake(), inlined
                queue.consumer_waiting = False
                if not cell._active:
                    cell._active = True
                    cell.system._active += 1
                consumer = queue.consumer
                if consumer is not None:
                    queue.consumer = None
                    _reschedule(consumer)
            deadline = 0.0 if timeout is None else _current_time() + timeout
        else:
            breaker = cell.breaker
            if breaker is not None:
                call_timeout = breaker.config.call_timeout
                if call_timeout is not None and (
                    timeout is None or call_timeout <= timeout
                ):
                    timeout = call_timeout
                    breaker_timeout = True
            deadline = float("inf") if timeout is None else trio.current_time() + timeout
            if not await cell.offer(envelope, priority, envelope, deadline):
                raise envelope.error  # type: ignore[misc]
        if not envelope.is_set:
            if timeout is not None:
                cell.system.timer.add(deadline, envelope, timeout)
            # envelope.wait(), inlined: nothing could answer before this park
            envelope.task = _current_task()
            await _park(envelope._abort)
        if envelope.error is not None:
            if envelope.expired and breaker_timeout and cell.breaker is not None:
                cell.breaker.failure()
            raise envelope.error
        return envelope.value

    async def stop(self) -> None:
        """Stop the actor for good: let the current message finish (within the
        shutdown timeout), call ``on_stop``, dead-letter what is still queued.
        """
        await self._cell.stop()

    def statistics(self) -> ActorStatistics:
        """A snapshot of this actor's counters."""
        return self._cell.statistics()
