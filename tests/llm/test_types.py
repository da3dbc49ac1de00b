"""The contract's values: plain strings accepted, sensible defaults, usage sums."""

from __future__ import annotations

import attrs
import pytest

from llmgine.llm import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    Role,
    TextPart,
    ToolCallPart,
    ToolChoice,
    Usage,
)


def test_plain_strings_become_enums() -> None:
    message = Message(role="user", parts=[TextPart(text="hi")])
    assert message.role is Role.USER
    assert message.parts == (TextPart(text="hi"),)
    response = LLMResponse(message=message, finish_reason="tool_call")
    assert response.finish_reason is FinishReason.TOOL_CALL
    with pytest.raises(ValueError):
        Message(role="robot", parts=[])


def test_only_the_essentials_are_required() -> None:
    request = LLMRequest(model="m", messages=[Message.user("hi")])
    assert (request.tools, request.stop, request.extra) == ((), (), {})
    assert request.tool_choice is None
    assert request.stream is False
    response = LLMResponse(message=Message.assistant("hello"))
    assert response.finish_reason is FinishReason.STOP
    assert response.usage == Usage()
    assert response.text == "hello"


def test_tool_choice_from_strings_and_a_single_stop_string() -> None:
    assert LLMRequest(model="m", messages=[], tool_choice="required").tool_choice == (
        ToolChoice(mode="required")
    )
    assert LLMRequest(model="m", messages=[], tool_choice="lookup").tool_choice == (
        ToolChoice.tool("lookup")
    )
    assert LLMRequest(model="m", messages=[], stop="\n").stop == ("\n",)


def test_messages_expose_text_and_tool_calls() -> None:
    call = ToolCallPart(id="c", name="f")
    message = Message(
        role="assistant", parts=[TextPart(text="a"), call, TextPart(text="b")]
    )
    assert message.text == "ab"
    assert message.tool_calls == (call,)
    assert call.arguments == {}
    assert Message.system("s").role is Role.SYSTEM


def test_usage_adds_up() -> None:
    total = Usage(input_tokens=10, output_tokens=2, cache_read_tokens=4) + Usage(
        input_tokens=5, output_tokens=1, cache_write_tokens=3, reasoning_tokens=1
    )
    assert total == Usage(
        input_tokens=15,
        output_tokens=3,
        cache_read_tokens=4,
        cache_write_tokens=3,
        reasoning_tokens=1,
    )
    assert total.total_tokens == 18


def test_values_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Message.user("x").role = Role.ASSISTANT  # type: ignore[misc]
