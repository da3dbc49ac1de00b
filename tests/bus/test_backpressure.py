"""Bounded handler mailboxes: publish waits, publish_nowait refuses, overflow policies."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from llmgine.actors import (
    Actor,
    ActorSystem,
    DeadLetterReason,
    Mailbox,
    MailboxFull,
    Overflow,
    open_actor_system,
)
from llmgine.bus import MessageBus

from .conftest import Add, Ping, RecordingSink


def _gated(bus: MessageBus, capacity: int, overflow: Overflow = Overflow.BACKPRESSURE):
    """A slow handler: blocked on a trio.Event until the test opens the gate."""
    gate = trio.Event()
    seen: list[int] = []

    async def slow(event: Ping) -> None:
        await gate.wait()
        seen.append(event.n)

    bus.register_event_handler(
        Ping, slow, mailbox=Mailbox(capacity=capacity, overflow=overflow)
    )
    return gate, seen


async def test_a_slow_handler_makes_publish_wait(bus: MessageBus) -> None:
    gate, seen = _gated(bus, capacity=2)
    await bus.publish(Ping(n=0))
    await trio.testing.wait_all_tasks_blocked()  # the handler holds event 0
    await bus.publish(Ping(n=1))
    await bus.publish(Ping(n=2))  # the mailbox is full now
    published = trio.Event()

    async def publisher() -> None:
        await bus.publish(Ping(n=3))
        published.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(publisher)
        await trio.testing.wait_all_tasks_blocked()
        assert not published.is_set()  # waiting for room
        gate.set()
    await bus.wait_until_idle()
    assert seen == [0, 1, 2, 3]


async def test_publish_nowait_refuses_and_delivers_to_none(bus: MessageBus) -> None:
    fast: list[int] = []
    bus.register_event_handler(Ping, lambda e: fast.append(e.n))
    gate, seen = _gated(bus, capacity=1)
    bus.publish_nowait(Ping(n=0))
    await trio.testing.wait_all_tasks_blocked()
    bus.publish_nowait(Ping(n=1))  # fills the slow handler's mailbox
    with pytest.raises(MailboxFull, match="went to no handler"):
        bus.publish_nowait(Ping(n=2))
    gate.set()
    await bus.wait_until_idle()
    assert fast == [0, 1]  # the fast handler did not get event 2 either
    assert seen == [0, 1]
    stats = bus.statistics()
    assert (stats.events_published, stats.event_deliveries) == (2, 4)
    assert bus.system.dead_letters.count == 0  # refused at the door: not a dead letter


async def test_publish_nowait_counts_an_actor_registered_twice(
    system: ActorSystem, bus: MessageBus
) -> None:
    gate = trio.Event()

    class Slow(Actor):
        async def receive(self, message: Any) -> None:
            await gate.wait()

    ref = await system.spawn(Slow, name="slow", mailbox=Mailbox(capacity=2))
    bus.register_event_handler(Ping, ref)
    bus.register_event_handler(Ping, ref)  # a second registration: two deliveries
    bus.publish_nowait(Ping(n=0))
    await trio.testing.wait_all_tasks_blocked()  # one taken, one queued
    with pytest.raises(MailboxFull):
        bus.publish_nowait(Ping(n=1))  # one slot left, two needed
    assert ref.statistics().queued == 1
    gate.set()


async def test_drop_newest_dead_letters_the_new_event(
    system: ActorSystem, bus: MessageBus
) -> None:
    gate, seen = _gated(bus, capacity=1, overflow=Overflow.DROP_NEWEST)
    await bus.publish(Ping(n=0))
    await trio.testing.wait_all_tasks_blocked()
    await bus.publish(Ping(n=1))
    await bus.publish(Ping(n=2))  # dropped
    bus.publish_nowait(Ping(n=3))  # dropped too: never raises
    gate.set()
    await bus.wait_until_idle()
    assert seen == [0, 1]
    letters = system.dead_letters.list()
    assert [(letter.message.n, letter.reason) for letter in letters] == [
        (2, DeadLetterReason.MAILBOX_FULL),
        (3, DeadLetterReason.MAILBOX_FULL),
    ]


async def test_drop_oldest_dead_letters_the_oldest_queued_event(
    system: ActorSystem, bus: MessageBus
) -> None:
    gate, seen = _gated(bus, capacity=2, overflow=Overflow.DROP_OLDEST)
    await bus.publish(Ping(n=0))
    await trio.testing.wait_all_tasks_blocked()
    for n in (1, 2, 3):
        await bus.publish(Ping(n=n))
    gate.set()
    await bus.wait_until_idle()
    assert seen == [0, 2, 3]
    [letter] = system.dead_letters.list()
    assert (letter.message.n, letter.reason) == (1, DeadLetterReason.DROPPED_OLDEST)
    assert system.statistics().lost == 0


async def test_reject_raises_to_the_publisher(
    system: ActorSystem, bus: MessageBus
) -> None:
    gate, seen = _gated(bus, capacity=1, overflow=Overflow.REJECT)
    await bus.publish(Ping(n=0))
    await trio.testing.wait_all_tasks_blocked()
    await bus.publish(Ping(n=1))
    with pytest.raises(MailboxFull):
        await bus.publish(Ping(n=2))
    with pytest.raises(MailboxFull):
        bus.publish_nowait(Ping(n=3))
    gate.set()
    await bus.wait_until_idle()
    assert seen == [0, 1]
    assert system.dead_letters.count == 0


async def test_a_full_rejecting_command_mailbox_is_a_failed_result(
    bus: MessageBus,
) -> None:
    gate = trio.Event()

    async def slow(command: Add) -> int:
        await gate.wait()
        return command.a

    bus.register_command_handler(
        Add, slow, mailbox=Mailbox(capacity=1, overflow=Overflow.REJECT)
    )
    results = []

    async def execute(a: int) -> None:
        results.append(await bus.execute(Add(a=a, b=0)))

    async with trio.open_nursery() as nursery:
        for a in range(2):
            nursery.start_soon(execute, a)
            await trio.testing.wait_all_tasks_blocked()
        refused = await bus.execute(Add(a=9, b=0))
        gate.set()
    assert refused.success is False
    assert refused.error is not None
    assert refused.error.startswith("MailboxFull")
    assert sorted(r.result for r in results) == [0, 1]


@pytest.mark.parametrize("traced", [False, True])
async def test_publish_to_a_handler_stopped_while_waiting_skips_it(
    autojump_clock: trio.testing.MockClock, traced: bool
) -> None:
    sink = RecordingSink() if traced else None
    async with open_actor_system("app", tracer=sink) as system:
        bus = MessageBus(system)
        _, seen = _gated(bus, capacity=1)  # the gate never opens
        await bus.publish(Ping(n=0))
        await trio.testing.wait_all_tasks_blocked()
        await bus.publish(Ping(n=1))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bus.publish, Ping(n=2))  # waits for room
            await trio.testing.wait_all_tasks_blocked()
            # Drain for the shutdown timeout, then stop: the waiting publish ends
            # quietly, as if it had been published after the handler was removed.
            bus.unregister_event_handler(Ping)
        await bus.wait_until_idle()
        assert seen == []
        letters = system.dead_letters.list()
        assert sorted(letter.message.n for letter in letters) == [0, 1]
        assert {letter.reason for letter in letters} == {DeadLetterReason.ACTOR_STOPPED}
        assert bus.statistics().event_deliveries == 2
