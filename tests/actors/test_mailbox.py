"""Mailboxes: capacity, overflow policies and priority lanes, as a sender sees them."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from llmgine._exceptions import ConfigurationError
from llmgine.actors import (
    Actor,
    ActorStopped,
    DeadLetterReason,
    Mailbox,
    MailboxFull,
    Overflow,
    Priority,
    open_actor_system,
)


class Gate(Actor):
    """Records messages; blocks on the first one until the gate opens."""

    def __init__(self, gate: trio.Event, seen: list[Any]) -> None:
        self.gate = gate
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        await self.gate.wait()
        self.seen.append(message)
        return message


async def _blocked_actor(
    system: Any, mailbox: Mailbox
) -> tuple[Any, trio.Event, list[Any]]:
    gate = trio.Event()
    seen: list[Any] = []
    ref = await system.spawn(lambda: Gate(gate, seen), name="gate", mailbox=mailbox)
    await ref.tell("first")  # taken by the actor, which now blocks on the gate
    await trio.testing.wait_all_tasks_blocked()
    return ref, gate, seen


@pytest.mark.parametrize("capacity", [0, -1, 1.5, True, "3"])
def test_capacity_must_be_a_positive_int(capacity: Any) -> None:
    with pytest.raises(ConfigurationError, match="'capacity' must be a positive int"):
        Mailbox(capacity=capacity)


def test_overflow_accepts_names_and_rejects_others() -> None:
    assert Mailbox(overflow="reject").overflow is Overflow.REJECT  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'overflow' must be one of"):
        Mailbox(overflow="explode")  # type: ignore[arg-type]


async def test_backpressure_tell_waits_until_there_is_room() -> None:
    async with open_actor_system("t") as system:
        ref, gate, seen = await _blocked_actor(system, Mailbox(capacity=2))
        await ref.tell(1)
        await ref.tell(2)
        sent = []

        async def sender() -> None:
            await ref.tell(3)
            sent.append(3)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            assert sent == []  # waiting: the mailbox is full
            with pytest.raises(MailboxFull):
                ref.tell_nowait(4)
            gate.set()
        await system.wait_until_idle()
        assert seen == ["first", 1, 2, 3]
        assert sent == [3]


async def test_reject_raises_and_the_message_is_not_accepted() -> None:
    async with open_actor_system("t") as system:
        ref, gate, seen = await _blocked_actor(
            system, Mailbox(capacity=1, overflow=Overflow.REJECT)
        )
        await ref.tell(1)
        with pytest.raises(MailboxFull):
            await ref.tell(2)
        stats = ref.statistics()
        assert stats.accepted == 2  # "first" and 1
        assert len(system.dead_letters) == 0
        gate.set()
        await system.wait_until_idle()
        assert seen == ["first", 1]


async def test_drop_newest_dead_letters_the_new_message() -> None:
    async with open_actor_system("t") as system:
        ref, gate, seen = await _blocked_actor(
            system, Mailbox(capacity=1, overflow=Overflow.DROP_NEWEST)
        )
        await ref.tell(1)
        await ref.tell(2)
        ref.tell_nowait(3)
        letters = system.dead_letters.list()
        assert [(x.message, x.reason) for x in letters] == [
            (2, DeadLetterReason.MAILBOX_FULL),
            (3, DeadLetterReason.MAILBOX_FULL),
        ]
        assert letters[0].recipient == "/t/gate"
        gate.set()
        await system.wait_until_idle()
        assert seen == ["first", 1]
        assert system.statistics().lost == 0


async def test_drop_oldest_makes_room_by_dropping_the_oldest() -> None:
    async with open_actor_system("t") as system:
        ref, gate, seen = await _blocked_actor(
            system, Mailbox(capacity=2, overflow=Overflow.DROP_OLDEST)
        )
        for n in (1, 2, 3, 4):
            await ref.tell(n)
        assert [x.message for x in system.dead_letters.list()] == [1, 2]
        assert {x.reason for x in system.dead_letters.list()} == {
            DeadLetterReason.DROPPED_OLDEST
        }
        gate.set()
        await system.wait_until_idle()
        assert seen == ["first", 3, 4]


async def test_drop_oldest_never_drops_a_more_urgent_message() -> None:
    async with open_actor_system("t") as system:
        ref, gate, seen = await _blocked_actor(
            system, Mailbox(capacity=1, overflow=Overflow.DROP_OLDEST)
        )
        await ref.tell("urgent", priority=Priority.HIGH)
        await ref.tell("low", priority=Priority.LOW)
        assert [x.message for x in system.dead_letters.list()] == ["low"]
        gate.set()
        await system.wait_until_idle()
        assert seen == ["first", "urgent"]


async def test_lanes_are_served_highest_first_and_fifo_within() -> None:
    async with open_actor_system("t") as system:
        ref, gate, seen = await _blocked_actor(system, Mailbox(capacity=10))
        await ref.tell("low1", priority=Priority.LOW)
        await ref.tell("n1")
        await ref.tell("high1", priority=Priority.HIGH)
        await ref.tell("n2")
        await ref.tell("sys", priority=Priority.SYSTEM)
        await ref.tell("high2", priority=Priority.HIGH)
        gate.set()
        await system.wait_until_idle()
        assert seen == ["first", "sys", "high1", "high2", "n1", "n2", "low1"]


async def test_system_lane_bypasses_capacity() -> None:
    async with open_actor_system("t") as system:
        ref, gate, _ = await _blocked_actor(
            system, Mailbox(capacity=1, overflow=Overflow.REJECT)
        )
        await ref.tell(1)
        ref.tell_nowait("control", priority=Priority.SYSTEM)
        assert ref.statistics().queued == 2
        gate.set()


async def test_a_sender_waiting_for_room_learns_the_actor_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_actor_system("t", shutdown_timeout=1.0) as system:
        ref, _gate, _ = await _blocked_actor(system, Mailbox(capacity=1))
        await ref.tell(1)
        outcome: list[BaseException] = []

        async def sender() -> None:
            with pytest.raises(ActorStopped) as info:
                await ref.tell(2)
            outcome.append(info.value)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            await ref.stop()  # the actor hangs: cancelled after the shutdown timeout
        assert len(outcome) == 1
        letters = [(x.message, x.reason) for x in system.dead_letters.list()]
        assert letters == [
            ("first", DeadLetterReason.ACTOR_STOPPED),
            (1, DeadLetterReason.ACTOR_STOPPED),
        ]
        with pytest.raises(ActorStopped):
            ref.tell_nowait(3)


@settings(max_examples=40, deadline=None)
@given(
    capacity=st.integers(1, 5),
    overflow=st.sampled_from(
        [
            Overflow.DROP_NEWEST,
            Overflow.DROP_OLDEST,
            Overflow.REJECT,
            Overflow.BACKPRESSURE,
        ]
    ),
    sends=st.lists(st.sampled_from(list(Priority)), max_size=30),
)
def test_every_accepted_message_is_processed_or_dead_lettered(
    capacity: int, overflow: Overflow, sends: list[Priority]
) -> None:
    """Model check: with the actor blocked, the mailbox obeys capacity and lanes,
    and once released, accepted == processed + dead_lettered with no loss."""

    async def scenario() -> None:
        async with open_actor_system("t") as system:
            ref, gate, seen = await _blocked_actor(
                system, Mailbox(capacity=capacity, overflow=overflow)
            )
            refused = 0
            for i, priority in enumerate(sends):
                try:
                    ref.tell_nowait((priority, i), priority=priority)
                except MailboxFull:
                    refused += 1
                stats = ref.statistics()
                bounded = stats.queued - sum(
                    1 for p, _ in _queued_items(ref) if p is Priority.SYSTEM
                )
                assert bounded <= capacity
            gate.set()
            await system.wait_until_idle()
            stats = ref.statistics()
            assert stats.accepted + refused == len(sends) + 1
            assert stats.accepted == stats.processed + stats.dead_lettered + stats.queued
            assert stats.queued == 0
            # within a lane, what was processed kept its order
            processed = [m for m in seen[1:]]
            for lane in Priority:
                order = [i for p, i in processed if p is lane]
                assert order == sorted(order)

    trio.run(scenario)


def _queued_items(ref: Any) -> list[Any]:
    return [item for lane in ref._queue.lanes for item in lane or ()]
