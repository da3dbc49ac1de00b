"""ProviderActor streams: events to the asker's channel, the whole reply as the answer."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import (
    CircuitOpenError,
    ConfigurationError,
    EngineError,
    ProviderUnavailable,
)
from llmgine.actors import Actor, CircuitBreaker, open_actor_system
from llmgine.engines import ChatEngine, UserInput, stream_turn
from llmgine.engines._client import ActorClient, ProviderClient, model_client
from llmgine.llm import (
    GeminiProvider,
    LLMRequest,
    Message,
    OpenAICompatibleProvider,
    OpenAIProvider,
    ProviderActor,
    ScriptedProvider,
    StreamEvent,
    StreamFinish,
    TextDelta,
)
from llmgine.llm._actor import GetProviderInfo, ProviderInfo, StreamRequest

REQUEST = LLMRequest(model="demo", messages=[Message.user("hi")])


async def test_a_stream_request_sends_events_and_answers_the_reply() -> None:
    provider = ScriptedProvider(["hello there"], chunk_size=4)
    async with open_actor_system("app") as system:
        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        send, receive = trio.open_memory_channel[StreamEvent](32)
        response = await ref.ask(StreamRequest(request=REQUEST, events=send), timeout=5)
        events = [e async for e in receive]  # the actor closed the channel
    assert response.text == "hello there"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "hello there"
    assert isinstance(events[-1], StreamFinish)


async def test_a_failing_stream_is_a_failure_the_breaker_counts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    provider = ScriptedProvider([ProviderUnavailable("down")] * 2)
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, provider),
            name="llm",
            breaker=CircuitBreaker(max_failures=2, reset_timeout=10),
        )
        engine = await system.spawn(
            functools.partial(ChatEngine, provider=ref, model="m"), name="chat"
        )
        for _ in range(2):
            with pytest.raises(ProviderUnavailable):
                async with stream_turn(engine, "hi") as stream:
                    [e async for e in stream]
        with pytest.raises(CircuitOpenError):
            async with stream_turn(engine, "hi") as stream:
                [e async for e in stream]
        assert ref.statistics().restarts == 0
    assert len(provider.requests) == 2


async def test_a_reader_that_closed_its_channel_is_answered_as_an_error() -> None:
    provider = ScriptedProvider(["hello there"], chunk_size=2)
    async with open_actor_system("app") as system:
        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        send, receive = trio.open_memory_channel[StreamEvent](0)
        receive.close()
        with pytest.raises(ConfigurationError, match="reader closed"):
            await ref.ask(StreamRequest(request=REQUEST, events=send), timeout=5)
        assert ref.statistics().restarts == 0


async def test_an_engine_reader_gone_mid_stream_cancels_the_actors_call() -> None:
    closed = trio.Event()

    class Endless(ScriptedProvider):
        def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
            async def gen() -> AsyncIterator[StreamEvent]:
                try:
                    while True:
                        yield TextDelta(text="la ")
                        await trio.lowlevel.checkpoint()
                finally:
                    closed.set()

            return gen()

    async with open_actor_system("app") as system:
        ref = await system.spawn(functools.partial(ProviderActor, Endless()), name="llm")
        engine = await system.spawn(
            functools.partial(ChatEngine, provider=ref, model="m"), name="chat"
        )
        async with stream_turn(engine, "sing") as stream:
            async for _ in stream:
                break  # leaving early cancels the turn
        with trio.fail_after(5):
            await closed.wait()
        assert ref.statistics().restarts == 0


async def test_provider_info_says_whether_the_output_is_native() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, ScriptedProvider(name="s")), name="llm"
        )
        info = await ref.ask(GetProviderInfo())
    assert info == ProviderInfo(name="s", structured_output=False)


async def test_the_client_of_a_ref_that_is_no_provider_actor_uses_the_tool() -> None:
    async with open_actor_system("app") as system:

        class NotAProvider(Actor):
            async def receive(self, message: object) -> object:
                return "what?"

        ref = await system.spawn(NotAProvider, name="other")
        client = model_client(ref)
        assert isinstance(client, ActorClient)
        assert await client.structured_output() is False
        assert client.name is None
        stopped = await system.spawn(NotAProvider, name="gone")
        await stopped.stop()
        assert await model_client(stopped).structured_output() is False


def test_providers_say_whether_they_have_native_structured_output() -> None:
    assert OpenAIProvider(api_key="k").structured_output is True
    assert GeminiProvider(api_key="k").structured_output is True
    compatible = OpenAICompatibleProvider(base_url="http://localhost:1/v1")
    assert compatible.structured_output is False
    vllm = OpenAICompatibleProvider(
        base_url="http://localhost:1/v1", structured_output=True
    )
    assert vllm.structured_output is True
    client = model_client(ScriptedProvider())
    assert isinstance(client, ProviderClient)
    assert client.name == "scripted"


async def test_an_engine_fails_cleanly_when_the_actor_refuses_the_stream() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, ScriptedProvider(["x"])), name="llm"
        )
        engine = await system.spawn(
            functools.partial(ChatEngine, provider=ref, model="m"), name="chat"
        )
        await ref.stop()
        send, receive = trio.open_memory_channel[Any](8)
        with pytest.raises(Exception) as caught:
            await engine.ask(UserInput("hi", stream_to=send))
        assert not isinstance(caught.value, BaseExceptionGroup)
        assert [e async for e in receive] == []


class PlainIterator:
    """A stream without ``aclose`` (any async iterator will do)."""

    def __init__(self, events: list[StreamEvent]) -> None:
        self.events = events

    def __aiter__(self) -> PlainIterator:
        return self

    async def __anext__(self) -> StreamEvent:
        if not self.events:
            raise StopAsyncIteration
        return self.events.pop(0)


class PlainStreams(ScriptedProvider):
    def stream(self, request: LLMRequest) -> Any:
        return PlainIterator([TextDelta(text="plain"), StreamFinish()])


async def test_a_stream_without_aclose_is_read_to_its_end() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, PlainStreams()), name="llm"
        )
        send, receive = trio.open_memory_channel[StreamEvent](8)
        response = await ref.ask(StreamRequest(request=REQUEST, events=send))
        assert response.text == "plain"
        assert len([e async for e in receive]) == 2
        engine = await system.spawn(
            functools.partial(ChatEngine, provider=PlainStreams(), model="m"),
            name="chat",
        )
        async with stream_turn(engine, "hi") as stream:
            [e async for e in stream]
        assert stream.result is not None
        assert stream.result.text == "plain"


async def test_a_turn_whose_reader_closed_fails_and_rolls_back() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, ScriptedProvider(["a long reply"])),
            name="llm",
        )
        engine = await system.spawn(
            functools.partial(ChatEngine, provider=ref, model="m"), name="chat"
        )
        send, receive = trio.open_memory_channel[Any](0)
        receive.close()
        with pytest.raises(EngineError, match="the stream's reader is gone"):
            await engine.ask(UserInput("hi", stream_to=send))
        assert ref.statistics().restarts == 0
