"""Remote refs: the driver's handle to an actor that runs on a node.

A remote ref keeps the books of its actor on the driver's side. Every message
it accepts is in exactly one place until it is settled: the node's outbox
(``unsent``), in flight at the node (``lanes`` for tells, ``asks`` for asks),
or settled: processed or dead-lettered there (as the node reports), or
dead-lettered here (``NODE_LOST``, a drop under ``DROP_NEWEST``, a refusal).
So ``accepted == processed + dead_lettered + queued`` holds for a remote ref
as for a local one, whatever happens to the node.

Credit: the ref lets at most ``capacity`` messages be unsettled at once (the
remote mailbox's capacity), so a full remote mailbox pushes back on ``tell``
exactly as a local one does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from .._exceptions import ActorStopped, AskTimeout, MailboxFull
from ..actors import ActorStatistics, DeadLetter, DeadLetterReason, Overflow, Priority
from ._ray import check_pickles

if TYPE_CHECKING:
    from ._node import NodeHandle

__all__ = ["RemoteRef"]

_TELL = 0
_ASK = 1
_CANCEL = 2
_TELLS_PER_CHECKPOINT = 64


class _Slot:
    """An ask waiting for its answer."""

    __slots__ = ("error", "event", "lane", "message", "sent", "value")

    def __init__(self, message: object, lane: int) -> None:
        self.message = message
        self.lane = lane
        self.sent = False
        self.value: object = None
        self.error: BaseException | None = None
        self.event = trio.Event()


class RemoteRef:
    """A handle to an actor on a node: ``tell``, ``tell_nowait``, ``ask``, ``stop``.

    It stays valid when the node's process dies and is restarted: the actor
    is spawned again from its spec on the new node.
    """

    def __init__(
        self,
        node: NodeHandle,
        actor_id: int,
        name: str,
        factory: Any,
        args: tuple[Any, ...],
        options: dict[str, Any],
    ) -> None:
        self._node = node
        self.id = actor_id
        self.name = name
        self.path = f"{node.path}/{name}"
        self.factory = factory
        self.args = args
        self.options = options
        mailbox = options["mailbox"]
        self.capacity: int = mailbox.capacity
        self.overflow: Overflow = mailbox.overflow
        self.lanes: list[dict[int, object]] = [{}, {}, {}, {}]
        self.in_lanes = 0
        self.asks: dict[int, _Slot] = {}
        self.unsent = 0
        self.accepted = 0
        self.tells_seen = 0
        self.driver_dead = 0
        # processed, dead-lettered, failed, restarts, cancelled: of the node's
        # current incarnation, and summed over the incarnations before it
        self.current = [0, 0, 0, 0, 0]
        self.base = [0, 0, 0, 0, 0]
        self.closed = False
        self.stopped = False
        self._credit = trio.lowlevel.ParkingLot()

    def __repr__(self) -> str:
        return f"<RemoteRef {self.path}>"

    # -- sending -----------------------------------------------------------------
    def outstanding(self) -> int:
        """Messages accepted and not settled yet (what the credit counts)."""
        return self.unsent + self.in_lanes + len(self.asks)

    def _check(self, message: object) -> None:
        if self.closed:
            raise ActorStopped(f"{self.path} has stopped")
        check_pickles(message, f"message {type(message).__qualname__}")

    def _room(self, message: object, lane: int) -> bool:
        """Whether to send ``message`` now; False: it was settled here (dropped).

        Raises :class:`MailboxFull` under ``REJECT`` and ``BACKPRESSURE``.
        """
        if lane == 0 or self.outstanding() < self.capacity:
            return True
        overflow = self.overflow
        if overflow is Overflow.DROP_OLDEST:
            if self._node.evict_unsent(self, lane):
                return True
            return True  # the oldest is at the node: its mailbox drops it
        if overflow is Overflow.DROP_NEWEST:
            self.accepted += 1
            error = MailboxFull(f"mailbox of {self.path} is full ({self.capacity})")
            self.file(message, DeadLetterReason.MAILBOX_FULL, error)
            return False
        raise MailboxFull(f"mailbox of {self.path} is full ({self.capacity} messages)")

    async def tell(self, message: Any, *, priority: Priority = Priority.NORMAL) -> None:
        """Send without waiting for an answer.

        Under ``BACKPRESSURE`` this waits while ``capacity`` messages are
        unsettled; ``REJECT`` raises :class:`MailboxFull`; the ``DROP_*``
        policies dead-letter a message instead. :class:`ConfigurationError`
        if the message does not pickle; :class:`ActorStopped` once stopped.
        """
        self._check(message)
        lane = int(priority)
        while (
            self.overflow is Overflow.BACKPRESSURE
            and lane
            and (self.outstanding() >= self.capacity)
        ):
            await self._credit.park()
            if self.closed:
                raise ActorStopped(f"{self.path} has stopped")
        if self._room(message, lane):
            self._node.send(_TELL, self, lane, message, None)
        node = self._node
        node.tell_budget -= 1
        if node.tell_budget <= 0:
            node.tell_budget = _TELLS_PER_CHECKPOINT
            await trio.lowlevel.checkpoint()

    def tell_nowait(self, message: Any, *, priority: Priority = Priority.NORMAL) -> None:
        """Send without ever waiting: :class:`MailboxFull` when the mailbox is full."""
        self._check(message)
        lane = int(priority)
        if self._room(message, lane):
            self._node.send(_TELL, self, lane, message, None)

    async def ask(
        self,
        message: Any,
        *,
        timeout: float | None = None,
        priority: Priority = Priority.NORMAL,
    ) -> Any:
        """Send and wait for the answer, as :meth:`ActorRef.ask` does.

        :class:`ActorStopped` if the node is lost while the ask is in flight;
        :class:`AskTimeout` after ``timeout`` seconds. When the asker gives up
        (the timeout passes or its cancel scope is cancelled) the node cancels
        the actor's handling of the message, or skips it if it is still queued,
        as for a local ask.
        """
        self._check(message)
        lane = int(priority)
        with trio.move_on_after(float("inf") if timeout is None else timeout) as scope:
            while (
                self.overflow is Overflow.BACKPRESSURE
                and lane
                and (self.outstanding() >= self.capacity)
            ):
                await self._credit.park()
                if self.closed:
                    raise ActorStopped(f"{self.path} has stopped")
            if not self._room(message, lane):
                raise MailboxFull(f"mailbox of {self.path} is full: message dropped")
            slot = _Slot(message, lane)
            seq = self._node.send(_ASK, self, lane, message, slot)
            try:
                await slot.event.wait()
            finally:
                if not slot.event.is_set():
                    self._node.cancel(self, seq)
        if scope.cancelled_caught:
            raise AskTimeout(f"no answer from {self.path} within {timeout} s")
        if slot.error is not None:
            raise slot.error
        return slot.value

    async def stop(self) -> None:
        """Stop the actor for good (queued messages are dead-lettered on the node)."""
        if not self.closed:
            self.closed = True
            self._credit.unpark_all()
            await self._node.stop_actor(self)

    # -- the books -----------------------------------------------------------------
    def file(
        self, message: object, reason: DeadLetterReason, error: BaseException | None
    ) -> None:
        """Dead-letter an accepted message here, in the driver's system."""
        self.driver_dead += 1
        self._node.system.dead_letters.add(
            DeadLetter(message=message, recipient=self.path, reason=reason, error=error)
        )

    def settle_tells(self, settled: int, evicted: int) -> None:
        """The node says ``settled`` tells (cumulative) left its mailbox."""
        count = settled - self.tells_seen
        if count <= 0:
            return
        self.tells_seen = settled
        lanes = self.lanes
        # evictions take the oldest of the lowest lane, handling the highest
        for _ in range(min(evicted, count)):
            for lane in reversed(lanes):
                if lane:
                    del lane[next(iter(lane))]
                    break
        for _ in range(count - min(evicted, count)):
            for lane in lanes:
                if lane:
                    del lane[next(iter(lane))]
                    break
        self.in_lanes = sum(len(lane) for lane in lanes)
        self._credit.unpark_all()

    def answer(self, seq: int, ok: bool, payload: Any) -> None:
        """The node answered an ask."""
        slot = self.asks.pop(seq, None)
        if slot is None:
            return
        if ok:
            slot.value = payload
        else:
            slot.error = payload
        slot.event.set()
        self._credit.unpark_all()

    def refuse(self, seq: int, is_ask: bool, error: BaseException) -> None:
        """The node did not take a message (its actor stopped, the batch broke)."""
        if is_ask:
            slot = self.asks.pop(seq, None)
            if slot is not None:
                self.accepted -= 1  # refused at the door: never accepted
                slot.error = error
                slot.event.set()
        else:
            for lane in self.lanes:
                message = lane.pop(seq, _MISSING)
                if message is not _MISSING:
                    self.in_lanes -= 1
                    reason = (
                        DeadLetterReason.ACTOR_STOPPED
                        if isinstance(error, ActorStopped)
                        else DeadLetterReason.HANDLER_FAILED
                    )
                    self.file(message, reason, error)
                    break
        self._credit.unpark_all()

    def count(self, row: tuple[int, ...]) -> None:
        """The node's counters of this actor (cumulative in its incarnation)."""
        current = self.current
        if row[0] + row[1] >= current[0] + current[1]:
            self.current = list(row)

    def lose_node(self) -> None:
        """The node died: what it held becomes ``NODE_LOST``; asks in flight fail."""
        for lane in self.lanes:
            for message in lane.values():
                self.file(message, DeadLetterReason.NODE_LOST, None)
            lane.clear()
        self.in_lanes = 0
        for seq, slot in list(self.asks.items()):
            if slot.sent:
                del self.asks[seq]
                error = ActorStopped(f"node of {self.path} was lost")
                self.file(slot.message, DeadLetterReason.NODE_LOST, error)
                slot.error = error
                slot.event.set()
        self.base = [a + b for a, b in zip(self.base, self.current, strict=True)]
        self.current = [0, 0, 0, 0, 0]
        self.tells_seen = 0
        self._credit.unpark_all()

    def close_for_good(self) -> None:
        """Refuse new messages and release every waiting sender."""
        self.closed = True
        self._credit.unpark_all()

    def counters(self) -> tuple[int, int, int, int, int, int]:
        """``(processed, dead_lettered, failed, restarts, cancelled, queued)``."""
        base, current = self.base, self.current
        return (
            base[0] + current[0],
            base[1] + current[1] + self.driver_dead,
            base[2] + current[2],
            base[3] + current[3] + self._node.restarts,
            base[4] + current[4],
            self.outstanding(),
        )

    def statistics(self) -> ActorStatistics:
        """A snapshot of this actor's counters, as the driver knows them."""
        processed, dead, failed, restarts, cancelled, queued = self.counters()
        return ActorStatistics(
            path=self.path,
            queued=queued,
            capacity=self.capacity,
            accepted=self.accepted,
            processed=processed,
            failed=failed,
            dead_lettered=dead,
            restarts=restarts,
            breaker=None,
            breaker_trips=0,
            running=not self.closed and self._node.up,
            cancelled=cancelled,
        )


_MISSING = object()
