"""Admission: the one path that decides whether a message goes in a mailbox.

Closed mailbox, breaker trial, capacity and overflow policy, the push and the
consumer's wake-up are decided here; ``ActorRef`` inlines only the fast case.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import trio

from .._exceptions import ActorStopped, AskTimeout, CircuitOpenError, MailboxFull
from ..tracing import current_trace
from ._breaker import BreakerState
from ._dead_letters import DeadLetterReason
from ._envelope import Envelope, Reply
from ._mailbox import Overflow
from ._settlement import Settlement

if TYPE_CHECKING:
    from ._message_span import MessageSpans

__all__ = ["Admission"]


class Admission(Settlement):
    """The admission path of a cell (a part of :class:`~._cell.Cell`)."""

    if not TYPE_CHECKING:  # the slots are Cell's; mypy reads the annotations
        __slots__ = ()

    spans: MessageSpans | None

    def _wrap(self, message: object) -> object:
        """A told message as it goes in the mailbox: bare unless inside a trace."""
        if not self.traced:
            return message
        trace = current_trace.get()
        if trace is None:  # untraced code: the caller's ambient trace, if any
            spans = self.spans
            if spans is None or not spans.joins_ambient:
                return message
            trace = spans.ambient_context()
        return message if trace is None else Envelope(message, trace, True)

    def _admit_breaker(self, message: object, reply: Reply | None) -> bool:
        """The breaker's say: False when the message was settled (circuit open)."""
        breaker = self.breaker
        if breaker is None or breaker.allow():
            return True
        if reply is not None:
            raise CircuitOpenError(f"circuit of {self.path} is open")
        self.queue.accepted += 1
        self.dead_letter(message, DeadLetterReason.CIRCUIT_OPEN, None)
        return False

    def _admit_room(
        self, message: object, lane: int, reply: Reply | None, *, wait: bool
    ) -> bool | None:
        """Make room for one message in ``lane``.

        True: push it. False: it was settled (dropped to dead letters). None:
        wait for space and try again (``BACKPRESSURE`` with ``wait``).
        """
        queue = self.queue
        if not queue.full(lane):
            return True
        overflow = queue.overflow
        if overflow is Overflow.BACKPRESSURE and wait:
            return None
        if overflow is Overflow.REJECT or overflow is Overflow.BACKPRESSURE:
            self._release_trial()
            raise MailboxFull(
                f"mailbox of {self.path} is full ({queue.capacity} messages)"
            )
        if overflow is Overflow.DROP_OLDEST:
            oldest = queue.evict_oldest(lane)
            if oldest is not None:
                self.dead_letter(oldest, DeadLetterReason.DROPPED_OLDEST, None)
                return True
        self._release_trial()
        queue.accepted += 1
        error = MailboxFull(f"mailbox of {self.path} is full ({queue.capacity} messages)")
        self.dead_letter(message, DeadLetterReason.MAILBOX_FULL, error)
        return False

    def _push(self, message: object, lane: int, reply: Reply | None) -> None:
        self.queue.push(message if reply is not None else self._wrap(message), lane)

    def offer_nowait(
        self, message: object, lane: int, reply: Reply | None = None
    ) -> bool:
        """Admit ``message`` without waiting; True if it went in the mailbox.

        ``reply`` is the envelope of an ask (``message`` is then that envelope).
        """
        if self.queue.closed:
            raise ActorStopped(f"{self.path} has stopped")
        if not self._admit_breaker(message, reply):
            return False
        if not self._admit_room(message, lane, reply, wait=False):
            return False
        self._push(message, lane, reply)
        return True

    async def offer(
        self,
        message: object,
        lane: int,
        reply: Reply | None = None,
        deadline: float = math.inf,
    ) -> bool:
        """Admit ``message``, waiting for space under ``BACKPRESSURE`` until ``deadline``.

        True if it went in the mailbox; False if it was settled at the door
        (dead-lettered). Raises what the sender must hear: :class:`ActorStopped`,
        :class:`MailboxFull`, :class:`CircuitOpenError` (asks), :class:`AskTimeout`.
        """
        queue = self.queue
        if queue.closed:
            raise ActorStopped(f"{self.path} has stopped")
        if not self._admit_breaker(message, reply):
            return False
        while True:
            room = self._admit_room(message, lane, reply, wait=True)
            if room is not None:
                break
            with trio.move_on_at(deadline):
                await queue.wait_for_space()
            if queue.closed:
                self._release_trial()
                raise ActorStopped(f"{self.path} has stopped")
            if queue.full(lane) and trio.current_time() >= deadline:
                self._release_trial()
                raise AskTimeout(f"no room in {self.path} in time")
        if not room:
            return False
        self._push(message, lane, reply)
        return True

    def _release_trial(self) -> None:
        breaker = self.breaker
        if breaker is not None and breaker.state is BreakerState.HALF_OPEN:
            breaker.trial_pending = False
