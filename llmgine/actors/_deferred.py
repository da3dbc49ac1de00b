"""Deferred replies: answering a message after ``receive`` returned."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from ._actor import Failure

if TYPE_CHECKING:
    from ._background import Background
    from ._envelope import Reply

__all__ = ["Deferred"]


class Deferred:
    """A reply given after ``receive`` returned (see :meth:`ActorContext.defer`).

    Return it from ``receive``; later call :meth:`resolve` with the value (or a
    :class:`Failure`) or :meth:`fail` with an error. The asker waits until then,
    and a circuit breaker counts the outcome then. If the actor stops first, the
    asker gets :class:`ActorStopped`. A *told* message whose deferred reply is a
    failure goes to dead letters (``HANDLER_FAILED``), as a told ``Failure`` does.

    When the asker gives up, the work done for this reply is cancelled: every
    task started with :meth:`ActorContext.start_soon` with this ``Deferred``
    among its arguments, and every :meth:`cancel_scope` entered for it.
    """

    __slots__ = ("_cell", "_item", "_reply", "_scopes", "cancelled", "done")

    def __init__(self, cell: Background, item: object, reply: Reply | None) -> None:
        self._cell = cell
        self._item = item
        self._reply = reply
        self._scopes: list[trio.CancelScope] = []
        self.done = False
        #: True once the asker gave up on this reply.
        self.cancelled = False
        if reply is not None:
            reply.deferred = self
            if reply.abandoned:
                self.cancelled = True

    def resolve(self, value: object) -> None:
        """Answer with ``value``; a :class:`Failure` answers with its error."""
        if isinstance(value, Failure):
            self.fail(value.error)
            return
        if self._settle():
            self._cell.settle_deferred(self._item, self._reply, value, None)

    def fail(self, error: BaseException) -> None:
        """Answer with ``error``, raised in the asker (or dead-lettered for a tell)."""
        if self._settle():
            self._cell.settle_deferred(self._item, self._reply, None, error)

    def cancel_scope(self) -> trio.CancelScope:
        """A fresh cancel scope that is cancelled when the asker gives up.

        Enter it around work done for this reply in a task the actor did not
        start with :meth:`ActorContext.start_soon` (which does it by itself).
        """
        scope = trio.CancelScope()
        if self.cancelled:
            scope.cancel()
        else:
            self._scopes.append(scope)
        return scope

    def cancel(self) -> None:
        """The asker gave up: cancel the work done for this reply."""
        if self.cancelled:
            return
        self.cancelled = True
        scopes, self._scopes = self._scopes, []
        for scope in scopes:
            scope.cancel()

    def _settle(self) -> bool:
        if self.done:
            return False
        self.done = True
        self._scopes = []
        pending = self._cell._deferred
        if pending is not None:
            pending.discard(self)
        return True

    def settle_cancelled(self) -> None:
        """The work for an abandoned reply was cancelled before it answered."""
        if self._settle():
            self._cell.count_cancelled(self._reply)
