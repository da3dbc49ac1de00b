"""Handler actors: failures are dead-lettered, never restarts, never take the bus down."""

from __future__ import annotations

import trio
import trio.testing

from llmgine.actors import (
    ActorSystem,
    DeadLetterReason,
    OneForOne,
    RecordKind,
    open_actor_system,
)
from llmgine.bus import MessageBus

from .conftest import Add, Boom, Fail, Ping, RecordingSink


async def test_a_crashing_handler_loses_no_event(
    system: ActorSystem, bus: MessageBus
) -> None:
    handled: list[int] = []

    def handler(event: Ping) -> None:
        if event.n == 3:
            raise Boom("three")
        handled.append(event.n)

    ref = bus.register_event_handler(Ping, handler)
    for n in range(6):
        await bus.publish(Ping(n=n))
    await bus.wait_until_idle()
    assert handled == [0, 1, 2, 4, 5]  # the events behind the failed one were handled
    [letter] = system.dead_letters.list()
    assert letter.reason is DeadLetterReason.HANDLER_FAILED
    assert letter.message == Ping(
        n=3, id=letter.message.id, timestamp=letter.message.timestamp
    )
    assert isinstance(letter.error, Boom)
    assert letter.recipient == ref.path
    stats = ref.statistics()
    assert (stats.accepted, stats.processed, stats.failed, stats.dead_lettered) == (
        6,
        5,
        1,
        1,
    )
    assert stats.restarts == 0
    assert bus.statistics().event_failures == 1


async def test_failing_all_the_time_never_takes_the_bus_down() -> None:
    # The strictest intensity there is: a single restart would end the system.
    async with open_actor_system(
        "app", tracer=None, strategy=OneForOne(max_restarts=0, within=60.0)
    ) as system:
        bus = MessageBus(system)

        async def always_fails(event: Ping) -> None:
            raise Boom(str(event.n))

        bus.register_event_handler(Ping, always_fails)
        bus.register_command_handler(Fail, lambda c: (_ for _ in ()).throw(Boom("c")))
        bus.register_command_handler(Add, lambda c: c.a + c.b)
        for n in range(500):
            await bus.publish(Ping(n=n))
        for _ in range(50):
            assert (await bus.execute(Fail())).success is False
        await bus.wait_until_idle()
        assert (await bus.execute(Add(a=1, b=2))).result == 3
        stats = system.statistics()
        assert stats.restarts == 0
        assert stats.lost == 0
        assert stats.failed == 500
        assert system.dead_letters.by_reason[DeadLetterReason.HANDLER_FAILED] == 500
        assert stats.dead_lettered == system.dead_letters.count == 500


async def test_event_handler_failures_are_traced() -> None:
    sink = RecordingSink()
    async with open_actor_system("app", tracer=sink) as system:
        bus = MessageBus(system)
        bus.register_event_handler(Ping, lambda e: 1 / 0)
        await bus.publish(Ping())
        await bus.wait_until_idle()
        stats = system.statistics()  # traced messages travel in envelopes
        assert (stats.failed, stats.dead_lettered, stats.lost) == (1, 1, 0)
    [record] = [r for r in sink.records if r.kind is RecordKind.DEAD_LETTER]
    assert record.error_type == "ZeroDivisionError"
    assert record.attributes["llmgine.dead_letter.reason"] == "handler_failed"
    assert record.attributes["llmgine.message.type"] == "Ping"
    [publish] = [r for r in sink.records if r.kind is RecordKind.BUS_EVENT]
    assert record.trace_id == publish.trace_id


async def test_wait_until_idle_returns_only_when_every_handler_is_done(
    bus: MessageBus,
) -> None:
    gates = [trio.Event(), trio.Event()]
    done: list[int] = []

    def make(i: int):  # type: ignore[no-untyped-def]
        async def handler(event: Ping) -> None:
            await gates[i].wait()
            done.append(i)

        return handler

    bus.register_event_handler(Ping, make(0))
    bus.register_event_handler(Ping, make(1))
    await bus.publish(Ping())
    idle = trio.Event()

    async def waiter() -> None:
        await bus.wait_until_idle()
        idle.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        gates[1].set()
        await trio.testing.wait_all_tasks_blocked()
        assert done == [1]
        assert not idle.is_set()
        gates[0].set()
    assert idle.is_set()
    assert sorted(done) == [0, 1]


async def test_wait_until_idle_on_an_idle_bus_returns_at_once(bus: MessageBus) -> None:
    await bus.wait_until_idle()
    bus.register_event_handler(Ping, lambda e: None)
    await bus.wait_until_idle()


async def test_handlers_run_one_message_at_a_time(bus: MessageBus) -> None:
    running = 0
    most = 0

    async def handler(event: Ping) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await trio.lowlevel.checkpoint()
        running -= 1

    bus.register_event_handler(Ping, handler)
    for n in range(50):
        await bus.publish(Ping(n=n))
    await bus.wait_until_idle()
    assert most == 1
