"""FallbackProvider: the next provider when one is down, never for the caller's errors."""

from __future__ import annotations

import pytest

from llmgine._exceptions import (
    BadRequestError,
    CircuitOpenError,
    ConfigurationError,
    ProviderTimeout,
    ProviderUnavailable,
    QuotaExceededError,
    RateLimitError,
)
from llmgine.llm import (
    FallbackProvider,
    LLMRequest,
    Message,
    ScriptedProvider,
    StreamFinish,
    TextDelta,
)

from .conftest import collect

REQUEST = LLMRequest(model="gpt-4.1", messages=[Message.user("hi")])


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("down"),
        RateLimitError("slow"),
        QuotaExceededError("broke"),
        ProviderTimeout("late"),
        CircuitOpenError("open"),
    ],
)
async def test_outages_fall_through_to_the_next_provider(error: Exception) -> None:
    first = ScriptedProvider([error], name="openai")
    second = ScriptedProvider(["from anthropic"], name="anthropic")
    response = await FallbackProvider([first, (second, "claude-sonnet-4-5")]).complete(
        REQUEST
    )
    assert response.text == "from anthropic"
    assert second.requests[0].model == "claude-sonnet-4-5"  # per-provider model name
    assert first.requests[0].model == "gpt-4.1"


async def test_callers_errors_are_raised_at_once() -> None:
    second = ScriptedProvider(["unused"])
    fallback = FallbackProvider([ScriptedProvider([BadRequestError("bad")]), second])
    with pytest.raises(BadRequestError):
        await fallback.complete(REQUEST)
    assert second.requests == []


async def test_when_all_fail_the_last_error_lists_them_all() -> None:
    fallback = FallbackProvider(
        [
            ScriptedProvider([ProviderUnavailable("a down")], name="a"),
            ScriptedProvider([RateLimitError("b busy")], name="b"),
        ]
    )
    with pytest.raises(RateLimitError) as info:
        await fallback.complete(REQUEST)
    (note,) = info.value.__notes__
    assert "a: ProviderUnavailable: a down" in note
    assert "b: RateLimitError: b busy" in note


async def test_stream_falls_back_before_its_first_event() -> None:
    fallback = FallbackProvider(
        [ScriptedProvider([ProviderUnavailable("down")]), ScriptedProvider(["hello"])]
    )
    events = await collect(fallback.stream(REQUEST))
    assert events[0] == TextDelta(text="hello")
    assert isinstance(events[-1], StreamFinish)


async def test_stream_of_nothing_and_all_failing() -> None:
    empty = FallbackProvider([ScriptedProvider([[]])])
    assert await collect(empty.stream(REQUEST)) == []
    failing = FallbackProvider([ScriptedProvider([ProviderTimeout("late")])])
    with pytest.raises(ProviderTimeout):
        await collect(failing.stream(REQUEST))


async def test_aclose_closes_each_provider_once_and_naming() -> None:
    shared = ScriptedProvider([], name="a")
    other = ScriptedProvider([], name="b")
    fallback = FallbackProvider([shared, (shared, "other-model"), other])
    assert fallback.providers == (shared, shared, other)
    assert repr(fallback) == "FallbackProvider([a, a, b])"
    assert fallback.name == "fallback"
    await fallback.aclose()
    assert shared.closed
    assert other.closed
    with pytest.raises(ConfigurationError):
        FallbackProvider([])


class PlainEvents:
    """A bare async iterator of events (no aclose)."""

    def __init__(self) -> None:
        self.items: list[object] = [TextDelta(text="x"), StreamFinish()]

    def __aiter__(self) -> PlainEvents:
        return self

    async def __anext__(self) -> object:
        if not self.items:
            raise StopAsyncIteration
        return self.items.pop(0)


class PlainStreamProvider:
    """A provider whose stream is not an async generator."""

    name = "plain"

    async def complete(self, request: LLMRequest) -> object:
        raise NotImplementedError

    def stream(self, request: LLMRequest) -> PlainEvents:
        return PlainEvents()

    async def aclose(self) -> None:
        pass


async def test_streams_without_aclose_are_fine() -> None:
    fallback = FallbackProvider([PlainStreamProvider()])  # type: ignore[list-item]
    assert await collect(fallback.stream(REQUEST)) == [
        TextDelta(text="x"),
        StreamFinish(),
    ]
