"""FaultInjector: seeded, counted, schedule-aware decisions per message."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError, LLMgineError
from llmgine.actors import Failure
from llmgine.testing import Fault, FaultInjector, FaultSchedule, InjectedFault


def decisions(injector: FaultInjector, n: int) -> list[Fault | None]:
    return [injector.decide(i) for i in range(n)]


def test_no_rates_no_faults() -> None:
    injector = FaultInjector()
    assert decisions(injector, 100) == [None] * 100
    stats = injector.statistics()
    assert stats.seen == 100
    assert stats.injected == 0


def test_same_seed_same_faults() -> None:
    one = FaultInjector(crash_rate=0.1, fail_rate=0.1, hang_rate=0.1, seed=42)
    two = FaultInjector(crash_rate=0.1, fail_rate=0.1, hang_rate=0.1, seed=42)
    other = FaultInjector(crash_rate=0.1, fail_rate=0.1, hang_rate=0.1, seed=43)
    first = decisions(one, 500)
    assert first == decisions(two, 500)
    assert first != decisions(other, 500)


def test_rates_are_roughly_honoured_and_counted() -> None:
    injector = FaultInjector(
        crash_rate=0.1, fail_rate=0.2, hang_rate=0.05, slow_rate=0.15, seed=1
    )
    made = decisions(injector, 20_000)
    stats = injector.statistics()
    assert stats.crashes == made.count(Fault.CRASH)
    assert stats.failures == made.count(Fault.FAIL)
    assert stats.hangs == made.count(Fault.HANG)
    assert stats.slowdowns == made.count(Fault.SLOW)
    assert stats.injected == 20_000 - made.count(None)
    assert 1700 < stats.crashes < 2300
    assert 3600 < stats.failures < 4400
    assert 800 < stats.hangs < 1200
    assert 2600 < stats.slowdowns < 3400


def test_rate_one_always_faults() -> None:
    injector = FaultInjector(slow_rate=1.0)
    assert decisions(injector, 50) == [Fault.SLOW] * 50


def test_chosen_messages_always_fault() -> None:
    injector = FaultInjector(
        crash_on=lambda m: m == 3, fail_on=lambda m: isinstance(m, int) and m > 7
    )
    made = decisions(injector, 10)
    assert (
        made == [None, None, None, Fault.CRASH, None, None, None, None] + [Fault.FAIL] * 2
    )


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"crash_rate": 1.5}, "'crash_rate' must be a number between 0 and 1 (got 1.5)"),
        ({"fail_rate": -0.1}, "'fail_rate' must be a number between 0 and 1"),
        ({"hang_rate": True}, "'hang_rate' must be a number between 0 and 1 (got True)"),
        ({"slow_rate": float("nan")}, "'slow_rate' must be a number between 0 and 1"),
        ({"delay": -1}, "'delay' must be a number >= 0 (got -1)"),
        ({"delay": "1"}, "'delay' must be a number >= 0 (got '1')"),
        ({"crash_rate": 0.6, "fail_rate": 0.6}, "must add up to at most 1 (got 1.2)"),
    ],
)
def test_validation_says_what_came(kwargs: dict[str, object], text: str) -> None:
    with pytest.raises(
        ConfigurationError, match=text.replace("(", r"\(").replace(")", r"\)")
    ):
        FaultInjector(**kwargs)  # type: ignore[arg-type]


async def test_schedule_gates_the_rates(autojump_clock: trio.testing.MockClock) -> None:
    schedule = FaultSchedule.between(1.0, 2.0)
    schedule.anchor()
    injector = FaultInjector(crash_rate=1.0, schedule=schedule)
    assert injector.decide("x") is None
    await trio.sleep(1.0)
    assert injector.decide("x") is Fault.CRASH
    await trio.sleep(1.0)
    assert injector.decide("x") is None
    assert injector.statistics().crashes == 1


async def test_intensity_scales_the_rates(autojump_clock: trio.testing.MockClock) -> None:
    schedule = FaultSchedule.between(0.0, 10.0, intensity=0.5)
    schedule.anchor()
    injector = FaultInjector(crash_rate=0.4, schedule=schedule, seed=3)
    made = decisions(injector, 10_000)
    assert 1700 < made.count(Fault.CRASH) < 2300


def test_chosen_messages_ignore_the_schedule() -> None:
    schedule = FaultSchedule.never()
    schedule.anchor(0.0)
    injector = FaultInjector(crash_on=lambda m: True, schedule=schedule)
    assert injector.decide("x") is Fault.CRASH


async def test_inject_crash_raises() -> None:
    injector = FaultInjector(crash_rate=1.0)
    with pytest.raises(InjectedFault, match="injected crash on str message") as info:
        await injector.inject("boom")
    assert info.value.fault is Fault.CRASH
    assert isinstance(info.value, LLMgineError)


async def test_inject_fail_answers_failure() -> None:
    injector = FaultInjector(fail_rate=1.0)
    failure = await injector.inject(1)
    assert isinstance(failure, Failure)
    assert isinstance(failure.error, InjectedFault)
    assert failure.error.fault is Fault.FAIL


async def test_custom_error() -> None:
    injector = FaultInjector(
        fail_rate=1.0,
        error=lambda fault, message: TimeoutError(f"{fault.value} {message}"),
    )
    failure = await injector.inject("m")
    assert isinstance(failure, Failure)
    assert isinstance(failure.error, TimeoutError)
    assert str(failure.error) == "fail m"


async def test_inject_slow_sleeps_delay(autojump_clock: trio.testing.MockClock) -> None:
    injector = FaultInjector(slow_rate=1.0, delay=2.5)
    start = trio.current_time()
    assert await injector.inject("m") is None
    assert trio.current_time() - start == pytest.approx(2.5)


async def test_inject_hang_waits_until_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    injector = FaultInjector(hang_rate=1.0)
    with trio.move_on_after(1000.0) as scope:
        await injector.inject("m")
    assert scope.cancelled_caught
    assert injector.statistics().hangs == 1


async def test_inject_nothing_returns_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    injector = FaultInjector()
    start = trio.current_time()
    assert await injector.inject("m") is None
    assert trio.current_time() == start
