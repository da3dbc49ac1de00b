"""Settlement: the one path that settles a message once it was handled.

Counters, the breaker's outcome, the reply and dead letters are decided here,
whatever ended the message: a value, a ``Failure``, a deferred answer, an
exception, or an asker who gave up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from .._exceptions import ActorStopped, AskTimeout, CircuitOpenError, MailboxFull
from ..tracing import RecordKind
from ._actor import Failure
from ._breaker import BreakerRuntime
from ._dead_letters import DeadLetter, DeadLetterReason
from ._deferred import Deferred
from ._envelope import Envelope, Reply
from ._mailbox import MailboxQueue

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = ["Settlement"]


class Settlement:
    """The settlement path of a cell (a part of :class:`~._cell.Cell`)."""

    if not TYPE_CHECKING:  # the slots are Cell's; mypy reads the annotations
        __slots__ = ()

    queue: MailboxQueue
    breaker: BreakerRuntime | None
    system: ActorSystem
    path: str
    traced: bool
    _active: bool
    _current: object
    _scope: trio.CancelScope | None
    _interrupt: bool

    # -- idle accounting -------------------------------------------------------
    def mark_active(self) -> None:
        """This actor has work (or is starting); the system is not idle."""
        if not self._active:
            self._active = True
            self.system._active += 1

    def mark_idle(self) -> None:
        """This actor waits for work."""
        if self._active:
            self._active = False
            self.system.activity(-1)

    def settle(self, item: object, result: object) -> None:
        """Settle a handled message by what ``receive`` returned."""
        kind = type(result)
        if kind is Deferred:
            return  # settled when it resolves (settle_deferred)
        reply = item.reply if type(item) is Envelope else None
        if kind is Failure:
            self.settle_deferred(item, reply, None, result.error)  # type: ignore[attr-defined]
            return
        self.settle_deferred(item, reply, result, None)

    def settle_deferred(
        self,
        item: object,
        reply: Reply | None,
        value: object,
        error: BaseException | None,
    ) -> None:
        """Settle a message answered with ``value`` or with ``error`` (a ``Failure``)."""
        queue = self.queue
        breaker = self.breaker
        if error is not None and reply is None:
            # A told failure: nobody hears it, so it is filed.
            queue.failed += 1
            self.dead_letter(item, DeadLetterReason.HANDLER_FAILED, error)
            if breaker is not None:
                breaker.failure()
            return
        queue.processed += 1
        counted = breaker is not None and not (reply is not None and reply.abandoned)
        if error is not None:
            if reply is not None:
                reply.set_error(error)
            if counted:
                breaker.failure()  # type: ignore[union-attr]
            return
        if reply is not None:
            reply.set_value(value)
        if counted:
            breaker.success()  # type: ignore[union-attr]

    def fail_item(self, item: object, error: Exception) -> None:
        """Settle a message whose handler raised (the actor is failing)."""
        self._current = None
        self.queue.failed += 1
        self.dead_letter(item, DeadLetterReason.HANDLER_FAILED, error)
        reply = item.reply if type(item) is Envelope else None
        if self.breaker is not None and not (reply is not None and reply.abandoned):
            self.breaker.failure()

    def count_cancelled(self, reply: Reply | None = None) -> None:
        """Settle a message whose asker gave up before it was answered.

        Its reply, if still open, is closed with :class:`AskTimeout` in the
        same step: no asker waits on it, but whoever keeps books by the reply
        (a node reporting to its driver) sees it settled with the counters.
        """
        self.queue.processed += 1
        self.queue.cancelled += 1
        if reply is not None and not reply.is_set:
            reply.set_error(AskTimeout(f"the asker of {self.path} gave up"))

    def abandon(self, reply: Reply) -> None:
        """The asker of ``reply`` gave up: cancel the work done for it."""
        reply.abandoned = True
        if self._current is reply and self._scope is not None:
            self._interrupt = True
            self._scope.cancel()  # the message loop's scope: it makes another
        deferred = reply.deferred
        if deferred is not None:
            deferred.cancel()

    def dead_letter(
        self, item: object, reason: DeadLetterReason, error: BaseException | None
    ) -> None:
        """Send an accepted message to dead letters, failing its ask if any."""
        message = item
        if type(item) is Envelope:
            message = item.message
            reply = item.reply
            if reply is not None and not reply.is_set:
                reply.set_error(error or _reason_error(reason, self.path))
        self.queue.dead_lettered += 1
        letter = DeadLetter(
            message=message, recipient=self.path, reason=reason, error=error
        )
        self.system.dead_letters.add(letter)
        if self.traced:
            self.system.event(
                RecordKind.DEAD_LETTER,
                self.path,
                {
                    "llmgine.dead_letter.reason": reason.value,
                    "llmgine.message.type": type(message).__qualname__,
                },
                error=error,
                actor=self.path,
            )


def _reason_error(reason: DeadLetterReason, path: str) -> BaseException:
    if reason is DeadLetterReason.CIRCUIT_OPEN:
        return CircuitOpenError(f"circuit of {path} is open")
    if reason in (DeadLetterReason.MAILBOX_FULL, DeadLetterReason.DROPPED_OLDEST):
        return MailboxFull(f"mailbox of {path} is full: message dropped")
    return ActorStopped(f"{path} stopped before handling the message")
