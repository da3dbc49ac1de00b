"""Anthropic Messages: codec and provider against documented wire shapes."""

from __future__ import annotations

import json

import httpx
import pytest

from llmgine._exceptions import (
    AuthenticationError,
    MalformedResponseError,
    ProviderUnavailable,
)
from llmgine.llm import (
    AnthropicCodec,
    AnthropicProvider,
    BlobPart,
    FinishReason,
    LLMRequest,
    Message,
    ProviderPart,
    ReasoningDelta,
    ReasoningPart,
    SSEEvent,
    StreamAccumulator,
    StreamFinish,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
    Usage,
)

from ._wire_fixtures import ANTHROPIC_OVERLOADED, ANTHROPIC_STREAM, ANTHROPIC_TOOL_USE
from .conftest import Wire, collect, sse, stream_response

TOOL = ToolSpec(
    name="get_weather",
    description="Get the current weather in a given location",
    parameters={
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
)


def test_encode_system_top_level_and_default_max_tokens() -> None:
    request = LLMRequest(
        model="claude-sonnet-4-5",
        system="You are terse.",
        messages=[Message.system("Answer in French."), Message.user("Hello")],
        temperature=0.5,
        top_p=0.8,
        seed=3,
        stop=["\n\nHuman:"],
    )
    body = AnthropicCodec().encode_request(request)
    assert body == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "system": "You are terse.\n\nAnswer in French.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "temperature": 0.5,
        "top_p": 0.8,
        "stop_sequences": ["\n\nHuman:"],
    }  # no seed: the Messages API has none


def test_encode_tool_use_and_tool_results_in_one_user_turn() -> None:
    request = LLMRequest(
        model="m",
        max_tokens=1024,
        tools=[TOOL],
        tool_choice="required",
        messages=[
            Message.user("Weather in SF and NYC?"),
            Message(
                role="assistant",
                parts=[
                    ReasoningPart(text="Two calls.", signature="sig"),
                    ReasoningPart(text="unsigned, from another provider"),
                    TextPart(text=""),
                    ToolCallPart(
                        id="toolu_1", name="get_weather", arguments={"location": "SF"}
                    ),
                    ToolCallPart(id="toolu_2", name="get_weather", arguments="{bad"),
                ],
            ),
            Message(
                role="tool", parts=[ToolResultPart(call_id="toolu_1", content="15C")]
            ),
            Message(
                role="tool",
                parts=[
                    ToolResultPart(call_id="toolu_2", content="bad args", is_error=True)
                ],
            ),
            Message.user("Thanks"),
        ],
    )
    body = AnthropicCodec().encode_request(request)
    assert body["max_tokens"] == 1024
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Get the current weather in a given location",
            "input_schema": dict(TOOL.parameters),
        }
    ]
    assert body["tool_choice"] == {"type": "any"}
    user, assistant, results = body["messages"]
    assert user["role"] == "user"
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "Two calls.", "signature": "sig"},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"location": "SF"},
            },
            {
                "type": "tool_use",
                "id": "toolu_2",
                "name": "get_weather",
                "input": {"arguments": "{bad"},
            },
        ],
    }
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "15C"},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_2",
                "content": "bad args",
                "is_error": True,
            },
            {"type": "text", "text": "Thanks"},
        ],
    }


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (ToolChoice(mode="auto"), {"type": "auto"}),
        (ToolChoice(mode="none"), {"type": "none"}),
        (ToolChoice.tool("get_weather"), {"type": "tool", "name": "get_weather"}),
    ],
)
def test_encode_tool_choice(choice: ToolChoice, wire: object) -> None:
    request = LLMRequest(model="m", messages=[Message.user("x")], tool_choice=choice)
    assert AnthropicCodec().encode_request(request)["tool_choice"] == wire


def test_encode_images_documents_schema_stream_and_extra() -> None:
    request = LLMRequest(
        model="m",
        messages=[
            Message(
                role="user",
                parts=[
                    BlobPart(mime_type="image/png", data="iVBOR"),
                    BlobPart(mime_type="image/jpeg", url="https://example.com/a.jpg"),
                    BlobPart(mime_type="application/pdf", data="JVBER"),
                ],
            )
        ],
        response_schema={"type": "object", "additionalProperties": False},
        stream=True,
        extra={"thinking": {"type": "enabled", "budget_tokens": 2048}},
    )
    body = AnthropicCodec().encode_request(request)
    assert body["messages"][0]["content"] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
        {
            "type": "document",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": "JVBER",
            },
        },
    ]
    assert body["output_config"] == {
        "format": {
            "type": "json_schema",
            "schema": {"type": "object", "additionalProperties": False},
        }
    }
    assert body["stream"] is True
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}


def test_decode_tool_use_with_thinking_and_cache_usage() -> None:
    response = AnthropicCodec().decode_response(ANTHROPIC_TOOL_USE)
    thinking, text, call = response.message.parts
    assert thinking == ReasoningPart(
        text="The user wants the weather; I should call the tool.",
        signature="EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
    )
    assert text == TextPart(text="I'll check the weather.")
    assert call == ToolCallPart(
        id="toolu_01A09q90qw90lq917835lq9",
        name="get_weather",
        arguments={"location": "San Francisco, CA", "unit": "celsius"},
    )
    assert response.finish_reason is FinishReason.TOOL_CALL
    # OTel input tokens include cache reads and writes
    assert response.usage == Usage(
        input_tokens=1250,
        output_tokens=120,
        cache_read_tokens=1000,
        cache_write_tokens=200,
    )
    assert response.id == "msg_01Aq9w938a90dw8q"
    assert response.model == "claude-sonnet-4-5-20250929"


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        ("end_turn", FinishReason.STOP),
        ("stop_sequence", FinishReason.STOP),
        ("max_tokens", FinishReason.LENGTH),
        ("refusal", FinishReason.CONTENT_FILTER),
    ],
)
def test_decode_stop_reasons(wire: str, reason: FinishReason) -> None:
    body = {"content": [{"type": "text", "text": "x"}], "stop_reason": wire}
    assert AnthropicCodec().decode_response(body).finish_reason is reason


def test_decode_keeps_other_blocks_as_provider_parts() -> None:
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgB"}
    server = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search"}
    body = {
        "content": [redacted, server, {"type": "text", "text": "Done."}],
        "stop_reason": "end_turn",
    }
    assert AnthropicCodec().decode_response(body).message.parts == (
        ProviderPart(provider="anthropic", data=redacted),
        ProviderPart(provider="anthropic", data=server),
        TextPart(text="Done."),
    )


@pytest.mark.parametrize(
    "body",
    [
        "text",
        {"content": "nope"},
        {"content": [{"type": "text"}]},
        {"content": [{"type": "tool_use", "name": 5}]},
        {"content": [], "usage": {"input_tokens": 1.5}},
    ],
)
def test_decode_malformed(body: object) -> None:
    with pytest.raises(MalformedResponseError):
        AnthropicCodec().decode_response(body)


def test_decode_error_body_is_typed() -> None:
    with pytest.raises(ProviderUnavailable, match="Overloaded"):
        AnthropicCodec().decode_response(ANTHROPIC_OVERLOADED)


def decode_stream(events: list[tuple[str, dict[str, object]]]) -> list[object]:
    decoder = AnthropicCodec().stream_decoder()
    out: list[object] = []
    for name, data in events:
        out.extend(decoder.feed(SSEEvent(event=name, data=json.dumps(data))))
    assert decoder.done
    out.append(decoder.finish())
    return out


def test_stream_thinking_text_and_split_tool_input() -> None:
    events = decode_stream(ANTHROPIC_STREAM)
    assert events[:2] == [
        ReasoningDelta(text="Need the weather."),
        ReasoningDelta(signature="EqQBCgIYAhIM"),
    ]
    assert TextDelta(text="Okay, let's check") in events
    assert (
        ToolCallDelta(index=2, id="toolu_01T1x1fJ34qAmk2tNTrN7Up6", name="get_weather")
        in events
    )
    assert events[-1] == StreamFinish(
        finish_reason=FinishReason.TOOL_CALL,
        usage=Usage(input_tokens=572, output_tokens=89, cache_read_tokens=100),
        model="claude-sonnet-4-5-20250929",
        id="msg_014p7gG3wDgGV9EUtLvnow3U",
    )
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)  # type: ignore[arg-type]
    response = accumulator.response()
    assert response.message.parts == (
        ReasoningPart(text="Need the weather.", signature="EqQBCgIYAhIM"),
        TextPart(text="Okay, let's check the weather."),
        ToolCallPart(
            id="toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            name="get_weather",
            arguments={"location": "San Francisco, CA"},
        ),
    )


def test_stream_block_start_with_text_and_unknown_delta() -> None:
    events = decode_stream(
        [
            (
                "message_start",
                {"type": "message_start", "message": {"id": "m", "usage": {}}},
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": "Hi"},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "citations_delta", "citation": {}},
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 1,
                    "content_block": {"type": "thinking", "thinking": "Hmm"},
                },
            ),
            ("message_delta", {"type": "message_delta", "delta": {}, "usage": None}),
            (
                "message_delta",
                {"type": "message_delta", "delta": {"stop_reason": "end_turn"}},
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
    )
    assert events[:2] == [TextDelta(text="Hi"), ReasoningDelta(text="Hmm")]
    assert isinstance(events[-1], StreamFinish)
    assert events[-1].finish_reason is FinishReason.STOP


def test_stream_error_event_raises_overloaded() -> None:
    decoder = AnthropicCodec().stream_decoder()
    with pytest.raises(ProviderUnavailable):
        decoder.feed(SSEEvent(event="error", data=json.dumps(ANTHROPIC_OVERLOADED)))


def test_stream_cut_before_message_stop_is_unavailable() -> None:
    decoder = AnthropicCodec().stream_decoder()
    name, data = ANTHROPIC_STREAM[0]
    decoder.feed(SSEEvent(event=name, data=json.dumps(data)))
    with pytest.raises(ProviderUnavailable, match="message_stop"):
        decoder.finish()


def test_stream_malformed_event() -> None:
    decoder = AnthropicCodec().stream_decoder()
    bad = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}
    with pytest.raises(MalformedResponseError):
        decoder.feed(SSEEvent(data=json.dumps(bad)))


async def test_provider_sends_version_and_key_headers() -> None:
    wire = Wire(httpx.Response(200, json=ANTHROPIC_TOOL_USE))
    async with wire.client() as client:
        provider = AnthropicProvider(api_key="sk-ant-secret", client=client)
        response = await provider.complete(
            LLMRequest(model="claude-sonnet-4-5", messages=[Message.user("Hi")])
        )
    (sent,) = wire.requests
    assert str(sent.url) == "https://api.anthropic.com/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant-secret"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert response.provider == "anthropic"


async def test_provider_streams() -> None:
    wire = Wire(stream_response(sse(*ANTHROPIC_STREAM)))
    async with wire.client() as client:
        provider = AnthropicProvider(api_key="k", client=client)
        events = await collect(
            provider.stream(LLMRequest(model="m", messages=[Message.user("Hi")]))
        )
    assert wire.bodies[0]["stream"] is True
    assert isinstance(events[-1], StreamFinish)
    assert events[-1].usage.output_tokens == 89


def test_key_from_environment_or_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    assert AnthropicProvider()._auth_headers() == {"x-api-key": "env-key"}
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(AuthenticationError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider()


def test_round_trip_keeps_signed_thinking_and_tool_use() -> None:
    codec = AnthropicCodec()
    response = codec.decode_response(ANTHROPIC_TOOL_USE)
    body = codec.encode_request(
        LLMRequest(model="m", messages=[Message.user("Weather?"), response.message])
    )
    assert body["messages"][1]["content"] == ANTHROPIC_TOOL_USE["content"]
