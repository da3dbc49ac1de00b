"""Envelopes: what travels in a mailbox when a message needs more than itself.

A plain ``tell`` from untraced code puts the bare message in the mailbox; an
``ask`` or a traced ``tell`` wraps it in an :class:`Envelope` carrying the
sender's trace context and, for an ask, the reply slot.
"""

from __future__ import annotations

import trio

from ._tracing import TraceContext

__all__ = ["Envelope", "Reply"]


class Reply:
    """Where the answer to an ``ask`` goes.

    The asker parks its own task and the actor reschedules it directly: one
    scheduler trip per answer, no event or channel object in between.
    """

    __slots__ = ("abandoned", "error", "is_set", "task", "value")

    def __init__(self) -> None:
        self.task: trio.lowlevel.Task | None = None
        self.value: object = None
        self.error: BaseException | None = None
        self.is_set = False
        self.abandoned = False

    def set_value(self, value: object) -> None:
        """Answer with a value."""
        self.value = value
        self._wake()

    def set_error(self, error: BaseException) -> None:
        """Answer with an error, raised in the asker."""
        self.error = error
        self._wake()

    def _wake(self) -> None:
        self.is_set = True
        task = self.task
        if task is not None:
            self.task = None
            trio.lowlevel.reschedule(task)

    async def wait(self) -> None:
        """Park until answered (cancellable: the answer is then abandoned)."""
        if self.is_set:
            await trio.lowlevel.checkpoint()
            return
        self.task = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self.task = None
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
        ask: bool = False,
    ) -> None:
        self.message = message
        self.trace = trace
        self.traced = traced
        self.reply: Reply | None
        if ask:
            self.reply = self
            self.task = None
            self.value = None
            self.error = None
            self.is_set = False
            self.abandoned = False
        else:
            self.reply = None


def unwrap(item: object) -> object:
    """The message a sender sent, whether or not it travelled in an envelope."""
    return item.message if type(item) is Envelope else item
