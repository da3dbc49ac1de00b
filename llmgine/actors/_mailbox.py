"""Mailbox configuration and the queue a ref owns.

A mailbox is a deque per priority lane (the ``NORMAL`` one made eagerly, the
others when first used), the parked consumer task (the actor's loop, which
parks itself when the mailbox is empty), and a parking lot for senders waiting
for space. The consumer is woken only when its mailbox goes from empty to
non-empty, and drains in batches, so a busy actor costs no scheduler trip per
message.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import TYPE_CHECKING

import attrs
import trio

from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from ._cell import Cell

__all__ = ["Mailbox", "Overflow", "Priority"]


class Priority(enum.IntEnum):
    """Mailbox lanes, highest first. FIFO within a lane.

    ``SYSTEM`` is for control traffic and is not bounded by the mailbox capacity.
    """

    SYSTEM = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3


class Overflow(enum.Enum):
    """What a full mailbox does with one more message."""

    #: ``tell`` waits for space; ``tell_nowait`` raises :class:`MailboxFull`.
    BACKPRESSURE = "backpressure"
    #: The new message is accepted and goes straight to dead letters.
    DROP_NEWEST = "drop_newest"
    #: The oldest message of the lowest non-empty lane (at or below the new
    #: message's priority) goes to dead letters to make room.
    DROP_OLDEST = "drop_oldest"
    #: ``tell`` raises :class:`MailboxFull`; the sender keeps the message.
    REJECT = "reject"


def _positive_capacity(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(
            f"'{attribute.name}' must be a positive int (got {value!r})"
        )


def _overflow(value: Overflow | str) -> Overflow:
    if isinstance(value, Overflow):
        return value
    try:
        return Overflow(value)
    except ValueError:
        names = ", ".join(o.value for o in Overflow)
        raise ConfigurationError(
            f"'overflow' must be one of {names} (got {value!r})"
        ) from None


@attrs.frozen(kw_only=True)
class Mailbox:
    """A bounded mailbox: how many messages it holds and what happens when full."""

    capacity: int = attrs.field(default=1000, validator=_positive_capacity)
    overflow: Overflow = attrs.field(default=Overflow.BACKPRESSURE, converter=_overflow)


_NORMAL = 2


class MailboxQueue:
    """The live queue behind one ref. It survives restarts of its actor."""

    __slots__ = (
        "accepted",
        "cancelled",
        "capacity",
        "closed",
        "consumer",
        "consumer_waiting",
        "dead_lettered",
        "failed",
        "lanes",
        "normal",
        "others",
        "overflow",
        "owner",
        "processed",
        "senders",
        "senders_waiting",
        "size",
    )

    def __init__(self, config: Mailbox, owner: Cell) -> None:
        self.capacity = config.capacity
        self.overflow = config.overflow
        self.owner = owner
        # Lanes by priority, each made when first used (an idle actor that
        # never had a message holds no deque). Once made, NORMAL stays.
        self.normal: deque[object] | None = None
        self.lanes: list[deque[object] | None] = [None, None, None, None]
        self.others = 0  # items in lanes other than NORMAL
        self.size = 0  # messages in the bounded lanes (all but SYSTEM)
        self.closed = False
        self.consumer_waiting = False
        self.consumer: trio.lowlevel.Task | None = None  # parked, waiting for work
        self.senders: trio.lowlevel.ParkingLot | None = None
        self.senders_waiting = 0
        self.accepted = 0
        self.processed = 0
        self.cancelled = 0
        self.failed = 0
        self.dead_lettered = 0

    def __len__(self) -> int:
        system = self.lanes[0]
        return self.size + (0 if system is None else len(system))

    def full(self, lane: int) -> bool:
        """Whether one more message in ``lane`` would exceed the capacity."""
        return bool(lane) and self.size >= self.capacity

    def push(self, item: object, lane: int) -> None:
        """Append an accepted item and wake the consumer if it sleeps."""
        if lane == _NORMAL:
            normal = self.normal
            if normal is None:
                normal = self.open_normal()
            normal.append(item)
        else:
            queue = self.lanes[lane]
            if queue is None:
                queue = self.lanes[lane] = deque()
            queue.append(item)
            self.others += 1
        if lane:
            self.size += 1
        self.accepted += 1
        if self.consumer_waiting:
            self.wake()

    def open_normal(self) -> deque[object]:
        """Make the NORMAL lane; from now on the refs' fast paths may push to it."""
        normal = self.normal = self.lanes[_NORMAL] = deque()
        owner = self.owner
        owner.fast = owner.breaker is None and not owner.system.reference_paths
        return normal

    def wake(self) -> None:
        """Reschedule the parked consumer (it is known to be waiting)."""
        self.consumer_waiting = False
        self.owner.mark_active()
        task = self.consumer
        if task is not None:
            self.consumer = None
            trio.lowlevel.reschedule(task)

    def pop(self) -> object | None:
        """Take the next item (highest lane first), or None when empty."""
        for index, lane in enumerate(self.lanes):
            if lane:
                item = lane.popleft()
                if index != _NORMAL:
                    self.others -= 1
                if index:
                    self.size -= 1
                    if self.senders_waiting:
                        self.unpark_sender()
                return item
        return None

    def unpark_sender(self) -> None:
        """Let one sender waiting for space try again."""
        if self.senders is not None:
            self.senders.unpark()

    def evict_oldest(self, at_or_below: int) -> object | None:
        """Remove the oldest item of the lowest non-empty lane not above the given one."""
        for index in range(3, max(at_or_below, 1) - 1, -1):
            lane = self.lanes[index]
            if lane:
                self.size -= 1
                if index != _NORMAL:
                    self.others -= 1
                return lane.popleft()
        return None

    def take_all(self) -> list[object]:
        """Empty every lane, highest first, and return what was queued."""
        items: list[object] = []
        for lane in self.lanes:
            if lane:
                items.extend(lane)
                lane.clear()
        self.size = 0
        self.others = 0
        return items

    async def wait_for_space(self) -> None:
        """Park a sender until the consumer takes something (or the box closes)."""
        if self.senders is None:
            self.senders = trio.lowlevel.ParkingLot()
        self.senders_waiting += 1
        try:
            await self.senders.park()
        finally:
            self.senders_waiting -= 1

    def abort_wait(self, _: object) -> trio.lowlevel.Abort:
        """The parked consumer is cancelled: forget it (a trio abort callback).

        Cleared here, at once: a push made before the cancelled task runs
        again must not wake (reschedule) it a second time.
        """
        self.consumer = None
        return trio.lowlevel.Abort.SUCCEEDED

    def wake_consumer(self) -> None:
        """Wake the consumer without pushing anything (stop requests)."""
        if self.consumer_waiting:
            self.wake()

    def close(self) -> None:
        """Refuse new messages and release every waiting sender."""
        self.closed = True
        if self.senders is not None:
            self.senders.unpark_all()
