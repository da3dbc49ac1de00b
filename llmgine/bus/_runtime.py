"""The one place the bus reads below the runtime's public API.

``publish_nowait`` must deliver to every handler or to none, so it asks each
mailbox whether ``tell_nowait`` would refuse before sending to anyone.
Everything here is covered by the bus tests, so a change of the runtime's
internals shows up there first.
"""

from __future__ import annotations

from .._exceptions import ActorStopped, LLMgineError, MailboxFull
from ..actors import (
    ActorRef,
    Overflow,
)

__all__ = ["pending", "refusal"]


def refusal(ref: ActorRef, extra: int = 0) -> LLMgineError | None:
    """What ``ref.tell_nowait`` would raise with ``extra`` more messages queued.

    ``ActorStopped`` for a stopped actor, ``MailboxFull`` for a full mailbox
    under ``BACKPRESSURE`` or ``REJECT``, None when the message would go in
    (the ``DROP_*`` policies take it and dead-letter one message instead).
    """
    queue = ref._queue
    if queue.closed:
        return ActorStopped(f"{ref.path} has stopped")
    if queue.size + extra >= queue.capacity and queue.overflow in (
        Overflow.BACKPRESSURE,
        Overflow.REJECT,
    ):
        return MailboxFull(f"mailbox of {ref.path} is full ({queue.capacity} messages)")
    return None


def pending(ref: ActorRef) -> int:
    """How many messages wait in ``ref``'s mailbox (cheaper than ``statistics()``)."""
    return len(ref._queue)
