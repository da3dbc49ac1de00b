"""Envelopes: what travels in a mailbox when a message needs more than itself.

A plain ``tell`` from untraced code puts the bare message in the mailbox; an
``ask`` or a traced ``tell`` wraps it in an :class:`Envelope` carrying the reply
slot and the sender's trace context.
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


class Envelope:
    """A message with its reply slot and trace context."""

    __slots__ = ("message", "reply", "trace", "traced")

    def __init__(
        self,
        message: object,
        reply: Reply | None,
        trace: TraceContext | None,
        traced: bool,
    ) -> None:
        self.message = message
        self.reply = reply
        self.trace = trace
        self.traced = traced


def unwrap(item: object) -> object:
    """The message a sender sent, whether or not it travelled in an envelope."""
    return item.message if type(item) is Envelope else item
