"""FaultyActor and faulty(): misbehaving actors inside a real actor system."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import trio
import trio.testing

from llmgine.actors import (
    Actor,
    DeadLetterReason,
    OneForOne,
    SupervisionError,
    open_actor_system,
)
from llmgine.testing import (
    Fault,
    FaultInjector,
    FaultSchedule,
    FaultyActor,
    FaultyFactory,
    InjectedFault,
    faulty,
)


class Counter(Actor):
    """A small stateful actor with hooks that leave traces."""

    log: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self.n = 0

    async def on_start(self) -> None:
        self.log.append(f"start {self.context.path}")

    async def on_stop(self) -> None:
        self.log.append("stop")

    async def receive(self, message: Any) -> Any:
        self.n += 1
        return self.n


@pytest.fixture(autouse=True)
def _clear_log() -> None:
    Counter.log = []


async def test_echoes_without_inner(autojump_clock: trio.testing.MockClock) -> None:
    async with open_actor_system("t") as system:
        ref = await system.spawn(faulty(), name="echo")
        assert await ref.ask("hello") == "hello"


async def test_wraps_inner_actor_with_its_hooks_and_context(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_actor_system("t") as system:
        ref = await system.spawn(faulty(Counter), name="c")
        assert await ref.ask("a") == 1
        assert await ref.ask("b") == 2
        await ref.stop()
    assert Counter.log == ["start /t/c", "stop"]


async def test_crash_restarts_and_keeps_the_injector(
    autojump_clock: trio.testing.MockClock,
) -> None:
    factory = faulty(Counter, crash_on=lambda m: m == "boom")
    async with open_actor_system("t") as system:
        ref = await system.spawn(factory, name="c")
        assert await ref.ask("a") == 1
        with pytest.raises(InjectedFault):
            await ref.ask("boom")
        assert await ref.ask("b") == 1  # a fresh Counter after the restart
        stats = ref.statistics()
        assert stats.restarts == 1
        assert stats.failed == 1
        letters = system.dead_letters.list()
        assert [x.message for x in letters] == ["boom"]
        assert letters[0].reason is DeadLetterReason.HANDLER_FAILED
        assert isinstance(letters[0].error, InjectedFault)
    assert factory.injector.statistics().seen == 3
    assert factory.injector.statistics().crashes == 1


async def test_restart_continues_the_random_sequence(
    autojump_clock: trio.testing.MockClock,
) -> None:
    reference = FaultInjector(crash_rate=0.2, seed=5)
    expected = [reference.decide(i) for i in range(200)]
    factory = faulty(crash_rate=0.2, seed=5)
    got: list[Fault | None] = []
    async with open_actor_system("t", strategy=OneForOne(max_restarts=1000)) as system:
        ref = await system.spawn(factory, name="c")
        for i in range(200):
            try:
                await ref.ask(i)
            except InjectedFault:
                got.append(Fault.CRASH)
            else:
                got.append(None)
        assert ref.statistics().restarts == expected.count(Fault.CRASH)
    assert got == expected


async def test_fail_answers_without_restart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_actor_system("t") as system:
        ref = await system.spawn(faulty(Counter, fail_on=lambda m: m == 2), name="c")
        assert await ref.ask(1) == 1
        with pytest.raises(InjectedFault, match="injected fail"):
            await ref.ask(2)
        assert await ref.ask(3) == 2  # same instance: state kept
        stats = ref.statistics()
        assert (stats.restarts, stats.failed, stats.processed) == (0, 0, 3)


async def test_slow_down_follows_the_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_actor_system("t") as system:
        ref = await system.spawn(faulty(slow_rate=1.0, delay=0.5), name="slow")
        start = trio.current_time()
        for i in range(4):
            await ref.tell(i)
        await system.wait_until_idle()
        assert trio.current_time() - start == pytest.approx(2.0)
        assert ref.statistics().processed == 4


async def test_hang_is_cancelled_on_stop(autojump_clock: trio.testing.MockClock) -> None:
    async with open_actor_system("t", shutdown_timeout=3.0) as system:
        ref = await system.spawn(faulty(hang_rate=1.0), name="stuck")
        await ref.tell("a")
        await ref.tell("b")
        await trio.testing.wait_all_tasks_blocked()
        assert ref.statistics().queued == 1
        start = trio.current_time()
        await ref.stop()
        assert trio.current_time() - start == pytest.approx(3.0)
        stats = system.statistics()
        assert stats.lost == 0
        assert system.dead_letters.by_reason[DeadLetterReason.ACTOR_STOPPED] == 2


async def test_crashes_exhaust_intensity(autojump_clock: trio.testing.MockClock) -> None:
    async def crash_five_times() -> None:
        async with open_actor_system("t", strategy=OneForOne(max_restarts=2)) as system:
            ref = await system.spawn(faulty(crash_rate=1.0), name="c")
            for i in range(5):
                await ref.tell(i)
            await trio.sleep_forever()

    with pytest.raises(SupervisionError):
        await crash_five_times()


async def test_schedule_turns_crashes_on_and_off(
    autojump_clock: trio.testing.MockClock,
) -> None:
    schedule = FaultSchedule.between(1.0, 2.0)
    factory = faulty(Counter, crash_rate=1.0, schedule=schedule)
    async with open_actor_system("t", strategy=OneForOne(max_restarts=100)) as system:
        schedule.anchor()
        ref = await system.spawn(factory, name="c")
        assert await ref.ask("before") == 1
        await trio.sleep(1.5)
        with pytest.raises(InjectedFault):
            await ref.ask("during")
        await trio.sleep(1.0)
        assert await ref.ask("after") == 1
    assert factory.injector.statistics().crashes == 1


def test_factory_makes_fresh_inner_actors() -> None:
    factory = faulty(Counter)
    assert isinstance(factory, FaultyFactory)
    one, two = factory(), factory()
    assert isinstance(one, FaultyActor)
    assert one.inner is not two.inner
    assert one.injector is two.injector


async def test_custom_error_reaches_the_asker(
    autojump_clock: trio.testing.MockClock,
) -> None:
    factory = faulty(fail_rate=1.0, error=lambda fault, message: KeyError(message))
    async with open_actor_system("t") as system:
        ref = await system.spawn(factory, name="e")
        with pytest.raises(KeyError):
            await ref.ask("k")
