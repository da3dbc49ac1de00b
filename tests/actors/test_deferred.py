"""Deferred replies and background work: one actor serving many slow requests."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from llmgine.actors import (
    Actor,
    ActorStopped,
    BreakerState,
    CircuitBreaker,
    Deferred,
    Failure,
    open_actor_system,
)


class Slow(Actor):
    """Answers each ask when the test releases it; many at once."""

    def __init__(self, gates: dict[str, trio.Event]) -> None:
        self.gates = gates

    async def receive(self, message: Any) -> Any:
        deferred = self.context.defer()
        self.context.start_soon(self._answer, message, deferred)
        return deferred

    async def _answer(self, message: str, deferred: Deferred) -> None:
        await self.gates.setdefault(message, trio.Event()).wait()
        if message.startswith("fail"):
            deferred.resolve(Failure(ValueError(message)))
        elif message.startswith("raise"):
            deferred.fail(KeyError(message))
        else:
            deferred.resolve(message.upper())
        deferred.resolve("ignored: already answered")


async def test_asks_are_answered_out_of_order_while_the_actor_goes_on() -> None:
    gates: dict[str, trio.Event] = {}
    answers: list[str] = []
    async with open_actor_system("app") as system:
        ref = await system.spawn(lambda: Slow(gates), name="slow")

        async def ask(text: str) -> None:
            answers.append(await ref.ask(text))

        async with trio.open_nursery() as nursery:
            for text in ("a", "b", "c"):
                nursery.start_soon(ask, text)
            await trio.testing.wait_all_tasks_blocked()
            stats = ref.statistics()  # all admitted, none answered yet
            assert (stats.processed, stats.in_flight) == (0, 3)
            for text in ("c", "a", "b"):
                gates[text].set()
                await trio.testing.wait_all_tasks_blocked()
    assert answers == ["C", "A", "B"]


async def test_deferred_failures_reach_the_asker_and_the_breaker() -> None:
    gates: dict[str, trio.Event] = {}
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            lambda: Slow(gates),
            name="slow",
            breaker=CircuitBreaker(max_failures=2, reset_timeout=60),
        )
        for text in ("fail-1", "raise-2"):
            gates[text] = trio.Event()
            gates[text].set()
        with pytest.raises(ValueError, match="fail-1"):
            await ref.ask("fail-1")
        with pytest.raises(KeyError, match="raise-2"):
            await ref.ask("raise-2")
        assert ref.statistics().breaker is BreakerState.OPEN
        assert ref.statistics().restarts == 0


async def test_an_unanswered_deferred_fails_with_actor_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    errors: list[BaseException] = []
    async with open_actor_system("app", shutdown_timeout=1.0) as system:
        ref = await system.spawn(lambda: Slow({}), name="slow")

        async def ask() -> None:
            with pytest.raises(ActorStopped) as info:
                await ref.ask("never")
            errors.append(info.value)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            await ref.stop()  # background work gets the timeout, then is cancelled
    assert len(errors) == 1
    assert system.statistics().lost == 0


async def test_background_work_outlives_the_message_and_its_errors_restart() -> None:
    ran: list[str] = []

    class Background(Actor):
        async def on_start(self) -> None:
            self.context.start_soon(self._tick, name="ticker")

        async def _tick(self) -> None:
            ran.append("tick")

        async def receive(self, message: Any) -> Any:
            if message == "boom":
                self.context.start_soon(self._boom)
            return "ok"

        async def _boom(self) -> None:
            raise RuntimeError("background failed")

    async with open_actor_system("app") as system:
        ref = await system.spawn(Background, name="bg")
        assert await ref.ask("boom") == "ok"
        await system.wait_until_idle()
        assert ref.statistics().restarts == 1
        assert ran == ["tick", "tick"]  # on_start ran again after the restart
