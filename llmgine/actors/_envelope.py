"""Envelopes: what travels in a mailbox when a message needs more than itself.

A plain ``tell`` from untraced code puts the bare message in the mailbox; an
``ask`` or a traced ``tell`` wraps it in an :class:`Envelope` carrying the
sender's trace context and, for an ask, the reply slot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from ..tracing import TraceContext

if TYPE_CHECKING:
    from ._deferred import Deferred

__all__ = ["Envelope", "Reply"]


class Reply:
    """Where the answer to an ``ask`` goes.

    The asker parks its own task and the actor reschedules it directly: one
    scheduler trip per answer, no event or channel object in between. When the
    asker gives up (its timeout passed, or its cancel scope was cancelled) the
    reply is *abandoned*, and the recipient's work for it is cancelled.
    """

    __slots__ = (
        "abandoned",
        "cell",
        "deferred",
        "error",
        "expired",
        "is_set",
        "task",
        "value",
    )

    def __init__(self) -> None:
        self.task: trio.lowlevel.Task | None = None
        self.value: object = None
        self.error: BaseException | None = None
        self.is_set = False
        self.abandoned = False
        self.expired = False
        self.cell: Any = None
        self.deferred: Deferred | None = None

    def set_value(self, value: object) -> None:
        """Answer with a value (ignored once answered)."""
        if self.is_set:
            return
        self.value = value
        self._wake()

    def set_error(self, error: BaseException) -> None:
        """Answer with an error, raised in the asker (ignored once answered)."""
        if self.is_set:
            return
        self.error = error
        self._wake()

    def _wake(self) -> None:
        self.is_set = True
        task = self.task
        if task is not None:
            self.task = None
            trio.lowlevel.reschedule(task)

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        """The asker was cancelled while parked: abandon the ask (trio abort callback)."""
        self.task = None
        if not self.is_set:
            self.abandoned = True
            cell = self.cell
            if cell is not None:
                # Cancelling the recipient's work from inside an abort callback
                # would re-enter trio's cancellation machinery: do it just after.
                trio.lowlevel.current_trio_token().run_sync_soon(cell.abandon, self)
        return trio.lowlevel.Abort.SUCCEEDED


class Envelope(Reply):
    """A message with its trace context; for an ask, also the answer's slot.

    An ask's envelope is its own reply (``envelope.reply is envelope``), so an
    ask costs one object; a told envelope has ``reply = None``.
    """

    __slots__ = ("message", "reply", "trace", "traced")

    def __init__(
        self,
        message: object,
        trace: TraceContext | None,
        traced: bool,
        ask: Any = None,
    ) -> None:
        # ``ask`` is the recipient's cell for an ask, None for a tell.
        self.message = message
        self.trace = trace
        self.traced = traced
        self.reply: Reply | None
        if ask is not None:
            self.reply = self
            self.cell = ask
            self.task = None
            self.value = None
            self.error = None
            self.is_set = False
            self.abandoned = False
            self.expired = False
            self.deferred = None
        else:
            self.reply = None


def unwrap(item: object) -> object:
    """The message a sender sent, whether or not it travelled in an envelope."""
    return item.message if type(item) is Envelope else item
