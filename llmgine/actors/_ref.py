"""Actor refs: the only way to talk to an actor."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._exceptions import ActorStopped, AskTimeout, CircuitOpenError, MailboxFull
from . import _tracing
from ._breaker import BreakerState
from ._dead_letters import DeadLetterReason
from ._envelope import Envelope, Reply
from ._mailbox import Overflow, Priority
from ._tracing import current_trace

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["ActorRef", "ActorStatistics"]

_TELLS_PER_CHECKPOINT = 64


@attrs.frozen(kw_only=True)
class ActorStatistics:
    """A snapshot of one actor.

    ``accepted == processed + dead_lettered + queued`` whenever the actor is
    between messages.
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

    def _wrap(self, message: object) -> object:
        """A told message as it goes in the mailbox: bare unless inside a trace."""
        if not self._cell.traced:
            return message
        trace = current_trace.get()
        return message if trace is None else Envelope(message, trace, True)

    async def tell(self, message: Any, *, priority: Priority = Priority.NORMAL) -> None:
        """Send without waiting for an answer.

        Under ``BACKPRESSURE`` this waits while the mailbox is full; under
        ``REJECT`` it raises :class:`MailboxFull`; the ``DROP_*`` policies
        dead-letter a message instead. Raises :class:`ActorStopped` if the actor
        has stopped.
        """
        queue = self._queue
        if queue.closed:
            raise ActorStopped(f"{self.path} has stopped")
        cell = self._cell
        breaker = cell.breaker
        if breaker is not None and not breaker.allow():
            queue.accepted += 1
            cell.dead_letter(message, DeadLetterReason.CIRCUIT_OPEN, None)
            return
        if priority and queue.size >= queue.capacity:
            if queue.overflow is Overflow.BACKPRESSURE:
                while queue.size >= queue.capacity:
                    await queue.wait_for_space()
                    if queue.closed:
                        self._release_trial()
                        raise ActorStopped(f"{self.path} has stopped")
                queue.push(self._wrap(message), priority)
                return
            if not self._overflow(message, priority, None):
                return
        # The fast path of queue.push, inlined: this is the hottest line in llmgine.
        # While no span is open anywhere (the usual case) one check decides,
        # tracer or not: an installed tracer costs untraced tells nothing.
        if _tracing.live_spans and cell.traced:
            trace = current_trace.get()
            if trace is not None:
                message = Envelope(message, trace, True)
        queue.lanes[priority].append(message)
        if priority:
            queue.size += 1
        queue.accepted += 1
        if queue.consumer_waiting:
            queue.wake()
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
        queue = self._queue
        if queue.closed:
            raise ActorStopped(f"{self.path} has stopped")
        breaker = self._cell.breaker
        if breaker is not None and not breaker.allow():
            queue.accepted += 1
            self._cell.dead_letter(message, DeadLetterReason.CIRCUIT_OPEN, None)
            return
        if (
            priority
            and queue.size >= queue.capacity
            and not self._overflow(message, priority, None, nowait=True)
        ):
            return
        queue.push(self._wrap(message), priority)

    def _overflow(
        self, message: object, lane: int, reply: Reply | None, *, nowait: bool = False
    ) -> bool:
        """Apply the overflow policy to a full mailbox; True if the message goes in."""
        queue = self._queue
        overflow = queue.overflow
        if overflow is Overflow.REJECT or (nowait and overflow is Overflow.BACKPRESSURE):
            self._release_trial()
            raise MailboxFull(
                f"mailbox of {self.path} is full ({queue.capacity} messages)"
            )
        if overflow is Overflow.DROP_OLDEST:
            oldest = queue.evict_oldest(lane)
            if oldest is not None:
                self._cell.dead_letter(oldest, DeadLetterReason.DROPPED_OLDEST, None)
                return True
        self._release_trial()
        queue.accepted += 1
        error = MailboxFull(f"mailbox of {self.path} is full ({queue.capacity} messages)")
        self._cell.dead_letter(message, DeadLetterReason.MAILBOX_FULL, error)
        if reply is not None:
            reply.set_error(error)
        return False

    def _release_trial(self) -> None:
        breaker = self._cell.breaker
        if breaker is not None and breaker.state is BreakerState.HALF_OPEN:
            breaker.trial_pending = False

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
        at once while the actor's breaker is open.
        """
        queue = self._queue
        if queue.closed:
            raise ActorStopped(f"{self.path} has stopped")
        cell = self._cell
        breaker = cell.breaker
        breaker_timeout = False
        if breaker is not None:
            if not breaker.allow():
                raise CircuitOpenError(f"circuit of {self.path} is open")
            call_timeout = breaker.config.call_timeout
            if call_timeout is not None and (timeout is None or call_timeout <= timeout):
                timeout = call_timeout
                breaker_timeout = True
        traced = cell.traced
        reply = Envelope(message, current_trace.get() if traced else None, traced, True)
        lane = priority
        if lane and queue.size >= queue.capacity:
            if queue.overflow is Overflow.BACKPRESSURE:
                deadline = math.inf if timeout is None else trio.current_time() + timeout
                with trio.move_on_at(deadline):
                    while queue.size >= queue.capacity:
                        await queue.wait_for_space()
                        if queue.closed:
                            self._release_trial()
                            raise ActorStopped(f"{self.path} has stopped")
                if queue.size >= queue.capacity:
                    self._release_trial()
                    raise AskTimeout(f"no room in {self.path} within {timeout}s")
                timeout = None if timeout is None else deadline - trio.current_time()
            elif not self._overflow(message, lane, reply):
                raise reply.error  # type: ignore[misc]
        queue.lanes[lane].append(reply)  # queue.push, inlined
        if lane:
            queue.size += 1
        queue.accepted += 1
        if queue.consumer_waiting:  # queue.wake(), inlined: every ask wakes
            queue.consumer_waiting = False
            if not cell._active:
                cell._active = True
                cell.system._active += 1
            consumer = queue.consumer
            if consumer is not None:
                queue.consumer = None
                trio.lowlevel.reschedule(consumer)
        if timeout is None:
            # reply.wait(), inlined: nothing could answer before this park
            reply.task = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(reply._abort)
        else:
            with trio.move_on_after(timeout):
                await reply.wait()
            if not reply.is_set:
                reply.abandoned = True
                if breaker_timeout and breaker is not None:
                    breaker.failure()
                raise AskTimeout(f"{self.path} did not answer within {timeout}s")
        if reply.error is not None:
            raise reply.error
        return reply.value

    async def stop(self) -> None:
        """Stop the actor for good: let the current message finish (within the
        shutdown timeout), call ``on_stop``, dead-letter what is still queued.
        """
        await self._cell.stop()

    def statistics(self) -> ActorStatistics:
        """A snapshot of this actor's counters."""
        return self._cell.statistics()
