"""ScriptedProvider: answers from a script, for tests, examples and demos."""

from __future__ import annotations

import pytest

from llmgine._exceptions import ConfigurationError, ProviderUnavailable, RateLimitError
from llmgine.llm import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    Provider,
    ScriptedProvider,
    ScriptExhausted,
    StreamFinish,
    TextDelta,
    ToolCallDelta,
    ToolCallPart,
)

from .conftest import collect


def request(text: str = "hi") -> LLMRequest:
    return LLMRequest(model="demo-model", messages=[Message.user(text)])


TOOL_REPLY = LLMResponse(
    message=Message(
        role="assistant",
        parts=[ToolCallPart(id="c1", name="add", arguments={"a": 1, "b": 2})],
    ),
    finish_reason=FinishReason.TOOL_CALL,
)


async def test_answers_in_order_and_records_requests() -> None:
    provider = ScriptedProvider([TOOL_REPLY, "3"])
    first = await provider.complete(request("add 1 and 2"))
    second = await provider.complete(request("thanks"))
    assert first.tool_calls == TOOL_REPLY.tool_calls
    assert second.text == "3"
    assert (second.provider, second.model) == ("scripted", "demo-model")
    assert [r.messages[0].text for r in provider.requests] == ["add 1 and 2", "thanks"]
    assert provider.remaining == 0
    assert isinstance(provider, Provider)


async def test_exceptions_are_raised_instances_or_classes() -> None:
    error = RateLimitError("slow down", provider="scripted")
    provider = ScriptedProvider([error, ProviderUnavailable, "ok"])
    with pytest.raises(RateLimitError) as info:
        await provider.complete(request())
    assert info.value is error
    with pytest.raises(ProviderUnavailable):
        await provider.complete(request())
    assert (await provider.complete(request())).text == "ok"
    provider.add(ValueError, lambda req: 42)
    with pytest.raises(ValueError):
        await provider.complete(request())
    with pytest.raises(ConfigurationError, match="got int"):
        await provider.complete(request())


async def test_callables_see_the_request_sync_or_async() -> None:
    async def echo_async(req: LLMRequest) -> str:
        return req.messages[-1].text.upper()

    provider = ScriptedProvider([lambda req: f"model was {req.model}", echo_async])
    assert (await provider.complete(request())).text == "model was demo-model"
    assert (await provider.complete(request("shout"))).text == "SHOUT"


async def test_running_out_is_a_clear_error() -> None:
    provider = ScriptedProvider(["only one"])
    await provider.complete(request())
    with pytest.raises(ScriptExhausted, match="call 2 has no scripted response"):
        await provider.complete(request())
    provider.add("more")
    assert (await provider.complete(request())).text == "more"


async def test_stream_splits_a_response_into_deltas() -> None:
    provider = ScriptedProvider(["Hello, streaming world!", TOOL_REPLY], chunk_size=5)
    events = await collect(provider.stream(request()))
    assert [e.text for e in events if isinstance(e, TextDelta)] == [
        "Hello",
        ", str",
        "eamin",
        "g wor",
        "ld!",
    ]
    assert isinstance(events[-1], StreamFinish)
    calls = await collect(provider.stream(request()))
    deltas = [e for e in calls if isinstance(e, ToolCallDelta)]
    assert deltas[0].id == "c1"
    assert deltas[0].name == "add"
    assert "".join(d.arguments for d in deltas) == '{"a":1,"b":2}'
    assert calls[-1] == StreamFinish(finish_reason="tool_call", model="demo-model")


async def test_scripted_event_lists_replay_and_accumulate() -> None:
    events = [
        TextDelta(text="a"),
        TextDelta(text="b"),
        StreamFinish(finish_reason="length"),
    ]
    provider = ScriptedProvider([events, events])
    assert await collect(provider.stream(request())) == events
    response = await provider.complete(request())
    assert (response.text, response.finish_reason) == ("ab", FinishReason.LENGTH)


async def test_aclose_and_repr_and_validation() -> None:
    provider = ScriptedProvider(["x"], name="demo")
    assert repr(provider) == "ScriptedProvider(name='demo', remaining=1)"
    assert provider.server_address is None
    assert provider.server_port is None
    await provider.aclose()
    assert provider.closed
    with pytest.raises(ConfigurationError, match="'chunk_size' must be a positive int"):
        ScriptedProvider([], chunk_size=0)


async def test_a_scripted_reply_with_tool_calls_finishes_as_tool_call() -> None:
    reply = LLMResponse(message=TOOL_REPLY.message)  # finish_reason left at "stop"
    response = await ScriptedProvider([reply]).complete(request())
    assert response.finish_reason is FinishReason.TOOL_CALL
