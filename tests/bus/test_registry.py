"""Registering and removing handlers; waiting for the bus to be idle."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError
from llmgine.actors import Actor, ActorSystem, Mailbox, open_actor_system
from llmgine.bus import CommandResult, DuplicateHandlerError, MessageBus, NoHandlerError

from .conftest import Add, Fail, Ping, Recorder


async def _append(results: list[CommandResult], call: Any) -> None:
    results.append(await call)


async def test_one_command_handler_per_type_and_session(bus: MessageBus) -> None:
    bus.register_command_handler(Add, lambda c: 1)
    with pytest.raises(DuplicateHandlerError, match="Add already has a handler"):
        bus.register_command_handler(Add, lambda c: 2)
    bus.register_command_handler(Add, lambda c: 3, session_id="s1")
    assert (await bus.execute(Add(a=0, b=0))).result == 1
    assert (await bus.execute(Add(a=0, b=0, session_id="s1"))).result == 3


async def test_unregistering_stops_delivery_and_the_actor(
    system: ActorSystem, bus: MessageBus
) -> None:
    seen: list[int] = []

    def handler(event: Ping) -> None:
        seen.append(event.n)

    other: list[int] = []
    ref = bus.register_event_handler(Ping, handler)
    bus.register_event_handler(Ping, lambda e: other.append(e.n))
    await bus.publish(Ping(n=1))
    bus.unregister_event_handler(Ping, handler)
    await bus.publish(Ping(n=2))
    await bus.wait_until_idle()
    await trio.testing.wait_all_tasks_blocked()
    assert seen == [1]  # what it had accepted, it handled
    assert other == [1, 2]
    assert system.lookup(ref.path) is None
    bus.unregister_event_handler(Ping)
    assert bus.statistics().event_handlers == 0
    with pytest.raises(NoHandlerError):
        bus.unregister_event_handler(Ping)
    bus.register_command_handler(Add, lambda c: 0)
    bus.register_command_handler(Fail, lambda c: 0)
    bus.unregister_command_handler(Add)
    bus.unregister_command_handler(Fail)
    with pytest.raises(NoHandlerError):
        bus.unregister_command_handler(Add)
    assert (await bus.execute(Add(a=1, b=1))).success is False


async def test_unregistering_after_the_system_stopped_is_harmless() -> None:
    async with open_actor_system("app", tracer=None) as system:
        bus = MessageBus(system)
        bus.register_event_handler(Ping, lambda e: None)
    bus.unregister_event_handler(Ping)
    assert bus.statistics().event_handlers == 0


async def test_wait_until_idle_waits_for_actor_ref_handlers(
    system: ActorSystem, bus: MessageBus, autojump_clock: trio.testing.MockClock
) -> None:
    done: list[int] = []

    class Slow(Actor):
        async def receive(self, message: Any) -> Any:
            await trio.sleep(0.01)
            done.append(message.n)

    ref = await system.spawn(Slow, name="slow")
    bus.register_event_handler(Ping, ref)
    for n in range(3):
        await bus.publish(Ping(n=n))
    await bus.wait_until_idle()
    assert done == [0, 1, 2]


async def test_wait_until_idle_waits_for_a_running_command(bus: MessageBus) -> None:
    gate = trio.Event()

    async def slow(command: Add) -> int:
        await gate.wait()
        return 1

    bus.register_command_handler(Add, slow)
    idle = trio.Event()

    async def waiter() -> None:
        await bus.wait_until_idle()
        idle.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(bus.execute, Add(a=1, b=1))
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(waiter)
        await trio.testing.wait_all_tasks_blocked()
        assert not idle.is_set()
        gate.set()
    assert idle.is_set()


async def test_wait_until_idle_waits_for_executes_on_actor_refs(
    system: ActorSystem, bus: MessageBus
) -> None:
    gate = trio.Event()

    class Gated(Actor):
        async def receive(self, message: Any) -> Any:
            await gate.wait()
            return "done"

    bus.register_command_handler(Add, await system.spawn(Gated, name="gated"))
    results: list[CommandResult] = []
    idle = False

    async def wait_idle() -> None:
        nonlocal idle
        await bus.wait_until_idle()
        idle = True

    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: _append(results, bus.execute(Add(a=1, b=1))))
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(wait_idle)
        await trio.testing.wait_all_tasks_blocked()
        assert not idle
        gate.set()
    assert idle
    assert results[0].result == "done"


async def test_an_actor_ref_handler_takes_no_mailbox(
    system: ActorSystem, bus: MessageBus
) -> None:
    ref = await system.spawn(lambda: Recorder([]), name="r")
    with pytest.raises(ConfigurationError, match="own actor's mailbox"):
        bus.register_event_handler(Ping, ref, mailbox=Mailbox(capacity=1))


async def test_registration_checks_its_arguments(bus: MessageBus) -> None:
    with pytest.raises(ConfigurationError, match="subclass of Command"):
        bus.register_command_handler(Ping, lambda c: None)  # type: ignore[type-var]
    with pytest.raises(ConfigurationError, match="subclass of Event"):
        bus.register_event_handler(int, lambda e: None)  # type: ignore[type-var]
    with pytest.raises(ConfigurationError, match="callable or an ActorRef"):
        bus.register_event_handler(Ping, "not a handler")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="must be a Mailbox"):
        bus.register_event_handler(Ping, print, mailbox=10)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="non-empty str"):
        bus.register_event_handler(Ping, print, session_id="")


async def test_two_buses_need_two_names(system: ActorSystem, bus: MessageBus) -> None:
    with pytest.raises(ConfigurationError, match="already has a child"):
        MessageBus(system)
    other = MessageBus(system, name="bus2")
    assert other.path == "/app/bus2"
    assert bus.path == "/app/bus"
    assert repr(other) == "<MessageBus /app/bus2>"


async def test_handler_actors_live_under_the_bus_supervisor(
    system: ActorSystem, bus: MessageBus
) -> None:
    def on_ping(event: Ping) -> None:
        pass

    ref = bus.register_event_handler(Ping, on_ping)
    assert ref.path.startswith("/app/bus/Ping-on_ping-")
    assert system.lookup(ref.path) is ref
    entry = bus._routes.events(Ping, "BUS")[0]
    assert "event handler Ping session='BUS'" in repr(entry)
