"""Every way out of ``open_actor_system`` stores every dead letter and trace record.

Normal exit, an exception from the body, cancellation of the surrounding
scope and an escalated :class:`SupervisionError`: each is checked with a real
SQLite file and a real tracer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import SupervisionError
from llmgine.actors import (
    Actor,
    ActorSystem,
    Mailbox,
    OneForOne,
    Overflow,
    SQLiteDeadLetterStore,
    open_actor_system,
)
from llmgine.observability import Tracer

LETTERS = 5_000


class Stuck(Actor):
    """Never finishes its first message, so its mailbox stays full."""

    async def receive(self, message: Any) -> Any:
        await trio.sleep_forever()


class Crash(Actor):
    async def receive(self, message: Any) -> Any:
        raise RuntimeError("broken")


class Keep:
    """A trace handler that keeps every record."""

    def __init__(self) -> None:
        self.records: list[object] = []
        self.closed = False

    def handle(self, records: Sequence[object]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        self.closed = True


def stored(db: Path) -> list[int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT message FROM dead_letters ORDER BY id").fetchall()
    finally:
        conn.close()
    return [int(r[0].split('"data": ')[1].rstrip("}")) for r in rows]


async def flood(system: ActorSystem) -> None:
    """File LETTERS dead letters (0 .. LETTERS-1) and as many trace records."""
    ref = await system.spawn(
        Stuck, name="stuck", mailbox=Mailbox(capacity=1, overflow=Overflow.DROP_NEWEST)
    )
    ref.tell_nowait(-2)
    await trio.testing.wait_all_tasks_blocked()
    ref.tell_nowait(-1)  # fills the mailbox: every later tell is a dead letter
    for n in range(LETTERS):
        ref.tell_nowait(n)


async def run(
    tmp_path: Path, body: Callable[[ActorSystem], Awaitable[None]], **options: Any
) -> tuple[list[int], Tracer, Keep]:
    db = tmp_path / "dead.db"
    keep = Keep()
    tracer = Tracer([keep], capacity=100_000)
    try:
        async with open_actor_system(
            "exit", tracer=tracer, dead_letter_store=SQLiteDeadLetterStore(db), **options
        ) as system:
            await body(system)
    finally:
        letters = stored(db)
    return letters, tracer, keep


def check(letters: list[int], tracer: Tracer, keep: Keep) -> None:
    # the two letters still queued when the actor stopped are stored too
    assert sorted(letters) == [-2, -1, *range(LETTERS)] or sorted(letters) == [
        -1,
        *range(LETTERS),
    ]
    assert set(range(LETTERS)) <= set(letters)
    stats = tracer.statistics()
    assert stats.dropped == 0
    assert stats.queued == 0
    assert stats.handled == stats.received == len(keep.records) > LETTERS
    assert keep.closed


async def test_normal_exit(tmp_path: Path, autojump_clock: Any) -> None:
    check(*await run(tmp_path, flood, shutdown_timeout=1.0))


async def test_exception_from_the_body(tmp_path: Path, autojump_clock: Any) -> None:
    async def body(system: ActorSystem) -> None:
        await flood(system)
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        await run(tmp_path, body)
    letters = stored(tmp_path / "dead.db")
    assert set(range(LETTERS)) <= set(letters)


async def test_exception_from_the_body_delivers_every_trace_record(
    tmp_path: Path, autojump_clock: Any
) -> None:
    result: list[Any] = []

    async def body(system: ActorSystem) -> None:
        await flood(system)
        raise KeyError("boom")

    keep = Keep()
    tracer = Tracer([keep], capacity=100_000)
    with pytest.raises(KeyError):
        async with open_actor_system(
            "exit",
            tracer=tracer,
            dead_letter_store=SQLiteDeadLetterStore(tmp_path / "dead.db"),
        ) as system:
            result.append(system)
            await body(system)
    check(stored(tmp_path / "dead.db"), tracer, keep)


async def test_cancellation_of_the_surrounding_scope(
    tmp_path: Path, autojump_clock: Any
) -> None:
    outcome: list[Any] = []
    with trio.CancelScope() as scope:

        async def body(system: ActorSystem) -> None:
            await flood(system)
            scope.cancel()
            await trio.sleep_forever()

        outcome.append(await run(tmp_path, body))
    assert scope.cancelled_caught
    assert outcome == []  # the block was left by the cancellation
    assert set(range(LETTERS)) <= set(stored(tmp_path / "dead.db"))


async def test_cancellation_delivers_every_trace_record(
    tmp_path: Path, autojump_clock: Any
) -> None:
    keep = Keep()
    tracer = Tracer([keep], capacity=100_000)
    db = tmp_path / "dead.db"
    with trio.CancelScope() as scope:
        async with open_actor_system(
            "exit", tracer=tracer, dead_letter_store=SQLiteDeadLetterStore(db)
        ) as system:
            await flood(system)
            scope.cancel()
            await trio.sleep_forever()
    check(stored(db), tracer, keep)


async def test_a_supervision_error(tmp_path: Path, autojump_clock: Any) -> None:
    async def body(system: ActorSystem) -> None:
        await flood(system)
        crash = await system.spawn(Crash, name="crash")
        await crash.tell("last")
        await trio.sleep_forever()

    keep = Keep()
    tracer = Tracer([keep], capacity=100_000)
    db = tmp_path / "dead.db"
    with pytest.raises(SupervisionError):
        async with open_actor_system(
            "exit",
            tracer=tracer,
            dead_letter_store=SQLiteDeadLetterStore(db),
            strategy=OneForOne(max_restarts=0),
        ) as system:
            await body(system)
    conn = sqlite3.connect(db)
    reasons = dict(
        conn.execute(
            "SELECT reason, count(*) FROM dead_letters GROUP BY reason"
        ).fetchall()
    )
    conn.close()
    assert reasons["handler_failed"] == 1
    assert reasons["mailbox_full"] == LETTERS
    stats = tracer.statistics()
    assert stats.handled == stats.received == len(keep.records)
    assert stats.dropped == stats.queued == 0
    assert keep.closed
