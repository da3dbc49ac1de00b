"""Circuit breakers: open after failures, fail fast, half-open trial, backoff."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError
from llmgine.actors import (
    Actor,
    AskTimeout,
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    DeadLetterReason,
    Failure,
    open_actor_system,
)


class Flaky(Actor):
    """Answers Failure while ``broken`` says so; the ask's reply otherwise."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    async def receive(self, message: Any) -> Any:
        if message == "hang":
            await trio.sleep_forever()
        if message == "slow":
            await self.state["gate"].wait()
        if self.state["broken"]:
            return Failure(ConnectionError("down"))
        return "ok"


async def test_failures_open_the_circuit_and_asks_fail_fast(
    autojump_clock: trio.testing.MockClock,
) -> None:
    state = {"broken": True}
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            lambda: Flaky(state),
            name="llm",
            breaker=CircuitBreaker(max_failures=3, reset_timeout=10.0),
        )
        for _ in range(3):
            with pytest.raises(ConnectionError):
                await ref.ask("call")
        assert ref.statistics().breaker is BreakerState.OPEN
        assert ref.statistics().breaker_trips == 1
        assert ref.statistics().restarts == 0  # Failure replies never restart
        with pytest.raises(CircuitOpenError):
            await ref.ask("call")
        await ref.tell("fire and forget")
        [letter] = system.dead_letters.list()
        assert letter.reason is DeadLetterReason.CIRCUIT_OPEN
        assert letter.message == "fire and forget"

        # after the reset timeout one trial passes; success closes the circuit
        await trio.sleep(10.0)
        state["broken"] = False
        assert await ref.ask("call") == "ok"
        assert ref.statistics().breaker is BreakerState.CLOSED
        assert system.statistics().lost == 0


async def test_a_failed_trial_reopens_with_doubled_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    state = {"broken": True}
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            lambda: Flaky(state),
            name="llm",
            breaker=CircuitBreaker(
                max_failures=1, reset_timeout=10.0, max_reset_timeout=25.0
            ),
        )
        with pytest.raises(ConnectionError):
            await ref.ask("call")
        await trio.sleep(10.0)
        with pytest.raises(ConnectionError):  # the trial fails
            await ref.ask("call")
        await trio.sleep(19.0)
        with pytest.raises(CircuitOpenError):  # 20 s now
            await ref.ask("call")
        await trio.sleep(1.0)
        with pytest.raises(ConnectionError):  # second trial fails: 25 s (capped)
            await ref.ask("call")
        await trio.sleep(24.5)
        with pytest.raises(CircuitOpenError):
            await ref.ask("call")
        await trio.sleep(0.5)
        state["broken"] = False
        assert await ref.ask("call") == "ok"


async def test_only_one_trial_passes_while_half_open(
    autojump_clock: trio.testing.MockClock,
) -> None:
    state: dict[str, Any] = {"broken": True, "gate": trio.Event()}
    async with open_actor_system("app", shutdown_timeout=0.1) as system:
        ref = await system.spawn(
            lambda: Flaky(state),
            name="llm",
            breaker=CircuitBreaker(max_failures=1, reset_timeout=5.0),
        )
        with pytest.raises(ConnectionError):
            await ref.ask("call")
        await trio.sleep(5.0)
        state["broken"] = False
        async with trio.open_nursery() as nursery:
            results: list[object] = []

            async def trial() -> None:
                results.append(await ref.ask("slow"))

            nursery.start_soon(trial)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(CircuitOpenError):
                await ref.ask("second caller")
            state["gate"].set()
        assert results == ["ok"]


async def test_asks_past_call_timeout_count_as_failures(
    autojump_clock: trio.testing.MockClock,
) -> None:
    state = {"broken": False}
    async with open_actor_system("app", shutdown_timeout=0.1) as system:
        ref = await system.spawn(
            lambda: Flaky(state),
            name="llm",
            breaker=CircuitBreaker(max_failures=1, reset_timeout=5.0, call_timeout=2.0),
        )
        start = trio.current_time()
        with pytest.raises(AskTimeout):
            await ref.ask("hang", timeout=60.0)
        assert trio.current_time() - start == pytest.approx(2.0)
        assert ref.statistics().breaker is BreakerState.OPEN


async def test_raising_counts_too_and_breaker_survives_restarts() -> None:
    class Crashy(Actor):
        async def receive(self, message: Any) -> Any:
            raise RuntimeError("crash")

    async with open_actor_system("app") as system:
        ref = await system.spawn(
            Crashy, name="c", breaker=CircuitBreaker(max_failures=2, reset_timeout=60)
        )
        for _ in range(2):
            with pytest.raises(RuntimeError):
                await ref.ask("x")
        with pytest.raises(CircuitOpenError):
            await ref.ask("x")
        await system.wait_until_idle()
        assert ref.statistics().restarts == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_failures": 0}, "'max_failures' must be a positive number"),
        ({"reset_timeout": -1}, "'reset_timeout' must be a positive number"),
        ({"call_timeout": 0}, "'call_timeout' must be a positive number"),
    ],
)
def test_breaker_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        CircuitBreaker(**kwargs)
