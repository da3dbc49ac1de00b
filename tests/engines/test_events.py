"""Engines publish their status on the bus: turn started, model/tools, turn finished."""

from __future__ import annotations

import pytest

from llmgine._exceptions import MailboxFull, MaxStepsExceeded
from llmgine.actors import ActorSystem, Failure
from llmgine.bus import Event, MessageBus
from llmgine.engines import (
    ChatEngine,
    ChatResult,
    Engine,
    EngineEvent,
    EngineState,
    EngineStatus,
    TurnFinished,
    TurnStarted,
    UserInput,
)
from llmgine.llm import ScriptedProvider

from .conftest import answer, call, calls, registry, spawn_chat, tokens


async def test_a_turn_publishes_its_status_on_the_bus(system: ActorSystem) -> None:
    bus = MessageBus(system)
    seen: list[EngineEvent] = []
    bus.register_event_handler(EngineEvent, seen.append)
    provider = ScriptedProvider(
        [
            calls(call("c1", "add", a=1, b=2), usage=tokens(5, 1)),
            answer("3", tokens(6, 1)),
        ]
    )
    engine = await spawn_chat(system, provider=provider, tools=registry(), bus=bus)
    result = await engine.ask(UserInput("1+2?"))
    await bus.wait_until_idle()
    assert len({e.conversation_id for e in seen}) == 1
    assert all(e.engine == "chat" for e in seen)
    assert [type(e).__name__ for e in seen] == [
        "TurnStarted", "EngineStatus", "EngineStatus", "EngineStatus", "TurnFinished"
    ]  # fmt: skip
    assert isinstance(seen[0], TurnStarted)
    assert seen[0].text == "1+2?"
    statuses = [(e.state, e.step) for e in seen if isinstance(e, EngineStatus)]
    assert statuses == [
        (EngineState.CALLING_MODEL, 1),
        (EngineState.RUNNING_TOOLS, 1),
        (EngineState.CALLING_MODEL, 2),
    ]
    finished = seen[-1]
    assert isinstance(finished, TurnFinished)
    assert finished.success
    assert (finished.text, finished.steps, finished.usage) == ("3", 2, result.usage)


async def test_a_failed_turn_finishes_with_its_error(system: ActorSystem) -> None:
    bus = MessageBus(system)
    finished: list[TurnFinished] = []
    bus.register_event_handler(TurnFinished, finished.append)
    provider = ScriptedProvider([calls(call("c1", "add", a=1, b=2))])
    engine = await spawn_chat(
        system, provider=provider, tools=registry(), bus=bus, max_steps=1
    )
    with pytest.raises(MaxStepsExceeded):
        await engine.ask(UserInput("loop"))
    await bus.wait_until_idle()
    [event] = finished
    assert not event.success
    assert event.text is None
    assert event.error is not None
    assert event.error.startswith("MaxStepsExceeded: chat: the model still called tools")


async def test_a_bus_session_stamps_its_events(system: ActorSystem) -> None:
    bus = MessageBus(system)
    async with bus.session("user-42") as session:
        seen: list[Event] = []
        session.register_event_handler(TurnFinished, seen.append)
        engine = await spawn_chat(system, provider=ScriptedProvider(["hi"]), bus=session)
        await engine.ask(UserInput("hello"))
        await session.wait_until_idle()
        assert [e.session_id for e in seen] == ["user-42"]


class RefusingBus:
    """A bus whose handlers' mailboxes are all full (``REJECT``)."""

    def __init__(self) -> None:
        self.offered: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.offered.append(event)
        raise MailboxFull("mailbox of /app/bus/h is full (1 messages)")


async def test_a_refused_event_is_counted_and_never_fails_the_turn() -> None:
    bus = RefusingBus()
    engine = ChatEngine(ScriptedProvider(["fine"]), model="m", bus=bus)
    assert engine.bus is bus
    result = await engine.receive(UserInput("hi"))
    assert isinstance(result, ChatResult)
    assert result.text == "fine"
    assert engine.events_refused == len(bus.offered) == 3


async def test_without_a_bus_nothing_is_published() -> None:
    engine = ChatEngine(ScriptedProvider(["fine"]), model="m")
    assert engine.bus is None
    await engine.publish(TurnStarted(engine="x", conversation_id="c", text="t"))
    assert engine.events_refused == 0


async def test_the_engine_base_refuses_what_it_does_not_know() -> None:
    engine = Engine(name="base")
    assert engine.name == "base"
    answer_ = await engine.receive(object())
    assert isinstance(answer_, Failure)
    assert "Engine does not handle object" in str(answer_.error)
