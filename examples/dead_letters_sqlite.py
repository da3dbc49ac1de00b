"""Dead letters persisted to SQLite, and redelivered after a restart.

Every message an actor accepted but did not process lands in the system's dead
letters with its reason. With a ``SQLiteDeadLetterStore`` they survive the
process: the next run loads them, and ``redeliver()`` sends them to the actor
now living at the same path. Letters are stored as JSON data, never pickled:
an attrs message comes back as itself (its module is imported), the error as
a ``StoredError`` holding its type name and message.

Run: python examples/dead_letters_sqlite.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import attrs
import trio

from llmgine.actors import (
    Actor,
    Mailbox,
    Overflow,
    SQLiteDeadLetterStore,
    open_actor_system,
)


@attrs.frozen
class Email:
    """An email to send (an attrs class: stored by its name and fields)."""

    to: str


class Mailer(Actor):
    """Sends emails; in the first run its SMTP server is down."""

    smtp_up = False
    sent: list[str] = []  # noqa: RUF012 - shared across runs on purpose

    async def receive(self, message: object) -> object:
        assert isinstance(message, Email)
        if not Mailer.smtp_up:
            raise ConnectionError("SMTP server unreachable")
        Mailer.sent.append(message.to)
        return None


async def first_run(db: Path) -> None:
    async with open_actor_system(
        "mail", dead_letter_store=SQLiteDeadLetterStore(db)
    ) as system:
        mailer = await system.spawn(
            Mailer,
            name="mailer",
            mailbox=Mailbox(capacity=2, overflow=Overflow.DROP_NEWEST),
        )
        for n in range(4):  # 2 fit in the mailbox, 2 overflow
            mailer.tell_nowait(Email(to=f"user{n}@example.com"))
        await system.wait_until_idle()
        for letter in system.dead_letters.list():
            print(f"  {letter.message.to:<20} {letter.reason.value:<15} {letter.error!r}")
        stats = system.statistics()
        print(
            f"  accepted={stats.accepted} processed={stats.processed}"
            f" dead-lettered={stats.dead_lettered} lost={stats.lost}"
        )
    # leaving the block flushed the letters to SQLite


async def second_run(db: Path) -> None:
    Mailer.smtp_up = True  # the outage is over
    async with open_actor_system(
        "mail", dead_letter_store=SQLiteDeadLetterStore(db)
    ) as system:
        print(f"  loaded {len(system.dead_letters)} dead letters from {db.name}")
        for letter in system.dead_letters.list():
            print(f"  {letter.message!r} after {letter.error}")
        await system.spawn(Mailer, name="mailer")  # the same path: /mail/mailer
        sent = await system.dead_letters.redeliver()
        await system.wait_until_idle()
        print(f"  redelivered {sent}; sent: {sorted(Mailer.sent)}")


async def third_run(db: Path) -> None:
    async with open_actor_system(
        "mail", dead_letter_store=SQLiteDeadLetterStore(db)
    ) as system:
        print(f"  dead letters left in the store: {len(system.dead_letters)}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "dead_letters.sqlite"
        print("first run (SMTP down):")
        await first_run(db)
        print("second run (after a restart of the process):")
        await second_run(db)
        print("third run:")
        await third_run(db)


if __name__ == "__main__":
    trio.run(main)
