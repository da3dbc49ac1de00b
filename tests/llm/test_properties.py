"""Properties: any valid request encodes to a shape each vendor accepts; decoding
anything raises nothing but the provider error tree."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmgine._exceptions import ProviderError
from llmgine.llm import (
    AnthropicCodec,
    BlobPart,
    Codec,
    GeminiCodec,
    LLMRequest,
    Message,
    OpenAICodec,
    ReasoningPart,
    SSEEvent,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)

from . import _wire_fixtures as fx
from ._shapes import validate_anthropic, validate_gemini, validate_openai

names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,20}", fullmatch=True)
texts = st.text(max_size=30)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
arguments = st.dictionaries(names, json_values, max_size=3) | texts
blobs = st.builds(
    BlobPart,
    mime_type=st.sampled_from(
        ["image/png", "image/jpeg", "application/pdf", "audio/wav"]
    ),
    data=st.just("aGVsbG8="),
) | st.builds(
    BlobPart, mime_type=st.just("image/png"), url=st.just("https://x.test/a.png")
)


@st.composite
def conversations(draw: st.DrawFn) -> list[Message]:
    messages = [Message(role="user", parts=[TextPart(text=draw(texts))])]
    counter = 0
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["user", "assistant", "tools", "system"]))
        if kind == "system":
            messages.append(Message.system(draw(texts)))
        elif kind == "user":
            parts = draw(
                st.lists(st.builds(TextPart, text=texts) | blobs, min_size=1, max_size=3)
            )
            messages.append(Message(role="user", parts=parts))
        elif kind == "assistant":
            messages.append(Message.assistant(draw(texts)))
        else:
            calls = []
            for _ in range(draw(st.integers(1, 3))):
                counter += 1
                calls.append(
                    ToolCallPart(
                        id=f"call_{counter}", name=draw(names), arguments=draw(arguments)
                    )
                )
            reasoning = draw(
                st.lists(
                    st.builds(ReasoningPart, text=texts, signature=st.none() | texts),
                    max_size=1,
                )
            )
            messages.append(
                Message(
                    role="assistant",
                    parts=[*reasoning, TextPart(text=draw(texts)), *calls],
                )
            )
            results = [
                ToolResultPart(
                    call_id=c.id, content=draw(texts), is_error=draw(st.booleans())
                )
                for c in calls
            ]
            messages.append(Message(role="tool", parts=results))
    return messages


tool_specs = st.builds(
    ToolSpec,
    name=names,
    description=texts,
    parameters=st.just({"type": "object", "properties": {"x": {"type": "string"}}}),
)


@st.composite
def requests(draw: st.DrawFn) -> LLMRequest:
    tools = draw(st.lists(tool_specs, max_size=3, unique_by=lambda t: t.name))
    choice = draw(
        st.none()
        | st.sampled_from([ToolChoice(mode=m) for m in ("auto", "none", "required")])
        | (
            st.sampled_from([ToolChoice.tool(t.name) for t in tools])
            if tools
            else st.none()
        )
    )
    return LLMRequest(
        model=draw(names),
        messages=draw(conversations()),
        system=draw(st.none() | texts),
        tools=tools,
        tool_choice=choice,
        temperature=draw(st.none() | st.floats(0, 2)),
        max_tokens=draw(st.none() | st.integers(1, 10_000)),
        top_p=draw(st.none() | st.floats(0, 1)),
        stop=draw(st.lists(st.text(min_size=1, max_size=5), max_size=2)),
        seed=draw(st.none() | st.integers(0, 2**31)),
        response_schema=draw(st.none() | st.just({"type": "object"})),
        stream=draw(st.booleans()),
    )


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_every_vendor_accepts_every_encoded_request(request: LLMRequest) -> None:
    validate_openai(OpenAICodec().encode_request(request))
    validate_anthropic(AnthropicCodec().encode_request(request))
    validate_gemini(GeminiCodec().encode_request(request))


@given(st.dictionaries(names, json_values, max_size=3))
def test_extra_is_merged_untouched(extra: dict[str, Any]) -> None:
    request = LLMRequest(model="m", messages=[Message.user("hi")], extra=extra)
    for codec in (OpenAICodec(), AnthropicCodec(), GeminiCodec()):
        body = codec.encode_request(request)
        assert all(body[k] == v for k, v in extra.items())


CODECS: list[Codec] = [OpenAICodec(), AnthropicCodec(), GeminiCodec()]
FIXTURES = [
    fx.OPENAI_TEXT,
    fx.OPENAI_TOOL_CALLS,
    fx.ANTHROPIC_TOOL_USE,
    fx.GEMINI_FUNCTION_CALLS,
    *fx.GEMINI_STREAM,
]


def mutate(value: Any, data: st.DataObject) -> Any:
    """The value with one nested element replaced by an arbitrary JSON value."""
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value)))
        return {**value, key: mutate(value[key], data)}
    if isinstance(value, list) and value and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(value) - 1))
        return [*value[:i], mutate(value[i], data), *value[i + 1 :]]
    return data.draw(json_values)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CODECS), json_values)
def test_decoding_arbitrary_json_raises_only_provider_errors(
    codec: Codec, body: object
) -> None:
    with contextlib.suppress(ProviderError):
        codec.decode_response(body)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CODECS), st.sampled_from(FIXTURES), st.data())
def test_decoding_damaged_bodies_raises_only_provider_errors(
    codec: Codec, fixture: Any, data: st.DataObject
) -> None:
    with contextlib.suppress(ProviderError):
        codec.decode_response(mutate(fixture, data))


STREAM_FIXTURES = [
    *(json.dumps(c) for c in fx.OPENAI_TOOL_STREAM),
    *(json.dumps(d) for _, d in fx.ANTHROPIC_STREAM),
    *(json.dumps(c) for c in fx.GEMINI_STREAM),
]


@given(st.sampled_from(CODECS), st.sampled_from(STREAM_FIXTURES), st.data())
def test_stream_decoders_raise_only_provider_errors(
    codec: Codec, fixture: str, data: st.DataObject
) -> None:
    damaged = json.dumps(mutate(json.loads(fixture), data))
    raw = data.draw(st.sampled_from([damaged, fixture[: len(fixture) // 2], "[DONE]"]))
    decoder = codec.stream_decoder()
    try:
        decoder.feed(SSEEvent(data=raw))
        decoder.finish()
    except ProviderError:
        pass


@pytest.mark.parametrize("codec", CODECS)
def test_fixtures_decode_cleanly(codec: Codec) -> None:
    """The damage tests start from bodies each codec reads (for its own vendor)."""
    own = {
        OpenAICodec: [fx.OPENAI_TEXT, fx.OPENAI_TOOL_CALLS],
        AnthropicCodec: [fx.ANTHROPIC_TOOL_USE],
        GeminiCodec: [fx.GEMINI_FUNCTION_CALLS],
    }[type(codec)]
    for body in own:
        assert codec.decode_response(body).message.role == "assistant"
