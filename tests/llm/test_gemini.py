"""Gemini generateContent: codec and provider against documented wire shapes."""

from __future__ import annotations

import json

import httpx
import pytest

from llmgine._exceptions import (
    AuthenticationError,
    BadRequestError,
    MalformedResponseError,
    ProviderError,
    ProviderUnavailable,
)
from llmgine.llm import (
    BlobPart,
    FinishReason,
    GeminiCodec,
    GeminiProvider,
    LLMRequest,
    Message,
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

from ._wire_fixtures import GEMINI_FUNCTION_CALLS, GEMINI_STREAM
from .conftest import Wire, collect, sse, stream_response

TOOL = ToolSpec(
    name="get_weather",
    description="Weather for a city.",
    parameters={"type": "object", "properties": {"location": {"type": "string"}}},
)


def test_encode_contents_system_instruction_and_generation_config() -> None:
    request = LLMRequest(
        model="gemini-2.5-flash",
        system="Be brief.",
        messages=[Message.user("Hi"), Message.assistant("Hello!"), Message.user("Bye")],
        temperature=0.1,
        top_p=0.5,
        max_tokens=64,
        seed=11,
        stop=["STOP!"],
        response_schema={"type": "object", "properties": {"a": {"type": "string"}}},
    )
    body = GeminiCodec().encode_request(request)
    assert body == {
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello!"}]},
            {"role": "user", "parts": [{"text": "Bye"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "temperature": 0.1,
            "topP": 0.5,
            "maxOutputTokens": 64,
            "seed": 11,
            "stopSequences": ["STOP!"],
            "responseMimeType": "application/json",
            "responseJsonSchema": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
            },
        },
    }


def test_encode_function_calls_and_responses_matched_by_name() -> None:
    request = LLMRequest(
        model="m",
        tools=[TOOL],
        tool_choice=ToolChoice.tool("get_weather"),
        messages=[
            Message.system("Use tools."),
            Message.user("Paris and Rome?"),
            Message(
                role="assistant",
                parts=[
                    ReasoningPart(text="thinking", signature="sig-0"),
                    ReasoningPart(text="not signed"),
                    ToolCallPart(
                        id="call_a",
                        name="get_weather",
                        arguments={"location": "Paris"},
                        signature="sig-1",
                    ),
                    ToolCallPart(
                        id="call_b", name="get_weather", arguments='{"location":"Rome"}'
                    ),
                ],
            ),
            Message(
                role="tool",
                parts=[
                    ToolResultPart(call_id="call_a", content="18C"),
                    ToolResultPart(call_id="call_b", content="timeout", is_error=True),
                ],
            ),
        ],
    )
    body = GeminiCodec().encode_request(request)
    assert body["systemInstruction"] == {"parts": [{"text": "Use tools."}]}
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city.",
                    "parametersJsonSchema": dict(TOOL.parameters),
                }
            ]
        }
    ]
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    _, model_turn, results = body["contents"]
    assert model_turn == {
        "role": "model",
        "parts": [
            {"text": "thinking", "thought": True, "thoughtSignature": "sig-0"},
            {
                "functionCall": {"name": "get_weather", "args": {"location": "Paris"}},
                "thoughtSignature": "sig-1",
            },
            {"functionCall": {"name": "get_weather", "args": {"location": "Rome"}}},
        ],
    }
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"result": "18C"}}},
            {
                "functionResponse": {
                    "name": "get_weather",
                    "response": {"error": "timeout"},
                }
            },
        ],
    }


@pytest.mark.parametrize(
    ("choice", "mode"), [("auto", "AUTO"), ("none", "NONE"), ("required", "ANY")]
)
def test_encode_tool_choice_modes(choice: str, mode: str) -> None:
    request = LLMRequest(model="m", messages=[Message.user("x")], tool_choice=choice)
    body = GeminiCodec().encode_request(request)
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


def test_encode_result_uses_its_own_name_or_fails_clearly() -> None:
    named = ToolResultPart(call_id="zzz", content="ok", name="lookup")
    body = GeminiCodec().encode_request(
        LLMRequest(model="m", messages=[Message(role="tool", parts=[named])])
    )
    assert body["contents"][0]["parts"][0]["functionResponse"]["name"] == "lookup"
    orphan = ToolResultPart(call_id="zzz", content="ok")
    with pytest.raises(BadRequestError, match="by name"):
        GeminiCodec().encode_request(
            LLMRequest(model="m", messages=[Message(role="tool", parts=[orphan])])
        )


def test_encode_blobs_and_extra() -> None:
    request = LLMRequest(
        model="m",
        messages=[
            Message(
                role="user",
                parts=[
                    BlobPart(mime_type="image/png", data="iVBOR"),
                    BlobPart(mime_type="video/mp4", url="https://example.com/v.mp4"),
                    TextPart(text=""),
                ],
            )
        ],
        extra={
            "safetySettings": [
                {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}
            ]
        },
    )
    body = GeminiCodec().encode_request(request)
    assert body["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
        {"fileData": {"mimeType": "video/mp4", "fileUri": "https://example.com/v.mp4"}},
    ]
    assert body["safetySettings"][0]["threshold"] == "BLOCK_NONE"
    assert "generationConfig" not in body


def test_decode_function_calls_infers_tool_call_and_generates_ids() -> None:
    response = GeminiCodec().decode_response(GEMINI_FUNCTION_CALLS)
    assert response.finish_reason is FinishReason.TOOL_CALL  # Gemini said STOP
    paris, rome = response.tool_calls
    assert (paris.name, paris.arguments, paris.signature) == (
        "get_weather",
        {"location": "Paris"},
        "CiQB0e2Kb7Vq",
    )
    assert paris.id.startswith("call_")
    assert rome.id.startswith("call_")
    assert paris.id != rome.id
    assert response.usage == Usage(
        input_tokens=120,
        output_tokens=80,
        cache_read_tokens=64,
        reasoning_tokens=50,
    )
    assert response.model == "gemini-2.5-flash"
    assert response.id == "mAitaLmkHPPlz7IPvtfUqQ4"
    assert response.provider == "gcp.gemini"


def test_decode_keeps_call_ids_gemini_sent_and_inline_data() -> None:
    body = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"functionCall": {"id": "fc-1", "name": "f", "args": {}}},
                        {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
                        {"executableCode": {"language": "PYTHON", "code": "1"}},
                    ]
                },
                "finishReason": "STOP",
            }
        ]
    }
    response = GeminiCodec().decode_response(body)
    assert response.message.parts == (
        ToolCallPart(id="fc-1", name="f", arguments={}),
        BlobPart(mime_type="image/png", data="iVBOR"),
    )


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        ("MAX_TOKENS", FinishReason.LENGTH),
        ("SAFETY", FinishReason.CONTENT_FILTER),
        ("RECITATION", FinishReason.CONTENT_FILTER),
        ("MALFORMED_FUNCTION_CALL", FinishReason.ERROR),
        ("OTHER", FinishReason.ERROR),
    ],
)
def test_decode_finish_reasons(wire: str, reason: FinishReason) -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": wire}]}
    assert GeminiCodec().decode_response(body).finish_reason is reason


def test_decode_blocked_prompt_is_an_empty_content_filter_reply() -> None:
    body = {
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
    }
    response = GeminiCodec().decode_response(body)
    assert response.finish_reason is FinishReason.CONTENT_FILTER
    assert response.message.parts == ()
    assert response.usage.input_tokens == 8


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"candidates": [1]},
        {"candidates": [{"content": {"parts": [{"text": 3}]}}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]},
        {"candidates": [{"content": {"parts": "x"}}]},
        {"candidates": [], "usageMetadata": {"promptTokenCount": True}},
    ],
)
def test_decode_malformed(body: object) -> None:
    with pytest.raises(MalformedResponseError):
        GeminiCodec().decode_response(body)


def test_decode_error_object() -> None:
    body = {"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}
    with pytest.raises(ProviderError, match="Internal error"):
        GeminiCodec().decode_response(body)


def decode_stream(chunks: list[dict[str, object]]) -> list[object]:
    decoder = GeminiCodec().stream_decoder()
    events: list[object] = []
    for chunk in chunks:
        events.extend(decoder.feed(SSEEvent(data=json.dumps(chunk))))
    assert not decoder.done  # Gemini streams end when the connection does
    events.append(decoder.finish())
    return events


def test_stream_thoughts_and_text() -> None:
    events = decode_stream(GEMINI_STREAM)
    assert events == [
        ReasoningDelta(text="Thinking about it"),
        TextDelta(text="The sky"),
        TextDelta(text=" is blue."),
        StreamFinish(
            finish_reason=FinishReason.STOP,
            usage=Usage(input_tokens=9, output_tokens=12, reasoning_tokens=7),
            model="gemini-2.5-flash",
            id="resp-1",
        ),
    ]


def test_stream_function_calls_finish_as_tool_call() -> None:
    events = decode_stream([GEMINI_FUNCTION_CALLS])
    first, second, finish = events
    assert isinstance(first, ToolCallDelta)
    assert isinstance(second, ToolCallDelta)
    assert (first.index, second.index) == (0, 1)
    assert json.loads(first.arguments) == {"location": "Paris"}
    assert first.signature == "CiQB0e2Kb7Vq"
    assert isinstance(finish, StreamFinish)
    assert finish.finish_reason is FinishReason.TOOL_CALL
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)  # type: ignore[arg-type]
    calls = accumulator.response().tool_calls
    assert [c.arguments for c in calls] == [{"location": "Paris"}, {"location": "Rome"}]
    assert calls[0].id == first.id  # the generated id is the same in both views


def test_stream_blocked_prompt_and_truncation() -> None:
    decoder = GeminiCodec().stream_decoder()
    decoder.feed(SSEEvent(data=json.dumps({"promptFeedback": {"blockReason": "OTHER"}})))
    assert decoder.finish().finish_reason is FinishReason.CONTENT_FILTER
    cut = GeminiCodec().stream_decoder()
    cut.feed(SSEEvent(data=json.dumps(GEMINI_STREAM[0])))
    with pytest.raises(ProviderUnavailable):
        cut.finish()


def test_stream_error_chunk_and_inline_media_chunk() -> None:
    decoder = GeminiCodec().stream_decoder()
    media = {
        "candidates": [
            {
                "content": {
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": "x"}}]
                }
            }
        ]
    }
    assert decoder.feed(SSEEvent(data=json.dumps(media))) == []
    with pytest.raises(ProviderError, match="quota"):
        decoder.feed(
            SSEEvent(data=json.dumps({"error": {"code": 429, "message": "quota"}}))
        )


async def test_provider_urls_and_key_header() -> None:
    wire = Wire(
        httpx.Response(200, json=GEMINI_FUNCTION_CALLS),
        stream_response(sse(*((None, c) for c in GEMINI_STREAM), crlf=True)),
    )
    async with wire.client() as client:
        provider = GeminiProvider(api_key="AIza-secret", client=client)
        request = LLMRequest(
            model="models/gemini-2.5-flash", messages=[Message.user("x")]
        )
        response = await provider.complete(request)
        events = await collect(provider.stream(request))
    first, second = wire.requests
    base = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
    assert str(first.url) == f"{base}:generateContent"
    assert str(second.url) == f"{base}:streamGenerateContent?alt=sse"
    assert first.headers["x-goog-api-key"] == "AIza-secret"
    assert "key=" not in str(first.url)  # the key never travels in the URL
    assert response.finish_reason is FinishReason.TOOL_CALL
    assert isinstance(events[-1], StreamFinish)
    assert provider.name == "gcp.gemini"


def test_key_falls_back_to_google_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    assert GeminiProvider()._auth_headers() == {"x-goog-api-key": "google-key"}
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    assert GeminiProvider()._auth_headers() == {"x-goog-api-key": "gemini-key"}
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("GOOGLE_API_KEY")
    with pytest.raises(AuthenticationError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        GeminiProvider()


def test_round_trip_calls_and_results() -> None:
    codec = GeminiCodec()
    response = codec.decode_response(GEMINI_FUNCTION_CALLS)
    results = Message(
        role="tool",
        parts=[
            ToolResultPart(call_id=c.id, content="sunny") for c in response.tool_calls
        ],
    )
    body = codec.encode_request(
        LLMRequest(model="m", messages=[Message.user("x"), response.message, results])
    )
    sent_calls = body["contents"][1]["parts"]
    assert sent_calls == GEMINI_FUNCTION_CALLS["candidates"][0]["content"]["parts"]
    names = [p["functionResponse"]["name"] for p in body["contents"][2]["parts"]]
    assert names == ["get_weather", "get_weather"]
