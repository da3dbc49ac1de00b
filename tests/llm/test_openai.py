"""OpenAI Chat Completions: codec and providers against documented wire shapes."""

from __future__ import annotations

import json

import httpx
import pytest

from llmgine._exceptions import (
    AuthenticationError,
    MalformedResponseError,
    ProviderError,
    ProviderUnavailable,
)
from llmgine.llm import (
    BlobPart,
    FinishReason,
    LLMRequest,
    Message,
    OpenAICodec,
    OpenAICompatibleProvider,
    OpenAIProvider,
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

from ._wire_fixtures import (
    OPENAI_TEXT,
    OPENAI_TOOL_CALLS,
    OPENAI_TOOL_STREAM,
    openai_chunk,
)
from .conftest import Wire, collect, sse, stream_response

WEATHER = ToolSpec(
    name="get_weather",
    description="Get the weather.",
    parameters={
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
)

CONVERSATION = (
    Message.user("Weather in Paris and Rome?"),
    Message(
        role="assistant",
        parts=(
            TextPart(text="Checking."),
            ToolCallPart(
                id="call_1", name="get_weather", arguments={"location": "Paris"}
            ),
            ToolCallPart(id="call_2", name="get_weather", arguments='{"location": "Ro'),
        ),
    ),
    Message(
        role="tool",
        parts=(
            ToolResultPart(call_id="call_1", content="18C"),
            ToolResultPart(call_id="call_2", content="bad arguments", is_error=True),
        ),
    ),
)


def test_encode_maps_system_tools_and_tool_results() -> None:
    request = LLMRequest(
        model="gpt-4.1",
        system="Be brief.",
        messages=CONVERSATION,
        tools=[WEATHER],
        tool_choice="auto",
        temperature=0.2,
        max_tokens=100,
        top_p=0.9,
        seed=7,
        stop=["END"],
    )
    body = OpenAICodec().encode_request(request)
    assert body["model"] == "gpt-4.1"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"location":"Paris"}',
                    },
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location": "Ro'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "bad arguments"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather.",
                "parameters": dict(WEATHER.parameters),
            },
        }
    ]
    assert body["tool_choice"] == "auto"
    assert body["max_completion_tokens"] == 100
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.2, 0.9, 7)
    assert body["stop"] == ["END"]
    assert "stream" not in body


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (ToolChoice(mode="none"), "none"),
        (ToolChoice(mode="required"), "required"),
        (
            ToolChoice.tool("get_weather"),
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_encode_tool_choice(choice: ToolChoice, wire: object) -> None:
    request = LLMRequest(model="m", messages=[Message.user("x")], tool_choice=choice)
    assert OpenAICodec().encode_request(request)["tool_choice"] == wire


def test_encode_assistant_with_only_tool_calls_has_null_content() -> None:
    call = ToolCallPart(id="c", name="f", arguments={})
    request = LLMRequest(model="m", messages=[Message(role="assistant", parts=[call])])
    (message,) = OpenAICodec().encode_request(request)["messages"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"]["arguments"] == "{}"


def test_encode_blobs_as_content_parts() -> None:
    message = Message(
        role="user",
        parts=(
            TextPart(text="What is this?"),
            BlobPart(mime_type="image/png", data="iVBORw0KGgo="),
            BlobPart(mime_type="image/jpeg", url="https://example.com/cat.jpg"),
            BlobPart(mime_type="audio/wav", data="UklGRg=="),
            BlobPart(mime_type="application/pdf", data="JVBERi0x"),
        ),
    )
    body = OpenAICodec().encode_request(LLMRequest(model="m", messages=[message]))
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0x"}},
    ]


def test_encode_system_messages_reasoning_and_empty_messages() -> None:
    request = LLMRequest(
        model="m",
        messages=[
            Message.system("Extra rule."),
            Message(role="assistant", parts=[ReasoningPart(text="hmm")]),
            Message(role="user", parts=[]),
        ],
    )
    body = OpenAICodec().encode_request(request)
    # reasoning has no Chat Completions field; empty messages are not sent
    assert body["messages"] == [{"role": "system", "content": "Extra rule."}]


def test_encode_response_schema_stream_and_extra() -> None:
    schema = {"title": "Person", "type": "object", "properties": {}}
    request = LLMRequest(
        model="m",
        messages=[Message.user("x")],
        response_schema=schema,
        stream=True,
        extra={"stop": ["override"], "logprobs": True, "service_tier": "flex"},
    )
    body = OpenAICodec().encode_request(request)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Person", "schema": schema, "strict": False},
    }
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["logprobs"] is True
    assert body["service_tier"] == "flex"
    assert body["stop"] == ["override"]  # extra wins


def test_decode_text_with_cached_and_reasoning_usage() -> None:
    response = OpenAICodec().decode_response(OPENAI_TEXT)
    assert response.text == "Hello! How can I assist you today?"
    assert response.finish_reason is FinishReason.STOP
    assert response.id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert response.model == "gpt-4.1-2025-04-14"
    assert response.provider == "openai"
    assert response.usage == Usage(
        input_tokens=1200, output_tokens=300, cache_read_tokens=1024, reasoning_tokens=128
    )
    assert response.raw == OPENAI_TEXT


def test_decode_parallel_tool_calls_keeps_unparsable_arguments_raw() -> None:
    response = OpenAICodec().decode_response(OPENAI_TOOL_CALLS)
    assert response.finish_reason is FinishReason.TOOL_CALL
    first, second = response.tool_calls
    assert first == ToolCallPart(
        id="call_abc123", name="get_weather", arguments={"location": "Boston, MA"}
    )
    assert second.arguments == '{"location": "Paris'
    assert response.message.role == "assistant"


def test_decode_refusal_is_content_filter() -> None:
    body = {
        "id": "x",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't."},
                "finish_reason": "stop",
            }
        ],
    }
    response = OpenAICodec().decode_response(body)
    assert response.text == "I can't."
    assert response.finish_reason is FinishReason.CONTENT_FILTER


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        ("length", FinishReason.LENGTH),
        ("content_filter", FinishReason.CONTENT_FILTER),
        ("something_new", FinishReason.STOP),
    ],
)
def test_decode_finish_reasons(wire: str, reason: FinishReason) -> None:
    body = {"choices": [{"message": {"content": "x"}, "finish_reason": wire}]}
    assert OpenAICodec().decode_response(body).finish_reason is reason


def test_decode_compatible_reasoning_and_missing_ids() -> None:
    body = {
        "choices": [
            {
                "message": {
                    "content": "42",
                    "reasoning_content": "Let me think.",
                    "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}],
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    response = OpenAICodec(provider="deepseek").decode_response(body)
    reasoning, text, call = response.message.parts
    assert reasoning == ReasoningPart(text="Let me think.")
    assert text == TextPart(text="42")
    assert isinstance(call, ToolCallPart)
    assert call.id.startswith("call_")
    assert call.arguments == {"a": 1}
    assert response.provider == "deepseek"


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"choices": []},
        {"choices": [{"message": "hi"}]},
        {"choices": [{"message": {"content": 5}}]},
        {"choices": [{"message": {"tool_calls": [{"function": None}]}}]},
        {"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": -1}},
        {"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "9"}},
    ],
)
def test_decode_malformed_bodies_raise_malformed(body: object) -> None:
    with pytest.raises(MalformedResponseError):
        OpenAICodec().decode_response(body)


def test_decode_error_in_a_200_body_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="model not loaded"):
        OpenAICodec().decode_response({"error": "model not loaded"})


def feed_all(chunks: list[dict[str, object]]) -> tuple[list[object], StreamFinish]:
    decoder = OpenAICodec().stream_decoder()
    events: list[object] = []
    for chunk in chunks:
        events.extend(decoder.feed(SSEEvent(data=json.dumps(chunk))))
    decoder.feed(SSEEvent(data="[DONE]"))
    assert decoder.done
    return events, decoder.finish()


def test_stream_tool_call_argument_deltas_reassemble() -> None:
    events, finish = feed_all(OPENAI_TOOL_STREAM)
    assert events[0] == ToolCallDelta(
        index=0, id="call_DdmO9pD3xa9XTPNJ32zg2hcA", name="get_weather", arguments=""
    )
    assert ToolCallDelta(index=0, arguments='{"lo') in events
    assert finish == StreamFinish(
        finish_reason=FinishReason.TOOL_CALL,
        usage=Usage(input_tokens=90, output_tokens=20, cache_read_tokens=64),
        model="gpt-4o-mini-2024-07-18",
        id="chatcmpl-123",
    )
    accumulator = StreamAccumulator()
    for event in [*events, finish]:
        accumulator.add(event)  # type: ignore[arg-type]
    response = accumulator.response(provider="openai")
    assert response.tool_calls == (
        ToolCallPart(
            id="call_DdmO9pD3xa9XTPNJ32zg2hcA",
            name="get_weather",
            arguments={"location": "Paris"},
        ),
        ToolCallPart(id="call_2", name="get_time", arguments={}),
    )


def test_stream_text_reasoning_and_refusal_deltas() -> None:
    events, finish = feed_all(
        [
            openai_chunk({"role": "assistant", "content": ""}),
            openai_chunk({"reasoning": "Hmm."}),
            openai_chunk({"content": "Hel"}),
            openai_chunk({"content": "lo", "refusal": None}),
            openai_chunk({}, finish="length"),
        ]
    )
    assert events == [
        ReasoningDelta(text="Hmm."),
        TextDelta(text="Hel"),
        TextDelta(text="lo"),
    ]
    assert finish.finish_reason is FinishReason.LENGTH


def test_stream_error_chunk_raises_typed_error() -> None:
    decoder = OpenAICodec().stream_decoder()
    chunk = {"error": {"message": "server overloaded", "type": "server_error"}}
    with pytest.raises(ProviderError, match="server overloaded"):
        decoder.feed(SSEEvent(data=json.dumps(chunk)))


def test_stream_without_finish_is_unavailable() -> None:
    decoder = OpenAICodec().stream_decoder()
    decoder.feed(SSEEvent(data=json.dumps(openai_chunk({"content": "Hi"}))))
    with pytest.raises(ProviderUnavailable):
        decoder.finish()


def test_stream_malformed_chunk() -> None:
    decoder = OpenAICodec().stream_decoder()
    with pytest.raises(MalformedResponseError):
        decoder.feed(SSEEvent(data="{not json"))


# -- the providers over MockTransport ---------------------------------------------


async def test_openai_provider_sends_documented_request() -> None:
    wire = Wire(httpx.Response(200, json=OPENAI_TEXT, headers={"x-request-id": "req_1"}))
    async with wire.client() as client:
        provider = OpenAIProvider(
            api_key="sk-secret", client=client, organization="org-1", project="proj-1"
        )
        response = await provider.complete(
            LLMRequest(model="gpt-4.1", messages=[Message.user("Hello")])
        )
    (sent,) = wire.requests
    assert str(sent.url) == "https://api.openai.com/v1/chat/completions"
    assert sent.method == "POST"
    assert sent.headers["authorization"] == "Bearer sk-secret"
    assert sent.headers["openai-organization"] == "org-1"
    assert sent.headers["openai-project"] == "proj-1"
    assert sent.headers["content-type"] == "application/json"
    assert wire.bodies[0] == {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "Hello"}],
    }
    assert response.text == "Hello! How can I assist you today?"
    assert provider.name == "openai"
    assert (provider.server_address, provider.server_port) == ("api.openai.com", 443)


async def test_openai_provider_streams_over_sse() -> None:
    body = sse(*((None, c) for c in OPENAI_TOOL_STREAM), (None, "[DONE]"), crlf=True)
    wire = Wire(stream_response(body))
    async with wire.client() as client:
        provider = OpenAIProvider(api_key="sk", client=client)
        request = LLMRequest(model="gpt-4o-mini", messages=[Message.user("Weather?")])
        events = await collect(provider.stream(request))
    assert wire.bodies[0]["stream"] is True
    assert wire.bodies[0]["stream_options"] == {"include_usage": True}
    assert isinstance(events[-1], StreamFinish)
    assert events[-1].finish_reason is FinishReason.TOOL_CALL
    assert sum(isinstance(e, ToolCallDelta) for e in events) == 6


async def test_complete_with_stream_flag_accumulates_the_stream() -> None:
    chunks = [openai_chunk({"content": "Hi"}), openai_chunk({}, finish="stop")]
    wire = Wire(stream_response(sse(*((None, c) for c in chunks), (None, "[DONE]"))))
    async with wire.client() as client:
        provider = OpenAIProvider(api_key="sk", client=client)
        request = LLMRequest(model="m", messages=[Message.user("x")], stream=True)
        response = await provider.complete(request)
    assert response.text == "Hi"
    assert response.provider == "openai"
    assert response.id == "chatcmpl-123"


def test_openai_key_comes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    provider = OpenAIProvider()
    assert provider._auth_headers() == {"authorization": "Bearer sk-env"}


def test_openai_missing_key_fails_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
        OpenAIProvider()


async def test_compatible_provider_never_sends_the_openai_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret")
    wire = Wire(httpx.Response(200, json=OPENAI_TEXT))
    async with wire.client() as client:
        provider = OpenAICompatibleProvider(
            base_url="http://localhost:11434/v1/", name="ollama", client=client
        )
        response = await provider.complete(
            LLMRequest(model="llama3.2", messages=[Message.user("x")], max_tokens=5)
        )
    (sent,) = wire.requests
    assert str(sent.url) == "http://localhost:11434/v1/chat/completions"
    assert "authorization" not in sent.headers
    assert wire.bodies[0]["max_tokens"] == 5
    assert response.provider == "ollama"
    assert (provider.server_address, provider.server_port) == ("localhost", 11434)


async def test_compatible_provider_sends_its_own_key() -> None:
    wire = Wire(httpx.Response(200, json=OPENAI_TEXT))
    async with wire.client() as client:
        provider = OpenAICompatibleProvider(
            base_url="https://openrouter.ai/api/v1", api_key="or-key", client=client
        )
        await provider.complete(LLMRequest(model="m", messages=[Message.user("x")]))
    assert wire.requests[0].headers["authorization"] == "Bearer or-key"
    assert provider.name == "openai_compatible"


def test_round_trip_reply_goes_back_as_sent() -> None:
    codec = OpenAICodec()
    response = codec.decode_response(OPENAI_TOOL_CALLS)
    results = Message(
        role="tool",
        parts=[ToolResultPart(call_id=c.id, content="ok") for c in response.tool_calls],
    )
    body = codec.encode_request(
        LLMRequest(model="m", messages=[Message.user("x"), response.message, results])
    )
    wire_calls = OPENAI_TOOL_CALLS["choices"][0]["message"]["tool_calls"]
    sent_calls = body["messages"][1]["tool_calls"]
    assert [c["id"] for c in sent_calls] == [c["id"] for c in wire_calls]
    assert json.loads(sent_calls[0]["function"]["arguments"]) == {
        "location": "Boston, MA"
    }
    assert sent_calls[1]["function"]["arguments"] == '{"location": "Paris'
    assert [m["tool_call_id"] for m in body["messages"][2:]] == [
        "call_abc123",
        "call_def456",
    ]
