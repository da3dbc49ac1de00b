"""Dead letters: listing, draining, redelivery, bounded memory, persistence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from llmgine._exceptions import ConfigurationError, LLMgineError, MailboxFull
from llmgine.actors import (
    Actor,
    DeadLetter,
    DeadLetterReason,
    DeadLetters,
    Mailbox,
    Overflow,
    SQLiteDeadLetterStore,
    StoredError,
    open_actor_system,
)

FULL = DeadLetterReason.MAILBOX_FULL


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


class Stuck(Actor):
    """Never finishes its first message, so its mailbox stays full."""

    async def receive(self, message: Any) -> Any:
        await trio.sleep_forever()


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
        assert system.dead_letters.statistics().redelivered == 2


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


async def test_redeliver_sends_only_letters_still_held() -> None:
    Picky.healed = True
    done: list[int] = []
    async with open_actor_system("shop") as system:
        await system.spawn(lambda: Picky(done), name="orders")
        office = system.dead_letters
        office.add(DeadLetter(message=Order(1), recipient="/shop/orders", reason=FULL))
        [letter] = await office.drain()
        # already taken out: sending it again would deliver it twice
        assert await office.redeliver([letter]) == 0
        await system.wait_until_idle()
        assert done == []


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
        # errors come back as text: their type name and message
        assert isinstance(letters[0].error, StoredError)
        assert letters[0].error.type == "ValueError"
        assert letters[0].error.message == "cannot handle 1"
        assert letters[0].recipient == "/shop/orders"
        assert system.dead_letters.statistics().loaded == 2
        await system.spawn(lambda: Picky(done), name="orders")
        assert await system.dead_letters.redeliver() == 2
        await system.wait_until_idle()
        assert done == [1, 3]

    async with open_actor_system(
        "shop", dead_letter_store=SQLiteDeadLetterStore(db)
    ) as system:
        assert system.dead_letters.list() == []


async def test_redeliver_needs_a_system() -> None:
    with pytest.raises(LLMgineError, match="running actor system"):
        await DeadLetters().redeliver()


# -- bounded memory ------------------------------------------------------------------


@pytest.mark.parametrize("capacity", [0, -1, True, 1.5, "10", None])
async def test_capacity_must_be_a_positive_int(capacity: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        async with open_actor_system("x", dead_letter_capacity=capacity):
            pass  # pragma: no cover
    assert str(info.value) == (
        f"'dead_letter_capacity' must be a positive int (got {capacity!r})"
    )
    with pytest.raises(ConfigurationError, match="must be a positive int"):
        DeadLetters(capacity=capacity)


async def test_a_flood_of_dropped_messages_holds_at_most_capacity(
    autojump_clock: Any,
) -> None:
    async with open_actor_system("flood", dead_letter_capacity=100) as system:
        ref = await system.spawn(
            Stuck,
            name="stuck",
            mailbox=Mailbox(capacity=1, overflow=Overflow.DROP_NEWEST),
        )
        ref.tell_nowait(0)
        await trio.testing.wait_all_tasks_blocked()
        ref.tell_nowait(1)  # fills the mailbox
        for n in range(2, 20_002):
            ref.tell_nowait(n)  # each one dropped
            assert len(system.dead_letters) <= 100
        office = system.dead_letters
        assert office.count == 20_000
        assert office.evicted == 19_900
        assert office.by_reason[DeadLetterReason.MAILBOX_FULL] == 20_000
        # the newest are the ones held
        assert [x.message for x in office.list()] == list(range(19_902, 20_002))
        assert system.statistics().dead_letters_held == 100
        stats = office.statistics()
        assert (stats.held, stats.capacity, stats.evicted) == (100, 100, 19_900)
        await ref.stop()


async def test_evicted_letters_are_still_stored(tmp_path: Path) -> None:
    db = tmp_path / "dead.db"
    async with open_actor_system(
        "shop", dead_letter_store=SQLiteDeadLetterStore(db), dead_letter_capacity=3
    ) as system:
        for n in range(10):
            system.dead_letters.add(
                DeadLetter(message=Order(n), recipient="/shop/x", reason=FULL)
            )
        assert len(system.dead_letters) == 3
    store = SQLiteDeadLetterStore(db)
    letters, last = store.load(100)
    store.close()
    assert [x.message for x in letters] == [Order(n) for n in range(10)]
    assert last == 10
    # the next start holds the newest ``capacity`` of them
    async with open_actor_system(
        "shop", dead_letter_store=SQLiteDeadLetterStore(db), dead_letter_capacity=4
    ) as system:
        assert [x.message for x in system.dead_letters.list()] == [
            Order(n) for n in range(6, 10)
        ]
        # new letters get ids past every stored one
        system.dead_letters.add(
            DeadLetter(message=Order(10), recipient="/shop/x", reason=FULL)
        )
        assert system.dead_letters.list()[-1].id == 11


class _Ref:
    """A recipient that refuses some messages, like a full mailbox."""

    def __init__(self, refuse: set[int]) -> None:
        self.refuse = refuse
        self.got: list[int] = []

    def tell_nowait(self, message: int) -> None:
        if message in self.refuse:
            raise MailboxFull("full")
        self.got.append(message)


class _System:
    def __init__(self, ref: _Ref) -> None:
        self.ref = ref

    def recipient(self, path: str) -> _Ref | None:
        return self.ref if path == "/s/a" else None


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 30), st.sampled_from(["/s/a", "/s/b"])),
        st.tuples(st.just("drain"), st.just(0), st.just("")),
        st.tuples(st.just("redeliver"), st.just(0), st.just("")),
        st.tuples(st.just("redeliver_some"), st.integers(0, 3), st.just("")),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 6), ops=_ops, refuse=st.sets(st.integers(0, 30)))
def test_every_letter_is_held_evicted_drained_or_redelivered(
    capacity: int, ops: list[tuple[str, int, str]], refuse: set[int]
) -> None:
    async def main() -> None:
        office = DeadLetters(capacity=capacity)
        ref = _Ref(refuse)
        office._system = _System(ref)  # type: ignore[assignment]
        drained = 0
        for op, n, recipient in ops:
            if op == "add":
                office.add(DeadLetter(message=n, recipient=recipient, reason=FULL))
            elif op == "drain":
                drained += len(await office.drain())
            elif op == "redeliver":
                await office.redeliver()
            else:
                await office.redeliver(office.list()[:n])
            stats = office.statistics()
            assert stats.held == len(office) <= capacity
            assert stats.count == stats.held + stats.evicted + drained + len(ref.got)
            assert stats.drained == drained
            assert stats.redelivered == len(ref.got)
            assert sum(office.by_reason.values()) == office.count
            # redelivered letters went to the actor at their path, once each
            assert all(m not in refuse for m in ref.got)

    trio.run(main)
