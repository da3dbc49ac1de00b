"""Fuzz: the codecs read anything a vendor may send with only typed errors.

``decode_response`` and the stream decoders of OpenAI, Anthropic and Gemini
are fed random bodies and vendor bodies with values replaced, removed or
nested thousands deep; whatever comes, they return a response or raise an
:class:`~llmgine.LLMgineError` (a ``MalformedResponseError`` or the typed
error an error body describes).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from llm._wire_fixtures import (
    ANTHROPIC_STREAM,
    ANTHROPIC_TOOL_USE,
    GEMINI_FUNCTION_CALLS,
    GEMINI_STREAM,
    OPENAI_TEXT,
    OPENAI_TOOL_CALLS,
    OPENAI_TOOL_STREAM,
)

from llmgine import LLMgineError
from llmgine.llm import AnthropicCodec, GeminiCodec, LLMResponse, OpenAICodec
from llmgine.llm._sse import SSEEvent

from ._strategies import DEEP, deep_text, fuzz, json_values, mutated, odd_text

CODECS = {
    "openai": OpenAICodec(),
    "anthropic": AnthropicCodec(),
    "gemini": GeminiCodec(),
}
BODIES = {
    "openai": [OPENAI_TEXT, OPENAI_TOOL_CALLS],
    "anthropic": [ANTHROPIC_TOOL_USE],
    "gemini": [GEMINI_FUNCTION_CALLS],
}
STREAMS: dict[str, list[tuple[str, Any]]] = {
    "openai": [("message", chunk) for chunk in OPENAI_TOOL_STREAM],
    "anthropic": list(ANTHROPIC_STREAM),
    "gemini": [("message", chunk) for chunk in GEMINI_STREAM],
}


def decode(vendor: str, body: object) -> None:
    try:
        response = CODECS[vendor].decode_response(body)
    except LLMgineError:
        return
    assert isinstance(response, LLMResponse)
    repr(response)  # a reply is safe to show


bodies = st.sampled_from(sorted(CODECS)).flatmap(
    lambda vendor: st.tuples(
        st.just(vendor),
        st.one_of(
            json_values,
            st.sampled_from(BODIES[vendor]).flatmap(mutated),
        ),
    )
)


@fuzz
@given(case=bodies)
def test_decode_response_raises_only_typed_errors(case: tuple[str, object]) -> None:
    vendor, body = case
    decode(vendor, body)


@fuzz
@given(
    vendor=st.sampled_from(sorted(CODECS)),
    depth=st.sampled_from(DEEP),
    arguments=odd_text,
)
def test_tool_arguments_of_any_depth_never_escape(
    vendor: str, depth: int, arguments: str
) -> None:
    text = deep_text(depth) if depth > 128 else arguments
    body: object = {
        "openai": {
            "choices": [
                {
                    "message": {
                        "tool_calls": [
                            {"id": "c", "function": {"name": "f", "arguments": text}}
                        ]
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        },
        "anthropic": {
            "content": [{"type": "tool_use", "id": "c", "name": "f", "input": text}]
        },
        "gemini": {
            "candidates": [
                {"content": {"parts": [{"functionCall": {"name": "f", "args": text}}]}}
            ]
        },
    }[vendor]
    decode(vendor, body)


def _event_data(item: object) -> str:
    return item if isinstance(item, str) else json.dumps(item, allow_nan=True)


@st.composite
def streams(draw: st.DrawFn) -> tuple[str, list[SSEEvent]]:
    vendor = draw(st.sampled_from(sorted(CODECS)))
    base = STREAMS[vendor]
    events: list[SSEEvent] = []
    for name, chunk in base:
        roll = draw(st.integers(min_value=0, max_value=9))
        if roll == 0:
            continue  # lost
        if roll == 1:
            data: object = draw(mutated(chunk))
        elif roll == 2:
            data = draw(odd_text)
        else:
            data = chunk
        try:
            text = _event_data(data)
        except (ValueError, RecursionError):
            text = deep_text(1000)
        events.append(SSEEvent(event=name, data=text))
    if draw(st.booleans()):
        extra = draw(st.lists(st.one_of(odd_text, json_values.map(repr)), max_size=3))
        events.extend(SSEEvent(data=text) for text in extra)
    return vendor, events


@fuzz
@given(case=streams())
def test_stream_decoders_raise_only_typed_errors(
    case: tuple[str, list[SSEEvent]],
) -> None:
    vendor, events = case
    decoder = CODECS[vendor].stream_decoder()
    try:
        for event in events:
            decoder.feed(event)
        decoder.finish()
    except LLMgineError:
        pass
