"""Cancelling a turn leaves the conversation as it was.

A turn lands whole or not at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from llmgine._exceptions import ActorStopped, AskTimeout
from llmgine.actors import ActorSystem
from llmgine.engines import (
    ChatEngine,
    ChatResult,
    Conversation,
    GetHistory,
    SQLiteConversationStore,
    UserInput,
)
from llmgine.llm import LLMRequest, Message, ScriptedProvider
from llmgine.tools import ToolRegistry, tool

from .conftest import answer, call, calls, registry, roles, spawn_chat


class Gate:
    """A tool that blocks until released (or forever)."""

    def __init__(self) -> None:
        self.entered = trio.Event()
        self.release = trio.Event()
        self.cancelled = False

    def registry(self) -> ToolRegistry:
        @tool
        async def wait() -> str:
            """Block until the test releases the gate."""
            self.entered.set()
            try:
                await self.release.wait()
            except trio.Cancelled:
                self.cancelled = True
                raise
            return "released"

        return ToolRegistry([wait])


async def test_halting_the_engine_mid_turn_rolls_the_turn_back(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    gate = Gate()
    conversation = Conversation()
    provider = ScriptedProvider([answer("first"), calls(call("c1", "wait")), "never"])
    engine = await spawn_chat(
        system, provider=provider, tools=gate.registry(), conversation=conversation
    )
    await engine.ask(UserInput("one"))
    before = conversation.messages

    async def ask() -> None:
        with pytest.raises(ActorStopped):
            await engine.ask(UserInput("two"))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ask)
        await gate.entered.wait()
        await engine.stop()  # graceful for shutdown_timeout, then cancelled
    assert gate.cancelled
    assert conversation.messages == before
    assert roles(before) == ["user", "assistant"]
    [letter] = system.dead_letters.list()
    assert letter.message == UserInput("two")


async def test_turn_timeout_cancels_and_rolls_back(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    gate = Gate()
    provider = ScriptedProvider([calls(call("c1", "wait")), answer("later")])
    engine = await spawn_chat(
        system, provider=provider, tools=gate.registry(), turn_timeout=10
    )
    with pytest.raises(AskTimeout, match="did not finish within 10s"):
        await engine.ask(UserInput("slow"))
    assert gate.cancelled
    assert await engine.ask(GetHistory()) == ()
    assert engine.statistics().restarts == 0
    # the engine is ready for the next turn
    result = await engine.ask(UserInput("again"))
    assert result.text == "later"
    assert result.messages == (Message.user("again"), Message.assistant("later"))


async def test_an_abandoned_ask_cancels_the_turn_and_keeps_nothing(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    # When the asker gives up, the engine's handling of the turn is cancelled:
    # the tool call is cancelled and nothing of the turn is kept, so asking
    # again makes one turn, not two.
    gate = Gate()
    provider = ScriptedProvider([calls(call("c1", "wait")), answer("done")])
    engine = await spawn_chat(system, provider=provider, tools=gate.registry())
    with pytest.raises(AskTimeout):
        await engine.ask(UserInput("slow"), timeout=1)
    history = await engine.ask(GetHistory())
    assert roles(history) == []
    assert gate.cancelled
    assert engine.statistics().cancelled == 1
    assert engine.statistics().restarts == 0


async def test_an_abandoned_ask_cancels_the_provider_call(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    finished = 0

    async def slow(request: LLMRequest) -> str:
        nonlocal finished
        await trio.sleep(5)
        finished += 1
        return "late"

    provider = ScriptedProvider([slow, answer("again")])
    engine = await spawn_chat(system, provider=provider)
    with pytest.raises(AskTimeout):
        await engine.ask(UserInput("slow"), timeout=0.1)
    await trio.sleep(10)  # long past the provider's 5 s
    assert finished == 0
    assert await engine.ask(GetHistory()) == ()
    assert engine.statistics().restarts == 0
    result = await engine.ask(UserInput("slow"))
    assert result.text == "again"
    assert len(provider.requests) == 2
    assert await engine.ask(GetHistory()) == (
        Message.user("slow"),
        Message.assistant("again"),
    )


async def test_cancelling_a_caller_of_receive_appends_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = Gate()
    engine = ChatEngine(
        ScriptedProvider([calls(call("c1", "wait"))]), model="m", tools=gate.registry()
    )
    with trio.move_on_after(5):
        await engine.receive(UserInput("hi"))
    assert gate.cancelled
    assert engine.conversation.messages == ()


class Waiting:
    """A scripted reply that waits until the test cancels it."""

    def __init__(self) -> None:
        self.entered = trio.Event()
        self.finished = 0

    async def __call__(self, request: LLMRequest) -> str:
        self.entered.set()
        await trio.sleep_forever()
        raise AssertionError("never reached")  # pragma: no cover


async def _cancel_mid_turn(engine: ChatEngine, text: str, waiting: Waiting) -> None:
    scope = trio.CancelScope()

    async def turn() -> None:
        with scope:
            await engine.receive(UserInput(text))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(turn)
        await waiting.entered.wait()
        scope.cancel()
    assert scope.cancelled_caught


@pytest.mark.parametrize("at_step", [1, 2, 3])
async def test_a_cancelled_turn_leaves_nothing_and_a_retry_makes_one_turn(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, at_step: int
) -> None:
    store = SQLiteConversationStore(tmp_path / "chat.db")
    conversation = Conversation("c", store=store)
    waiting = Waiting()
    # earlier steps finish (partial replies and tool results), then one waits
    earlier = [calls(call(f"c{i}", "add", a=i, b=1)) for i in range(1, at_step)]
    provider = ScriptedProvider([answer("first"), *earlier, waiting])
    engine = ChatEngine(provider, model="m", tools=registry(), conversation=conversation)
    await engine.on_start()
    await engine.receive(UserInput("one"))
    kept = conversation.messages

    await _cancel_mid_turn(engine, "two", waiting)
    assert len(provider.requests) == 1 + at_step
    assert conversation.messages == kept
    assert await store.load("c") == list(kept)

    provider.add(answer("done"))
    result = await engine.receive(UserInput("two"))
    assert isinstance(result, ChatResult)
    assert len(provider.requests) == 2 + at_step
    assert result.steps == 1
    assert conversation.messages == (
        *kept,
        Message.user("two"),
        Message.assistant("done"),
    )
    assert len(conversation.turns()) == 2
    assert await store.load("c") == list(conversation.messages)


async def test_a_turn_cancelled_in_its_tools_leaves_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    gate = Gate()
    provider = ScriptedProvider([calls(call("c1", "wait"), text="let me wait")])
    engine = ChatEngine(provider, model="m", tools=gate.registry())
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine.receive, UserInput("hi"))
            await gate.entered.wait()
            scope.cancel()
    assert gate.cancelled
    assert engine.conversation.messages == ()
