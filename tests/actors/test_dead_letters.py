"""Dead letters: listing, draining, redelivery, and persistence in SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from llmgine._exceptions import LLMgineError
from llmgine.actors import (
    Actor,
    DeadLetterReason,
    Mailbox,
    Overflow,
    SQLiteDeadLetterStore,
    open_actor_system,
)


@attrs.frozen
class Order:
    id: int


class Picky(Actor):
    """Fails on odd orders until healed."""

    healed = False

    def __init__(self, done: list[int]) -> None:
        self.done = done

    async def receive(self, message: Any) -> Any:
        if message.id % 2 and not Picky.healed:
            raise ValueError(f"cannot handle {message.id}")
        self.done.append(message.id)


async def test_list_drain_and_redeliver() -> None:
    Picky.healed = False
    done: list[int] = []
    async with open_actor_system("shop") as system:
        ref = await system.spawn(lambda: Picky(done), name="orders")
        for i in range(4):
            await ref.tell(Order(i))
        await system.wait_until_idle()
        letters = system.dead_letters.list()
        assert [x.message for x in letters] == [Order(1), Order(3)]
        assert all(x.reason is DeadLetterReason.HANDLER_FAILED for x in letters)
        assert "cannot handle 1" in str(letters[0].error)
        Picky.healed = True
        assert await system.dead_letters.redeliver() == 2
        await system.wait_until_idle()
        assert sorted(done) == [0, 1, 2, 3]
        assert system.dead_letters.list() == []
        assert system.dead_letters.count == 2  # counts never shrink
        assert system.dead_letters.by_reason[DeadLetterReason.HANDLER_FAILED] == 2


async def test_drain_takes_everything_out() -> None:
    async with open_actor_system("shop") as system:
        ref = await system.spawn(
            lambda: Picky([]),
            name="orders",
            mailbox=Mailbox(capacity=1, overflow=Overflow.DROP_NEWEST),
        )
        await ref.ask(Order(0))
        ref.tell_nowait(Order(2))
        ref.tell_nowait(Order(4))
        drained = await system.dead_letters.drain()
        assert [x.message for x in drained] == [Order(4)]
        assert len(system.dead_letters) == 0


async def test_redeliver_keeps_letters_whose_recipient_is_gone() -> None:
    Picky.healed = False
    async with open_actor_system("shop") as system:
        ref = await system.spawn(lambda: Picky([]), name="orders")
        await ref.tell(Order(1))
        await system.wait_until_idle()
        await ref.stop()
        assert await system.dead_letters.redeliver() == 0
        assert len(system.dead_letters) == 1


async def test_dead_letters_survive_a_restart_of_the_process(tmp_path: Path) -> None:
    Picky.healed = False
    db = tmp_path / "dead.db"
    async with open_actor_system(
        "shop", dead_letter_store=SQLiteDeadLetterStore(db)
    ) as system:
        ref = await system.spawn(lambda: Picky([]), name="orders")
        for i in (1, 3, 4):
            await ref.tell(Order(i))
        await system.wait_until_idle()

    # a new system (a new process, as far as the store is concerned)
    Picky.healed = True
    done: list[int] = []
    async with open_actor_system(
        "shop", dead_letter_store=SQLiteDeadLetterStore(db)
    ) as system:
        letters = system.dead_letters.list()
        assert [x.message for x in letters] == [Order(1), Order(3)]
        assert isinstance(letters[0].error, ValueError)
        assert letters[0].recipient == "/shop/orders"
        await system.spawn(lambda: Picky(done), name="orders")
        assert await system.dead_letters.redeliver() == 2
        await system.wait_until_idle()
        assert done == [1, 3]

    async with open_actor_system(
        "shop", dead_letter_store=SQLiteDeadLetterStore(db)
    ) as system:
        assert system.dead_letters.list() == []


async def test_unpicklable_messages_are_stored_by_repr(tmp_path: Path) -> None:
    db = tmp_path / "dead.db"

    class Local:
        def __repr__(self) -> str:
            return "<Local>"

    store = SQLiteDeadLetterStore(db)
    async with open_actor_system("shop", dead_letter_store=store) as system:

        class Crash(Actor):
            async def receive(self, message: Any) -> Any:
                raise RuntimeError("no")

        ref = await system.spawn(Crash, name="c")
        await ref.tell(Local())
        await system.wait_until_idle()
        await system.dead_letters.flush()
    reloaded = SQLiteDeadLetterStore(db).load()
    assert [x.message for x in reloaded] == ["<Local>"]


async def test_redeliver_needs_a_system() -> None:
    from llmgine.actors import DeadLetters

    with pytest.raises(LLMgineError, match="running actor system"):
        await DeadLetters().redeliver()
