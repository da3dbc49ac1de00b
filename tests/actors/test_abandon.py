"""Abandoned asks cancel their work; told failures are letters; spawn fails at once."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import ProviderUnavailable
from llmgine.actors import (
    Actor,
    AskTimeout,
    CircuitBreaker,
    DeadLetterReason,
    Deferred,
    Failure,
    OneForOne,
    open_actor_system,
)
from llmgine.llm import LLMRequest, Message, ProviderActor, ScriptedProvider


class Slow(Actor):
    """Sleeps on "slow" (recording whether it was cancelled), echoes the rest."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self) -> None:
        self.log.append("start")

    async def receive(self, message: Any) -> Any:
        if message == "slow":
            try:
                await trio.sleep(5)
            except trio.Cancelled:
                self.log.append("cancelled")
                raise
            self.log.append("finished")
        if message == "shielded":
            with trio.CancelScope(shield=True):
                await trio.sleep(5)
            self.log.append("finished")
        return message


async def test_an_ask_timeout_cancels_the_handler_not_the_actor(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with open_actor_system("app") as system:
        ref = await system.spawn(lambda: Slow(log), name="slow")
        with pytest.raises(AskTimeout, match=r"did not answer within 0\.1s"):
            await ref.ask("slow", timeout=0.1)
        await system.wait_until_idle()
        assert log == ["start", "cancelled"]
        assert await ref.ask("next", timeout=1) == "next"
        stats = ref.statistics()
    assert (stats.processed, stats.cancelled, stats.failed, stats.restarts) == (
        2,
        1,
        0,
        0,
    )
    assert stats.accepted == stats.processed + stats.dead_lettered + stats.queued


async def test_a_cancelled_asker_cancels_the_handler(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with open_actor_system("app") as system:
        ref = await system.spawn(lambda: Slow(log), name="slow")
        with trio.move_on_after(0.1):
            await ref.ask("slow")
        await system.wait_until_idle()
        assert log == ["start", "cancelled"]
        assert ref.statistics().cancelled == 1
        assert await ref.ask("again") == "again"


async def test_an_ask_abandoned_while_queued_is_never_handled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with open_actor_system("app") as system:
        ref = await system.spawn(lambda: Slow(log), name="slow")
        await ref.tell("shielded")  # keeps the actor busy for 5 s
        with pytest.raises(AskTimeout):
            await ref.ask("slow", timeout=1)
        await system.wait_until_idle()
        stats = ref.statistics()
    assert log == ["start", "finished"]  # "slow" never ran
    assert (stats.processed, stats.cancelled) == (2, 1)


async def test_a_handler_that_shields_its_work_finishes_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with open_actor_system("app") as system:
        ref = await system.spawn(lambda: Slow(log), name="slow")
        with pytest.raises(AskTimeout):
            await ref.ask("shielded", timeout=1)
        await system.wait_until_idle()
        stats = ref.statistics()
    assert log == ["start", "finished"]
    assert (stats.processed, stats.cancelled) == (1, 0)


class Deferring(Actor):
    """Answers later from background work; records what happened to it."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def receive(self, message: Any) -> Any:
        deferred = self.context.defer()
        self.context.start_soon(self._work, message, deferred)
        return deferred

    async def _work(self, message: Any, deferred: Deferred) -> None:
        try:
            await trio.sleep(message)
        except trio.Cancelled:
            self.log.append("cancelled")
            raise
        deferred.resolve(message)


async def test_abandoning_an_ask_cancels_the_work_deferred_for_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with open_actor_system("app") as system:
        ref = await system.spawn(lambda: Deferring(log), name="d")
        with pytest.raises(AskTimeout):
            await ref.ask(10, timeout=1)
        assert await ref.ask(0.5, timeout=1) == 0.5
        await system.wait_until_idle()
        stats = ref.statistics()
    assert log == ["cancelled"]
    assert (stats.processed, stats.cancelled, stats.in_flight) == (2, 1, 0)


async def test_a_deferred_cancel_scope_is_cancelled_with_its_ask(
    autojump_clock: trio.testing.MockClock,
) -> None:
    scopes: list[trio.CancelScope] = []

    class Manual(Actor):
        async def receive(self, message: Any) -> Any:
            deferred = self.context.defer()
            scopes.append(deferred.cancel_scope())
            return deferred

    async with open_actor_system("app") as system:
        ref = await system.spawn(Manual, name="m")
        with pytest.raises(AskTimeout):
            await ref.ask("x", timeout=1)
        assert scopes[0].cancel_called
        await ref.stop()


class Failing(Actor):
    """Answers every message, asked or told, with a Failure through a Deferred."""

    async def receive(self, message: Any) -> Any:
        deferred = self.context.defer()
        self.context.start_soon(self._fail, deferred)
        return deferred

    async def _fail(self, deferred: Deferred) -> None:
        await trio.lowlevel.checkpoint()
        deferred.resolve(Failure(ValueError("no")))


async def test_a_told_message_whose_deferred_reply_fails_is_a_dead_letter() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Failing, name="f")
        await ref.tell("x")
        with pytest.raises(ValueError, match="no"):
            await ref.ask("y")
        await system.wait_until_idle()
        stats = ref.statistics()
        letters = system.dead_letters.list()
    assert (stats.accepted, stats.processed, stats.failed, stats.dead_lettered) == (
        2,
        1,
        1,
        1,
    )
    assert [(x.message, x.reason) for x in letters] == [
        ("x", DeadLetterReason.HANDLER_FAILED)
    ]
    assert isinstance(letters[0].error, ValueError)


async def test_a_provider_actor_told_a_failing_request_files_a_dead_letter() -> None:
    provider = ScriptedProvider([ProviderUnavailable("down")])
    request = LLMRequest(model="m", messages=[Message.user("hi")])
    async with open_actor_system("app") as system:
        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        await ref.tell(request)
        await system.wait_until_idle()
        stats = ref.statistics()
        letters = system.dead_letters.list()
    assert (stats.accepted, stats.processed, stats.failed, stats.dead_lettered) == (
        1,
        0,
        1,
        1,
    )
    assert letters[0].message is request
    assert letters[0].reason is DeadLetterReason.HANDLER_FAILED


async def test_an_abandoned_provider_call_is_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    finished: list[str] = []

    async def slow(request: LLMRequest) -> str:
        await trio.sleep(5)
        finished.append("call")
        return "late"

    provider = ScriptedProvider([slow, "second"])
    request = LLMRequest(model="m", messages=[Message.user("hi")])
    async with open_actor_system("app") as system:
        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        with pytest.raises(AskTimeout):
            await ref.ask(request, timeout=0.1)
        assert (await ref.ask(request, timeout=1)).text == "second"
        await system.wait_until_idle()
        stats = ref.statistics()
    assert finished == []
    assert (stats.cancelled, stats.restarts) == (1, 0)


class BrokenStart(Actor):
    async def on_start(self) -> None:
        raise RuntimeError("cannot start")


async def test_spawn_raises_the_first_starts_error_and_restarts_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with open_actor_system("app", strategy=OneForOne(max_restarts=0)) as system:
        other = await system.spawn(lambda: Slow(log), name="other")
        with pytest.raises(RuntimeError, match="cannot start"):
            await system.spawn(BrokenStart, name="broken")
        with pytest.raises(TypeError):
            await system.spawn(ProviderActor, name="llm")  # type: ignore[arg-type]
        assert system.lookup("/app/broken") is None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ref_ask, other, "slow")
            await trio.sleep(10)
        assert system.statistics().restarts == 0
    assert log == ["start", "finished"]


async def ref_ask(ref: Any, message: Any) -> None:
    assert await ref.ask(message) == message


async def test_spawn_nowait_runs_the_factory_at_once() -> None:
    async with open_actor_system("app") as system:
        with pytest.raises(TypeError):
            system.spawn_nowait(ProviderActor, name="llm")


async def test_a_breaker_call_timeout_counts_an_expired_ask_as_a_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            lambda: Slow(log),
            name="slow",
            breaker=CircuitBreaker(max_failures=1, call_timeout=0.5),
        )
        with pytest.raises(AskTimeout):
            await ref.ask("slow", timeout=10)
        assert ref.statistics().breaker_trips == 1


async def test_answered_asks_do_not_pile_up_in_the_deadline_heap() -> None:
    log: list[str] = []
    async with open_actor_system("app") as system:
        ref = await system.spawn(lambda: Slow(log), name="echo")
        for i in range(5000):
            assert await ref.ask(i, timeout=60) == i
        assert len(system.timer) <= 2048
