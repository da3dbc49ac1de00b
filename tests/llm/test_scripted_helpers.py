"""One-line scripting: ScriptedProvider.text / tool_call / tool_calls, estimated usage."""

from __future__ import annotations

import pytest

from llmgine._exceptions import ConfigurationError
from llmgine.llm import (
    BlobPart,
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    ScriptedProvider,
    StreamFinish,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from llmgine.llm._scripted import estimate_usage

from .conftest import collect


def request(text: str = "hi", **fields: object) -> LLMRequest:
    return LLMRequest(model="demo-model", messages=[Message.user(text)], **fields)


async def test_tool_call_scripts_one_call_in_one_line() -> None:
    provider = ScriptedProvider([ScriptedProvider.tool_call("get_weather", city="Paris")])
    response = await provider.complete(request())
    assert response.tool_calls == (
        ToolCallPart(id="call_1", name="get_weather", arguments={"city": "Paris"}),
    )
    assert response.finish_reason is FinishReason.TOOL_CALL
    assert response.text == ""


async def test_an_argument_may_be_called_name() -> None:
    reply = ScriptedProvider.tool_call("rename", name="new", id=3)
    assert reply.tool_calls[0].arguments == {"name": "new", "id": 3}
    assert reply.tool_calls[0].name == "rename"


async def test_call_ids_count_up_per_provider_and_given_ids_stay() -> None:
    provider = ScriptedProvider(
        [
            ScriptedProvider.tool_calls(("a", {}), ("b", {"x": 1})),
            ScriptedProvider.tool_calls(
                ToolCallPart(id="mine", name="c"), ("d", {}), text="Two more."
            ),
        ]
    )
    first = await provider.complete(request())
    second = await provider.complete(request())
    assert [(c.id, c.name) for c in first.tool_calls] == [
        ("call_1", "a"),
        ("call_2", "b"),
    ]
    assert [(c.id, c.name) for c in second.tool_calls] == [("mine", "c"), ("call_3", "d")]
    assert second.text == "Two more."
    # a fresh provider numbers from 1 again: ids do not depend on test order
    again = await ScriptedProvider([ScriptedProvider.tool_call("a")]).complete(request())
    assert again.tool_calls[0].id == "call_1"


def test_tool_calls_rejects_what_is_not_a_call() -> None:
    with pytest.raises(ConfigurationError, match="at least one call"):
        ScriptedProvider.tool_calls()
    with pytest.raises(ConfigurationError, match=r"\(name, arguments\) tuple"):
        ScriptedProvider.tool_calls(("a", {}, "extra"))  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"\(name, arguments\) tuple"):
        ScriptedProvider.tool_calls("a")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"\(name, arguments\) tuple"):
        ScriptedProvider.tool_calls(("a", ["not", "a", "mapping"]))  # type: ignore[arg-type]


async def test_strings_and_helpers_report_plausible_usage() -> None:
    question = "x" * 400  # about 100 tokens in
    provider = ScriptedProvider(["y" * 40, ScriptedProvider.text("z" * 8)])
    first = await provider.complete(request(question))
    assert first.usage == Usage(input_tokens=100, output_tokens=10)
    second = await provider.complete(request(question))
    assert second.usage == Usage(input_tokens=100, output_tokens=2)
    assert first.raw is None  # the marker never leaks


async def test_given_usage_is_kept_and_hand_built_replies_keep_theirs() -> None:
    given = Usage(input_tokens=7, output_tokens=3)
    hand_built = LLMResponse(message=Message.assistant("hand built"))
    provider = ScriptedProvider([ScriptedProvider.text("t", usage=given), hand_built])
    assert (await provider.complete(request())).usage == given
    assert (await provider.complete(request())).usage == Usage()


def test_the_estimate_counts_system_tools_calls_and_results() -> None:
    spec = ToolSpec(name="t" * 4, description="d" * 4, parameters={})
    req = LLMRequest(
        model="m",
        system="s" * 8,
        tools=[spec],
        messages=[
            Message.user("u" * 4),
            Message(
                role="assistant", parts=[ToolCallPart(id="1", name="tt", arguments={})]
            ),
            Message(role="tool", parts=[ToolResultPart(call_id="1", content="r" * 6)]),
            Message(role="user", parts=[BlobPart(mime_type="image/png", url="u")]),
        ],
    )
    usage = estimate_usage(req, Message.assistant(""))
    # 8 system + 4 user + (2 + len("{}")) call + 6 result + 4 + 4 + len("{}") tool;
    # an image counts nothing
    assert usage.input_tokens == 8  # 32 characters / 4
    assert usage.output_tokens == 1  # never zero


async def test_a_streamed_helper_reply_carries_the_estimate() -> None:
    provider = ScriptedProvider([ScriptedProvider.tool_call("add", a=1, b=2)])
    events = await collect(provider.stream(request("x" * 40)))
    finish = events[-1]
    assert isinstance(finish, StreamFinish)
    assert finish.usage.input_tokens == 10
    assert finish.usage.output_tokens == 4  # "add" and {"a":1,"b":2}: 16 characters
