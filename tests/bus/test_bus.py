"""MessageBus as an app uses it: registering, executing, publishing, tracing."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError
from llmgine.actors import (
    ActorStopped,
    ActorSystem,
    Failure,
    Priority,
    RecordKind,
    open_actor_system,
)
from llmgine.bus import (
    Command,
    CommandResult,
    Event,
    MessageBus,
    NoHandlerError,
)

from .conftest import Add, Boom, Fail, LoudPing, Other, Ping, Recorder, RecordingSink


@attrs.frozen(kw_only=True)
class Unhandled(Command):
    pass


# -- execute -------------------------------------------------------------------
async def test_execute_returns_the_handler_value_as_a_result(bus: MessageBus) -> None:
    bus.register_command_handler(Add, lambda c: c.a + c.b)
    command = Add(a=2, b=3)
    result = await bus.execute(command)
    assert result == CommandResult(
        True, result=5, command_id=command.id, session_id="BUS"
    )


async def test_async_handlers_are_awaited(bus: MessageBus) -> None:
    async def add(command: Add) -> int:
        await trio.lowlevel.checkpoint()
        return command.a + command.b

    bus.register_command_handler(Add, add)
    assert (await bus.execute(Add(a=1, b=1))).result == 2


async def test_callable_objects_with_async_call_are_awaited(bus: MessageBus) -> None:
    seen: list[Event] = []

    class Handler:
        async def __call__(self, event: Ping) -> None:
            await trio.lowlevel.checkpoint()
            seen.append(event)

    bus.register_event_handler(Ping, Handler())
    await bus.publish(Ping(n=1))
    await bus.wait_until_idle()
    assert [e.n for e in seen] == [1]  # type: ignore[attr-defined]


async def test_a_handler_may_return_a_command_result_itself(bus: MessageBus) -> None:
    bus.register_command_handler(
        Add, lambda c: CommandResult(False, error="Nope: not today", metadata={"k": 1})
    )
    command = Add(a=1, b=2)
    result = await bus.execute(command)
    assert (result.success, result.error, result.metadata) == (
        False,
        "Nope: not today",
        {"k": 1},
    )
    assert (result.command_id, result.session_id) == (command.id, "BUS")
    assert bus.statistics().command_failures == 1
    bus.unregister_command_handler(Add)
    kept = CommandResult(True, command_id="mine", session_id="theirs")
    bus.register_command_handler(Add, lambda c: kept)
    assert await bus.execute(command) is kept


async def test_a_raising_handler_gives_a_failed_result(bus: MessageBus) -> None:
    def fail(command: Fail) -> None:
        raise Boom(command.reason)

    bus.register_command_handler(Fail, fail)
    bus.register_command_handler(Add, lambda c: c.a + c.b)
    result = await bus.execute(Fail(reason="disk on fire"))
    assert result.success is False
    assert result.error == "Boom: disk on fire"
    assert isinstance(result.exception, Boom)
    # The handler's actor is not broken: the next command works.
    assert (await bus.execute(Fail(reason="again"))).error == "Boom: again"
    assert (await bus.execute(Add(a=1, b=1))).result == 2
    stats = bus.system.statistics()
    assert stats.restarts == 0
    assert stats.lost == 0


async def test_no_handler_is_a_failed_result(bus: MessageBus) -> None:
    result = await bus.execute(Add(a=1, b=2))
    assert result.success is False
    assert result.error is not None
    assert result.error.startswith("NoHandlerError: ")
    assert "Add" in result.error
    assert isinstance(result.exception, NoHandlerError)


async def test_commands_go_to_the_most_specific_registered_class(bus: MessageBus) -> None:
    bus.register_command_handler(Command, lambda c: "any command")
    bus.register_command_handler(Add, lambda c: "add")
    assert (await bus.execute(Add(a=1, b=1))).result == "add"
    assert (await bus.execute(Fail())).result == "any command"


async def test_execute_timeout_is_a_failed_result(
    bus: MessageBus, autojump_clock: trio.testing.MockClock
) -> None:
    async def slow(command: Add) -> int:
        await trio.sleep(10)
        return 0

    bus.register_command_handler(Add, slow)
    result = await bus.execute(Add(a=1, b=1), timeout=1.0)
    assert result.success is False
    assert result.error is not None
    assert result.error.startswith("AskTimeout")


async def test_concurrent_executes_each_get_their_own_answer(bus: MessageBus) -> None:
    async def add(command: Add) -> int:
        await trio.lowlevel.checkpoint()
        return command.a + command.b

    bus.register_command_handler(Add, add)
    results: dict[int, CommandResult] = {}

    async def run(i: int) -> None:
        results[i] = await bus.execute(Add(a=i, b=i))

    async with trio.open_nursery() as nursery:
        for i in range(200):
            nursery.start_soon(run, i)
    assert {i: r.result for i, r in results.items()} == {i: 2 * i for i in range(200)}
    assert bus.statistics().commands_executed == 200


# -- publish -------------------------------------------------------------------
async def test_publish_reaches_sync_and_async_handlers(bus: MessageBus) -> None:
    seen: list[tuple[str, int]] = []

    def sync_handler(event: Ping) -> None:
        seen.append(("sync", event.n))

    async def async_handler(event: Ping) -> None:
        await trio.lowlevel.checkpoint()
        seen.append(("async", event.n))

    bus.register_event_handler(Ping, sync_handler)
    bus.register_event_handler(Ping, async_handler)
    for n in range(3):
        await bus.publish(Ping(n=n))
    await bus.wait_until_idle()
    assert sorted(seen) == sorted([(k, n) for k in ("sync", "async") for n in range(3)])
    stats = bus.statistics()
    assert (stats.events_published, stats.event_deliveries) == (3, 6)


async def test_event_handlers_match_base_classes(bus: MessageBus) -> None:
    seen: dict[str, list[str]] = {"event": [], "ping": [], "loud": []}
    bus.register_event_handler(Event, lambda e: seen["event"].append(type(e).__name__))
    bus.register_event_handler(Ping, lambda e: seen["ping"].append(type(e).__name__))
    bus.register_event_handler(LoudPing, lambda e: seen["loud"].append(type(e).__name__))
    for event in (Ping(), LoudPing(), Other()):
        await bus.publish(event)
    await bus.wait_until_idle()
    assert seen == {
        "event": ["Ping", "LoudPing", "Other"],
        "ping": ["Ping", "LoudPing"],
        "loud": ["LoudPing"],
    }


async def test_an_event_nobody_handles_goes_nowhere(bus: MessageBus) -> None:
    await bus.publish(Other())
    bus.publish_nowait(Other())
    assert bus.statistics().event_deliveries == 0


async def test_sync_handler_returning_a_coroutine_is_awaited(bus: MessageBus) -> None:
    seen: list[int] = []

    async def later(event: Ping) -> None:
        seen.append(event.n)

    bus.register_event_handler(Ping, lambda e: later(e))
    await bus.publish(Ping(n=7))
    await bus.wait_until_idle()
    assert seen == [7]


@pytest.mark.parametrize("traced", [False, True])
async def test_publish_after_the_system_stopped_raises(traced: bool) -> None:
    async with open_actor_system(
        "app", tracer=RecordingSink() if traced else None
    ) as system:
        bus = MessageBus(system)
        bus.register_event_handler(Ping, lambda e: None)
    with pytest.raises(ActorStopped):
        await bus.publish(Ping())
    with pytest.raises(ActorStopped):
        bus.publish_nowait(Ping())
    with pytest.raises(ConfigurationError, match="not running"):
        bus.register_event_handler(Ping, lambda e: None)


# -- actor refs as handlers ----------------------------------------------------
async def test_actor_refs_are_told_events_and_asked_commands(
    system: ActorSystem, bus: MessageBus
) -> None:
    seen: list[Any] = []
    ref = await system.spawn(lambda: Recorder(seen), name="recorder")
    assert bus.register_event_handler(Ping, ref) is ref
    bus.register_command_handler(Add, ref)
    bus.register_command_handler(Fail, ref)
    await bus.publish(Ping(n=1))
    assert (await bus.execute(Add(a=2, b=2))).result == 4
    failed = await bus.execute(Fail(reason="no"))
    assert failed.error == "Boom: no"
    await bus.wait_until_idle()
    await system.wait_until_idle()
    assert [type(m).__name__ for m in seen] == ["Ping", "Add", "Fail"]
    # A failure inside an actor is its supervisor's business: it was restarted.
    assert ref.statistics().restarts == 1


async def test_concurrent_executes_on_an_actor_ref(
    system: ActorSystem, bus: MessageBus
) -> None:
    bus.register_command_handler(Add, await system.spawn(lambda: Recorder([]), name="r"))
    results: list[CommandResult] = []
    async with trio.open_nursery() as nursery:
        for a in range(5):
            nursery.start_soon(_append, results, bus.execute(Add(a=a, b=1)))
    assert sorted(r.result for r in results) == [1, 2, 3, 4, 5]
    await bus.wait_until_idle()


async def _append(results: list[CommandResult], call: Any) -> None:
    results.append(await call)


# -- priorities ----------------------------------------------------------------
async def test_event_priority_picks_the_lane(bus: MessageBus) -> None:
    gate = trio.Event()
    seen: list[str] = []

    async def handler(event: Ping) -> None:
        await gate.wait()
        seen.append(f"{event.n}")

    bus.register_event_handler(Ping, handler)
    await bus.publish(Ping(n=0))  # occupies the handler
    await trio.testing.wait_all_tasks_blocked()
    await bus.publish(Ping(n=1, priority=Priority.LOW))
    await bus.publish(Ping(n=2))
    await bus.publish(Ping(n=3, priority=Priority.HIGH))
    gate.set()
    await bus.wait_until_idle()
    assert seen == ["0", "3", "2", "1"]


async def test_handler_priority_is_the_default_lane_and_delivery_order(
    bus: MessageBus,
) -> None:
    order: list[str] = []
    bus.register_event_handler(Ping, lambda e: order.append("low"), priority=Priority.LOW)
    bus.register_event_handler(Ping, lambda e: order.append("normal"))
    bus.register_event_handler(
        Ping, lambda e: order.append("high"), priority=Priority.HIGH
    )
    route = bus._routes.events(Ping, "BUS")
    assert [entry.lane for entry in route] == [
        Priority.HIGH,
        Priority.NORMAL,
        Priority.LOW,
    ]
    await bus.publish(Ping())
    await bus.wait_until_idle()
    assert sorted(order) == ["high", "low", "normal"]


async def test_command_priority_picks_the_lane(bus: MessageBus) -> None:
    gate = trio.Event()
    seen: list[str] = []

    async def handler(command: Add) -> None:
        await gate.wait()
        seen.append(f"{command.a}")

    bus.register_command_handler(Add, handler)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(bus.execute, Add(a=0, b=0))
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(bus.execute, Add(a=1, b=0, priority=Priority.LOW))
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(bus.execute, Add(a=2, b=0, priority=Priority.HIGH))
        await trio.testing.wait_all_tasks_blocked()
        gate.set()
    assert seen == ["0", "2", "1"]


@pytest.mark.parametrize("priority", [Priority.SYSTEM, 7, "high"])
async def test_the_system_lane_is_not_for_bus_messages(
    bus: MessageBus, priority: Any
) -> None:
    bus.register_event_handler(Ping, lambda e: None)
    with pytest.raises(ConfigurationError, match="HIGH, NORMAL or LOW"):
        await bus.publish(Ping(priority=priority))
    with pytest.raises(ConfigurationError, match="HIGH, NORMAL or LOW"):
        bus.publish_nowait(Ping(priority=priority))
    with pytest.raises(ConfigurationError, match="HIGH, NORMAL or LOW"):
        await bus.execute(Add(a=1, b=1, priority=priority))
    with pytest.raises(ConfigurationError, match="HIGH, NORMAL or LOW"):
        bus.register_event_handler(Ping, lambda e: None, priority=priority)


# -- registration errors -------------------------------------------------------
# -- tracing -------------------------------------------------------------------
async def test_execute_and_publish_are_traced_and_parent_the_handler_spans() -> None:
    sink = RecordingSink()
    async with open_actor_system("app", tracer=sink) as system:
        bus = MessageBus(system)
        bus.register_command_handler(Add, lambda c: c.a + c.b)
        bus.register_command_handler(Fail, lambda c: Failure(Boom("traced")))
        bus.register_event_handler(Ping, lambda e: None)
        assert (await bus.execute(Add(a=1, b=2))).result == 3
        assert (await bus.execute(Fail())).error == "Boom: traced"
        assert (await bus.execute(Unhandled())).success is False
        await bus.publish(Ping())
        bus.publish_nowait(Ping())
        await bus.wait_until_idle()
    commands = [r for r in sink.records if r.kind is RecordKind.BUS_COMMAND]
    assert [r.name for r in commands] == [
        "execute Add",
        "execute Fail",
        "execute Unhandled",
    ]
    assert commands[0].ok
    assert commands[0].attributes["llmgine.bus.success"] is True
    assert commands[1].error_type == "Boom"
    assert commands[2].error_type == "NoHandlerError"
    events = [r for r in sink.records if r.kind is RecordKind.BUS_EVENT]
    assert [r.name for r in events] == ["publish Ping", "publish Ping"]
    messages = [r for r in sink.records if r.kind is RecordKind.MESSAGE]
    parents = {r.parent_id for r in messages}
    assert {commands[0].span_id, events[0].span_id, events[1].span_id} <= parents


async def test_statistics_count_what_went_through(bus: MessageBus) -> None:
    bus.register_event_handler(Ping, lambda e: None)
    bus.register_command_handler(Add, lambda c: 0)
    await bus.publish(Ping())
    await bus.execute(Add(a=0, b=0))
    await bus.execute(Fail())
    stats = bus.statistics()
    assert (stats.command_handlers, stats.event_handlers, stats.sessions) == (1, 1, 0)
    assert (stats.commands_executed, stats.command_failures) == (2, 1)
    assert (stats.events_published, stats.event_deliveries, stats.event_failures) == (
        1,
        1,
        0,
    )


@pytest.mark.parametrize("value", ["not a command", None, Ping(), 42])
async def test_execute_refuses_what_is_not_a_command(bus: MessageBus, value: Any) -> None:
    with pytest.raises(ConfigurationError, match="expected a Command"):
        await bus.execute(value)


@pytest.mark.parametrize("value", ["not an event", None, Add(a=1, b=2)])
async def test_publish_refuses_what_is_not_an_event(bus: MessageBus, value: Any) -> None:
    with pytest.raises(ConfigurationError, match="expected an Event"):
        await bus.publish(value)
    with pytest.raises(ConfigurationError, match="expected an Event"):
        bus.publish_nowait(value)


async def test_an_odd_session_id_is_a_typed_error(bus: MessageBus) -> None:
    bus.register_command_handler(Add, lambda c: c.a + c.b)
    result = await bus.execute(Add(a=1, b=2, session_id=["s"]))  # type: ignore[arg-type]
    assert not result.success
    assert result.error == "ConfigurationError: 'session_id' must be a str (got list)"
    with pytest.raises(ConfigurationError, match="'session_id' must be a str"):
        await bus.publish(Ping(session_id={"s": 1}))  # type: ignore[arg-type]


async def test_a_session_refuses_what_is_not_a_message(bus: MessageBus) -> None:
    async with bus.session() as session:
        with pytest.raises(ConfigurationError, match="expected a Command or an Event"):
            await session.execute("nope")  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="expected a Command or an Event"):
            await session.publish(None)  # type: ignore[arg-type]


def test_a_message_with_odd_metadata_can_still_be_shown() -> None:
    assert "metadata=None" in repr(Ping(metadata=None))  # type: ignore[arg-type]
