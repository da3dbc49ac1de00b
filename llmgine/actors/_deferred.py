"""Deferred replies: answering a message after ``receive`` returned."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._actor import Failure

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["Deferred"]


class Deferred:
    """A reply given after ``receive`` returned (see :meth:`ActorContext.defer`).

    Return it from ``receive``; later call :meth:`resolve` with the value (or a
    :class:`Failure`) or :meth:`fail` with an error. The asker waits until then,
    and a circuit breaker counts the outcome then. If the actor stops first, the
    asker gets :class:`ActorStopped`.
    """

    __slots__ = ("_cell", "_reply", "done")

    def __init__(self, cell: Cell, reply: Any) -> None:
        self._cell = cell
        self._reply = reply
        self.done = False

    def resolve(self, value: object) -> None:
        """Answer with ``value``; a :class:`Failure` answers with its error."""
        if isinstance(value, Failure):
            self.fail(value.error, _count=True)
            return
        if self._settle():
            if self._reply is not None:
                self._reply.set_value(value)
            breaker = self._cell.breaker
            if breaker is not None and not self._abandoned():
                breaker.success()

    def fail(self, error: BaseException, *, _count: bool = True) -> None:
        """Answer with ``error``, raised in the asker."""
        if self._settle():
            if self._reply is not None:
                self._reply.set_error(error)
            breaker = self._cell.breaker
            if breaker is not None and _count and not self._abandoned():
                breaker.failure()

    def _abandoned(self) -> bool:
        return self._reply is not None and bool(self._reply.abandoned)

    def _settle(self) -> bool:
        if self.done:
            return False
        self.done = True
        self._cell._deferred.discard(self)
        return True
