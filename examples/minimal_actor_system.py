"""A minimal actor system: one actor, tell and ask, statistics.

Run: python examples/minimal_actor_system.py
"""

from __future__ import annotations

import attrs
import trio

from llmgine import open_actor_system
from llmgine.actors import Actor, Mailbox, Overflow


@attrs.frozen
class Incr:
    """Add ``by`` to the counter."""

    by: int = 1


@attrs.frozen
class Get:
    """Ask for the counter's value."""


class Counter(Actor):
    """Counts; one message at a time, so no locks are needed."""

    def __init__(self, start: int = 0) -> None:
        self.n = start

    async def receive(self, message: object) -> object:
        match message:
            case Incr(by=by):
                self.n += by
            case Get():
                return self.n  # the return value answers an ask()
        return None


async def main() -> None:
    async with open_actor_system("app") as system:
        counter = await system.spawn(
            Counter,
            name="counter",
            mailbox=Mailbox(capacity=1000, overflow=Overflow.BACKPRESSURE),
        )
        for _ in range(10):
            await counter.tell(Incr())  # waits only while the mailbox is full
        counter.tell_nowait(Incr(by=32))  # never waits: raises MailboxFull if full
        print("count:", await counter.ask(Get(), timeout=1.0))
        stats = counter.statistics()
        print(
            f"accepted={stats.accepted} processed={stats.processed} queued={stats.queued}"
        )
    # leaving the block stopped every actor gracefully
    print("system stopped; lost:", system.statistics().lost)


if __name__ == "__main__":
    trio.run(main)
