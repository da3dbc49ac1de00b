"""``ToolActor``: a registry's calls in a supervised actor, with limits."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import ActorStopped, ConfigurationError, MailboxFull, ToolError
from llmgine.actors import ActorSystem, Mailbox, Overflow, open_actor_system
from llmgine.llm import ToolCallPart, ToolResultPart
from llmgine.tools import ToolActor, ToolActorRef, ToolRegistry, spawn_tool_actor, tool


class Gauge:
    """Counts calls running at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.cancelled = 0

    async def hold(self, seconds: float) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await trio.sleep(seconds)
        except trio.Cancelled:
            self.cancelled += 1
            raise
        finally:
            self.now -= 1


def registry_for(gauge: Gauge) -> ToolRegistry:
    @tool
    async def slow(seconds: float) -> str:
        await gauge.hold(seconds)
        return "done"

    @tool
    async def other(seconds: float) -> str:
        await gauge.hold(seconds)
        return "other done"

    @tool(timeout=2)
    async def hang() -> str:
        await trio.sleep_forever()
        return "never"

    return ToolRegistry([slow, other, hang])


def call(name: str, id: str = "c", **arguments: object) -> ToolCallPart:
    return ToolCallPart(id=id, name=name, arguments=arguments)


@pytest.fixture
async def system() -> AsyncIterator[ActorSystem]:
    async with open_actor_system("test") as running:
        yield running


async def test_the_actor_looks_like_the_registry(system: ActorSystem) -> None:
    registry = registry_for(Gauge())
    tools = await spawn_tool_actor(system, registry)
    assert isinstance(tools, ToolActorRef)
    assert tools.specs() == registry.specs()
    assert repr(tools) == "<ToolActorRef /test/tools>"
    result = await tools.execute(call("slow", seconds=0))
    assert result.content == "done"
    unknown = await tools.execute(call("nope"))
    assert unknown.is_error
    assert unknown.content.startswith("unknown tool 'nope'")


async def test_calls_of_one_tool_respect_its_concurrency_limit(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    gauge = Gauge()
    tools = await spawn_tool_actor(system, registry_for(gauge), concurrency=2)
    start = trio.current_time()
    results = await tools.execute_all(
        [call("slow", id=str(i), seconds=1) for i in range(5)]
    )
    assert [r.call_id for r in results] == ["0", "1", "2", "3", "4"]
    assert all(r.content == "done" for r in results)
    assert gauge.peak == 2
    assert trio.current_time() - start == pytest.approx(3)


async def test_per_tool_limits_override_the_default(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    gauge = Gauge()
    tools = await spawn_tool_actor(
        system, registry_for(gauge), concurrency=1, limits={"other": 3}
    )
    await tools.execute_all([call("other", id=str(i), seconds=1) for i in range(3)])
    assert gauge.peak == 3
    gauge.peak = 0
    await tools.execute_all([call("slow", id=str(i), seconds=1) for i in range(3)])
    assert gauge.peak == 1


async def test_max_in_flight_bounds_all_calls_together(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    gauge = Gauge()
    tools = await spawn_tool_actor(
        system, registry_for(gauge), concurrency=10, max_in_flight=2
    )
    calls = [call("slow" if i % 2 else "other", id=str(i), seconds=1) for i in range(6)]
    results = await tools.execute_all(calls)
    assert len(results) == 6
    assert gauge.peak == 2


async def test_a_full_mailbox_pushes_back_on_callers(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    gauge = Gauge()
    tools = await spawn_tool_actor(
        system,
        registry_for(gauge),
        mailbox=Mailbox(capacity=1, overflow=Overflow.REJECT),
        max_in_flight=1,
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tools.execute, call("slow", id="running", seconds=5))
        await trio.testing.wait_all_tasks_blocked()
        # The actor is now waiting for a slot for this one...
        nursery.start_soon(tools.execute, call("slow", id="admitting", seconds=5))
        await trio.testing.wait_all_tasks_blocked()
        # ...this one waits in the mailbox...
        nursery.start_soon(tools.execute, call("slow", id="queued", seconds=5))
        await trio.testing.wait_all_tasks_blocked()
        # ...and there is no room for a fourth.
        with pytest.raises(MailboxFull):
            await tools.execute(call("slow", id="refused", seconds=5))
    assert gauge.peak == 1


async def test_a_hanging_tool_is_cancelled_at_its_timeout(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    tools = await spawn_tool_actor(system, registry_for(Gauge()))
    start = trio.current_time()
    result = await tools.execute(call("hang"))
    assert result.is_error
    assert result.content == "tool 'hang' timed out after 2 seconds"
    assert trio.current_time() - start == pytest.approx(2)


async def test_messages_other_than_tool_calls_are_refused_without_a_restart(
    system: ActorSystem,
) -> None:
    tools = await spawn_tool_actor(system, registry_for(Gauge()))
    with pytest.raises(ToolError, match="a ToolActor takes ToolCallPart messages"):
        await tools.ref.ask("hello")
    assert tools.ref.statistics().restarts == 0
    assert (await tools.execute(call("slow", seconds=0))).content == "done"


async def test_cancelling_the_caller_cancels_the_call_in_the_actor(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    gauge = Gauge()
    tools = await spawn_tool_actor(system, registry_for(gauge), max_in_flight=1)
    with trio.move_on_after(1):
        await tools.execute(call("slow", seconds=60))
    await trio.testing.wait_all_tasks_blocked()
    assert gauge.cancelled == 1
    assert gauge.now == 0
    # Its slot was given back: the next call is admitted.
    assert (await tools.execute(call("slow", seconds=0))).content == "done"


async def test_stopping_lets_calls_finish_within_the_grace_period(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    gauge = Gauge()
    tools = await spawn_tool_actor(system, registry_for(gauge), grace=5)
    results = []

    async def run(seconds: float) -> None:
        try:
            results.append((await tools.execute(call("slow", seconds=seconds))).content)
        except ActorStopped as exc:
            results.append(str(exc))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run, 2)
        nursery.start_soon(run, 60)
        await trio.testing.wait_all_tasks_blocked()
        await tools.ref.stop()
    assert results[0] == "done"
    assert results[1].startswith("/test/tools stopped before")
    assert gauge.cancelled == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "'concurrency' must be a positive int"),
        ({"max_in_flight": True}, "'max_in_flight' must be a positive int"),
        ({"limits": {"slow": -1}}, r"\"limits\['slow'\]\" must be a positive int"),
        ({"grace": -1}, "'grace' must be a number >= 0"),
    ],
)
async def test_bad_options_fail_at_spawn(
    system: ActorSystem, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        await spawn_tool_actor(system, registry_for(Gauge()), **options)


async def test_tool_actors_can_be_spawned_as_children(system: ActorSystem) -> None:
    supervisor = await system.spawn_supervisor("agents")
    tools = await spawn_tool_actor(supervisor, registry_for(Gauge()), name="weather")
    assert tools.ref.path == "/test/agents/weather"
    assert (await tools.execute(call("slow", seconds=0))).content == "done"


async def test_the_actor_can_be_spawned_by_hand(system: ActorSystem) -> None:
    registry = registry_for(Gauge())
    ref = await system.spawn(
        functools.partial(ToolActor, registry, concurrency=2), name="t"
    )
    tools = ToolActorRef(ref, registry.specs(), admit_timeout=5)
    assert (await tools.execute(call("slow", seconds=0))).content == "done"


async def test_a_bug_below_the_actor_reaches_the_asker_not_the_actor(
    system: ActorSystem,
) -> None:
    class BrokenRegistry(ToolRegistry):
        async def execute(self, call: ToolCallPart) -> ToolResultPart:
            raise RuntimeError("registry bug")

    tools = await spawn_tool_actor(system, BrokenRegistry(registry_for(Gauge())))
    for _ in range(2):
        with pytest.raises(RuntimeError, match="registry bug"):
            await tools.execute(call("slow", seconds=0))
    assert tools.ref.statistics().restarts == 0
