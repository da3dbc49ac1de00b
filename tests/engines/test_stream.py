"""Streaming turns: events as they come, a closed channel at the end, rollbacks."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import ActorStopped, ConfigurationError, ProviderUnavailable
from llmgine.actors import ActorSystem
from llmgine.engines import (
    GetHistory,
    ToolExecuted,
    TurnEvent,
    UserInput,
    stream_turn,
)
from llmgine.llm import (
    Message,
    ProviderActor,
    ScriptedProvider,
    StreamFinish,
    TextDelta,
    ToolCallDelta,
    ToolResultPart,
)

from .conftest import answer, call, calls, registry, roles, spawn_chat, tokens


async def drain(receive: trio.MemoryReceiveChannel[TurnEvent]) -> list[TurnEvent]:
    return [event async for event in receive]


async def test_stream_to_sends_deltas_tool_results_and_closes(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider(
        [
            calls(call("c1", "add", a=1, b=2), usage=tokens(10, 2)),
            answer("The answer is three.", tokens(20, 5)),
        ],
        chunk_size=4,
    )
    engine = await spawn_chat(system, provider=provider, tools=registry())
    send, receive = trio.open_memory_channel[TurnEvent](0)
    async with trio.open_nursery() as nursery:
        events: list[TurnEvent] = []

        async def read() -> None:
            events.extend(await drain(receive))

        nursery.start_soon(read)
        result = await engine.ask(UserInput("1+2?", stream_to=send))
    assert result.text == "The answer is three."
    assert result.usage == tokens(30, 7)
    assert all(r.stream for r in provider.requests)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "The answer is three."
    assert len([e for e in events if isinstance(e, TextDelta)]) == 5  # 4-char pieces
    assert [type(e).__name__ for e in events[:4]] == [
        "ToolCallDelta", "ToolCallDelta", "StreamFinish", "ToolExecuted"
    ]  # fmt: skip
    assert events[3] == ToolExecuted(
        call=call("c1", "add", a=1, b=2),
        result=ToolResultPart(call_id="c1", content="3", name="add"),
    )
    finishes = [e for e in events if isinstance(e, StreamFinish)]
    assert [f.usage for f in finishes] == [tokens(10, 2), tokens(20, 5)]
    assert isinstance(events[-1], StreamFinish)
    history = await engine.ask(GetHistory())
    assert roles(history) == ["user", "assistant", "tool", "assistant"]


async def test_stream_turn_yields_events_then_the_result(system: ActorSystem) -> None:
    provider = ScriptedProvider([answer("Hello there, friend!")], chunk_size=5)
    engine = await spawn_chat(system, provider=provider)
    pieces: list[str] = []
    async with stream_turn(engine, "Hi") as stream:
        assert stream.result is None
        async for event in stream:
            if isinstance(event, TextDelta):
                pieces.append(event.text)
    assert stream.ended
    assert pieces == ["Hello", " ther", "e, fr", "iend!"]
    assert stream.result is not None
    assert stream.result.text == "Hello there, friend!"


async def test_leaving_stream_turn_early_cancels_and_rolls_back(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider(
        [answer("a long reply in many small pieces"), answer("second")], chunk_size=2
    )
    engine = await spawn_chat(system, provider=provider)
    async with stream_turn(engine, "Hi", buffer=0) as stream:
        async for event in stream:
            assert event == TextDelta(text="a ")
            break
    assert not stream.ended
    assert stream.result is None
    await trio.testing.wait_all_tasks_blocked()
    assert await engine.ask(GetHistory()) == ()
    assert engine.statistics().restarts == 0
    async with stream_turn(engine, "Again") as stream:
        assert [type(e).__name__ async for e in stream][-2:] == [
            "TextDelta",
            "StreamFinish",
        ]
    assert await engine.ask(GetHistory()) == (
        Message.user("Again"),
        Message.assistant("second"),
    )


async def test_an_error_in_the_body_propagates_unwrapped(system: ActorSystem) -> None:
    engine = await spawn_chat(system, provider=ScriptedProvider([answer("hello")]))
    with pytest.raises(KeyError, match="mine"):
        async with stream_turn(engine, "Hi") as stream:
            async for _ in stream:
                raise KeyError("mine")
    await trio.testing.wait_all_tasks_blocked()
    assert await engine.ask(GetHistory()) == ()


async def test_a_failed_streaming_turn_raises_after_its_events(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider([calls(call("c1", "add", a=1, b=1)), ProviderUnavailable])
    engine = await spawn_chat(system, provider=provider, tools=registry())
    seen: list[Any] = []
    with pytest.raises(ProviderUnavailable):
        async with stream_turn(engine, "Hi") as stream:
            async for event in stream:
                seen.append(event)
    assert isinstance(seen[-1], ToolExecuted)
    assert await engine.ask(GetHistory()) == ()


async def test_stream_turn_ends_when_the_ask_never_arrives(system: ActorSystem) -> None:
    engine = await spawn_chat(system, provider=ScriptedProvider())
    await engine.stop()
    with pytest.raises(ActorStopped):
        async with stream_turn(engine, "Hi") as stream:
            assert [e async for e in stream] == []


async def test_a_provider_actor_streams_through_its_mailbox(system: ActorSystem) -> None:
    provider = ScriptedProvider([calls(call("c1", "add", a=1, b=1)), "Two."])
    llm = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
    engine = await spawn_chat(system, provider=llm, tools=registry())
    async with stream_turn(engine, "1+1") as stream:
        events = [e async for e in stream]
    assert [type(e).__name__ for e in events] == [
        "ToolCallDelta", "ToolCallDelta", "StreamFinish", "ToolExecuted",
        "TextDelta", "StreamFinish",
    ]  # fmt: skip
    assert isinstance(events[0], ToolCallDelta)
    assert events[4] == TextDelta(text="Two.")
    assert all(r.stream for r in provider.requests)  # streamed by the actor
    assert stream.result is not None
    assert stream.result.text == "Two."
    assert llm.statistics().processed == 2


class RelaySendChannel(trio.abc.SendChannel[Any]):
    """A send channel that is not a memory channel (closing it takes aclose)."""

    def __init__(self, inner: trio.MemorySendChannel[Any]) -> None:
        self.inner = inner

    async def send(self, value: Any) -> None:
        await self.inner.send(value)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_any_trio_send_channel_can_receive_a_stream(system: ActorSystem) -> None:
    engine = await spawn_chat(system, provider=ScriptedProvider(["ok"]))
    send, receive = trio.open_memory_channel[TurnEvent](10)
    result = await engine.ask(UserInput("hi", stream_to=RelaySendChannel(send)))
    events = await drain(receive)  # ends: the engine closed the channel
    assert result.text == "ok"
    assert events[0] == TextDelta(text="ok")


async def test_a_reader_that_closed_its_end_cancels_the_turn(
    system: ActorSystem,
) -> None:
    engine = await spawn_chat(system, provider=ScriptedProvider(["ok"]))
    send, receive = trio.open_memory_channel[TurnEvent](0)
    receive.close()
    with pytest.raises(Exception, match="the stream's reader is gone") as info:
        await engine.ask(UserInput("hi", stream_to=send))
    assert isinstance(info.value.__cause__, trio.BrokenResourceError)
    assert await engine.ask(GetHistory()) == ()


async def test_stream_turn_checks_its_buffer(system: ActorSystem) -> None:
    engine = await spawn_chat(system, provider=ScriptedProvider())
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigurationError, match="'buffer'"):
            async with stream_turn(engine, "hi", buffer=bad):  # type: ignore[arg-type]
                pass  # pragma: no cover


class IteratorProvider:
    """A provider whose stream() is a plain async iterator (no aclose)."""

    name = "iterator"

    def __init__(self, events: list[Any]) -> None:
        self.events = events

    async def complete(self, request: Any) -> Any:
        raise NotImplementedError

    def stream(self, request: Any) -> Any:
        events = iter(self.events)

        class Iterator:
            def __aiter__(self) -> Iterator:
                return self

            async def __anext__(self) -> Any:
                try:
                    return next(events)
                except StopIteration:
                    raise StopAsyncIteration from None

        return Iterator()

    async def aclose(self) -> None:
        pass


async def test_a_stream_without_aclose_is_read_to_its_end(system: ActorSystem) -> None:
    provider = IteratorProvider([TextDelta(text="plain"), StreamFinish()])
    engine = await spawn_chat(system, provider=provider)
    async with stream_turn(engine, "hi") as stream:
        assert [type(e).__name__ async for e in stream] == ["TextDelta", "StreamFinish"]
    assert stream.result is not None
    assert stream.result.text == "plain"
