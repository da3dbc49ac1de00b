"""Ask deadlines: one timer task per system instead of a cancel scope per ask.

``ask(msg, timeout=t)`` files its reply here and parks; the timer wakes the
asks whose deadline passed with :class:`AskTimeout` and abandons them (which
cancels the recipient's work for them). An answer that comes first leaves a
stale entry, dropped when it reaches the top of the heap or when stale entries
outnumber live ones (the same lazy deletion trio uses for its own deadlines).
"""

from __future__ import annotations

import heapq
import itertools
import math
from typing import TYPE_CHECKING

import trio

from .._exceptions import AskTimeout

if TYPE_CHECKING:
    from ._envelope import Reply
    from ._system import ActorSystem

__all__ = ["AskTimer"]


class AskTimer:
    """The deadlines of a system's pending asks, and the task that enforces them."""

    __slots__ = (
        "_count",
        "_heap",
        "_next_compact",
        "_running",
        "_scope",
        "_system",
        "_wake_at",
    )

    def __init__(self, system: ActorSystem) -> None:
        self._system = system
        self._heap: list[tuple[float, int, Reply, float]] = []
        self._count = itertools.count()
        self._scope: trio.CancelScope | None = None
        self._wake_at = math.inf  # the scope's deadline (a property read costs more)
        self._running = False
        self._next_compact = 1024

    def add(self, deadline: float, reply: Reply, timeout: float) -> None:
        """Time ``reply`` out at ``deadline`` unless it is answered first."""
        heap = self._heap
        heapq.heappush(heap, (deadline, next(self._count), reply, timeout))
        scope = self._scope
        if scope is None:
            if not self._running:
                self._running = True
                self._system.nursery.start_soon(self._run, name="llmgine ask deadlines")
        elif deadline < self._wake_at:
            scope.deadline = self._wake_at = deadline
        if len(heap) > self._next_compact:
            self._compact()

    def _compact(self) -> None:
        # Amortised O(1) per ask: the next compaction waits until the heap
        # has doubled again, so answered asks never pile up without bound.
        self._heap = [entry for entry in self._heap if not entry[2].is_set]
        heapq.heapify(self._heap)
        self._next_compact = max(1024, 2 * len(self._heap))

    def __len__(self) -> int:
        return len(self._heap)

    async def _run(self) -> None:
        try:
            while True:
                heap = self._heap
                self._wake_at = heap[0][0] if heap else math.inf
                with trio.CancelScope(deadline=self._wake_at) as scope:
                    self._scope = scope
                    await trio.sleep_forever()
                self._scope = None
                self._expire(trio.current_time())
        finally:
            self._scope = None
            self._running = False

    def _expire(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, reply, timeout = heapq.heappop(heap)
            if reply.is_set:
                continue
            reply.expired = True
            reply.abandoned = True
            cell = reply.cell
            path = "the actor" if cell is None else cell.path
            reply.set_error(AskTimeout(f"{path} did not answer within {timeout}s"))
            if cell is not None:
                cell.abandon(reply)
