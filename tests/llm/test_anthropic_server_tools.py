"""Anthropic server tools and the MCP connector: never client tool calls.

Fixtures follow the documented shapes of the Messages API: web search, web
fetch, code execution and the MCP connector (``server_tool_use``,
``mcp_tool_use`` and their ``*_tool_result`` blocks), a refusal, and a turn
that mixes a server tool with a client tool. Every reply is checked twice:
as a ``message`` body (``complete()``) and as the event stream the API sends
for it (``stream()``), which must agree.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmgine._exceptions import MalformedResponseError
from llmgine.llm import (
    AnthropicCodec,
    AnthropicProvider,
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    SSEEvent,
    StreamAccumulator,
    ToolCallDelta,
    ToolCallPart,
)
from llmgine.llm._anthropic import _FINISH, AnthropicStreamDecoder

from .conftest import Wire, collect, sse, stream_response

SEARCH_ID = "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE"
FETCH_ID = "srvtoolu_01234567890abcdef"
CODE_ID = "srvtoolu_01B3C4D5E6F7G8H9I0J1K2L3"
MCP_ID = "mcptoolu_014Q35RayjACSWkSj4X2yov1"


def message(content: list[dict[str, Any]], stop: str = "end_turn") -> dict[str, Any]:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 6039,
            "output_tokens": 931,
            "server_tool_use": {"web_search_requests": 1},
        },
    }


WEB_SEARCH = message(
    [
        {"type": "text", "text": "I'll search for when Claude Shannon was born."},
        {
            "type": "server_tool_use",
            "id": SEARCH_ID,
            "name": "web_search",
            "input": {"query": "claude shannon birth date"},
        },
        {
            "type": "web_search_tool_result",
            "tool_use_id": SEARCH_ID,
            "content": [
                {
                    "type": "web_search_result",
                    "url": "https://en.wikipedia.org/wiki/Claude_Shannon",
                    "title": "Claude Shannon - Wikipedia",
                    "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1mZjM5LTQ1NGUt",
                    "page_age": "April 30, 2025",
                }
            ],
        },
        {"type": "text", "text": "Based on the search results, "},
        {
            "type": "text",
            "text": "Claude Shannon was born on April 30, 1916, in Petoskey, Michigan",
            "citations": [
                {
                    "type": "web_search_result_location",
                    "url": "https://en.wikipedia.org/wiki/Claude_Shannon",
                    "title": "Claude Shannon - Wikipedia",
                    "encrypted_index": "Eo8BCioIAhgBIiQyYjQ0OWJmZi1lNm",
                    "cited_text": "Claude Elwood Shannon (April 30, 1916 - 2001)",
                }
            ],
        },
    ]
)

WEB_FETCH = message(
    [
        {"type": "text", "text": "I'll fetch the content from the article."},
        {
            "type": "server_tool_use",
            "id": FETCH_ID,
            "name": "web_fetch",
            "input": {"url": "https://example.com/article"},
        },
        {
            "type": "web_fetch_tool_result",
            "tool_use_id": FETCH_ID,
            "content": {
                "type": "web_fetch_result",
                "url": "https://example.com/article",
                "content": {
                    "type": "document",
                    "source": {
                        "type": "text",
                        "media_type": "text/plain",
                        "data": "Full text content of the article...",
                    },
                    "title": "Article Title",
                    "citations": {"enabled": True},
                },
                "retrieved_at": "2025-08-25T10:30:00Z",
            },
        },
        {"type": "text", "text": "The article says the content is full text."},
    ]
)

CODE_EXECUTION = message(
    [
        {
            "type": "server_tool_use",
            "id": CODE_ID,
            "name": "bash_code_execution",
            "input": {"command": "python -c 'print(2 ** 10)'"},
        },
        {
            "type": "bash_code_execution_tool_result",
            "tool_use_id": CODE_ID,
            "content": {
                "type": "bash_code_execution_result",
                "stdout": "1024\n",
                "stderr": "",
                "return_code": 0,
            },
        },
        {"type": "text", "text": "2 ** 10 is 1024."},
    ]
)

MCP_CONNECTOR = message(
    [
        {"type": "text", "text": "I'll use the echo tool."},
        {
            "type": "mcp_tool_use",
            "id": MCP_ID,
            "name": "echo",
            "server_name": "example-mcp",
            "input": {"param1": "value1", "param2": "value2"},
        },
        {
            "type": "mcp_tool_result",
            "tool_use_id": MCP_ID,
            "is_error": False,
            "content": [{"type": "text", "text": "Hello"}],
        },
        {"type": "text", "text": "The server said Hello."},
    ]
)

PAUSED = message(
    [
        {
            "type": "server_tool_use",
            "id": SEARCH_ID,
            "name": "web_search",
            "input": {"query": "quantum computing breakthroughs 2025"},
        }
    ],
    stop="pause_turn",
)

REFUSED = message(
    [
        {"type": "text", "text": "Let me look that up."},
        {
            "type": "server_tool_use",
            "id": SEARCH_ID,
            "name": "web_search",
            "input": {"query": "something refused"},
        },
    ],
    stop="refusal",
)

MIXED = message(
    [
        {
            "type": "server_tool_use",
            "id": SEARCH_ID,
            "name": "web_search",
            "input": {"query": "weather San Francisco"},
        },
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"location": "San Francisco, CA"},
        },
    ],
    stop="tool_use",
)

REPLIES = {
    "web_search": WEB_SEARCH,
    "web_fetch": WEB_FETCH,
    "code_execution": CODE_EXECUTION,
    "mcp_connector": MCP_CONNECTOR,
    "pause_turn": PAUSED,
    "refusal": REFUSED,
    "mixed": MIXED,
}
CLIENT_KINDS = ("text", "thinking", "tool_use")


def events_for(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The event stream the Messages API sends for ``body``, as documented.

    Text streams as ``text_delta`` (and ``citations_delta``) pieces; a tool
    use block, client, server or MCP, starts with an empty ``input`` that
    ``input_json_delta`` pieces fill (the first one empty); result blocks
    arrive whole in their ``content_block_start``.
    """
    start = {**body, "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": body["usage"]["input_tokens"], "output_tokens": 1}
    out: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    for index, block in enumerate(body["content"]):
        kind = block["type"]
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            text = block["text"]
            half = len(text) // 2
            deltas += [
                {"type": "text_delta", "text": text[:half]},
                {"type": "text_delta", "text": text[half:]},
            ]
            if "citations" in block:
                opening["citations"] = []
                deltas += [
                    {"type": "citations_delta", "citation": c} for c in block["citations"]
                ]
        elif "input" in block:
            opening = {**block, "input": {}}
            arguments = json.dumps(block["input"])
            deltas += [
                {"type": "input_json_delta", "partial_json": ""},
                {"type": "input_json_delta", "partial_json": arguments[:7]},
                {"type": "input_json_delta", "partial_json": arguments[7:]},
            ]
        else:
            opening = block
        out.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opening},
            )
        )
        out.extend(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
            for delta in deltas
        )
        out.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    out.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": body["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": body["usage"]["output_tokens"]},
            },
        )
    )
    out.append(("message_stop", {"type": "message_stop"}))
    return out


def decode_stream(
    events: list[tuple[str, dict[str, Any]]],
) -> tuple[list[Any], LLMResponse, AnthropicStreamDecoder]:
    decoder = AnthropicCodec().stream_decoder()
    accumulator = StreamAccumulator()
    deltas = []
    for name, data in events:
        for delta in decoder.feed(SSEEvent(event=name, data=json.dumps(data))):
            deltas.append(delta)
            accumulator.add(delta)
    accumulator.add(decoder.finish())
    return deltas, accumulator.response(provider="anthropic"), decoder


def server_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in body["content"] if b["type"] not in CLIENT_KINDS]


@pytest.mark.parametrize("name", sorted(set(REPLIES) - {"mixed"}))
def test_server_tools_are_not_client_tool_calls(name: str) -> None:
    body = REPLIES[name]
    whole = AnthropicCodec().decode_response(body)
    deltas, streamed, decoder = decode_stream(events_for(body))
    for response in (whole, streamed):
        assert response.tool_calls == ()
        assert response.message.text == "".join(
            b["text"] for b in body["content"] if b["type"] == "text"
        )
    assert not any(isinstance(d, ToolCallDelta) for d in deltas)
    # both paths say the same about why the model stopped
    assert streamed.finish_reason == whole.finish_reason == _FINISH[body["stop_reason"]]
    # nothing is lost: the reply's raw message and the decoder keep the blocks
    assert whole.raw is not None
    assert whole.raw["content"] == body["content"]
    assert decoder.server_blocks == server_blocks(body)


def test_a_streamed_refusal_stays_content_filter() -> None:
    _, streamed, _ = decode_stream(events_for(REFUSED))
    assert streamed.finish_reason is FinishReason.CONTENT_FILTER
    assert AnthropicCodec().decode_response(REFUSED).finish_reason is (
        FinishReason.CONTENT_FILTER
    )


def test_a_mixed_turn_calls_only_the_client_tool() -> None:
    whole = AnthropicCodec().decode_response(MIXED)
    deltas, streamed, decoder = decode_stream(events_for(MIXED))
    call = ToolCallPart(
        id="toolu_01A09q90qw90lq917835lq9",
        name="get_weather",
        arguments={"location": "San Francisco, CA"},
    )
    assert whole.tool_calls == streamed.tool_calls == (call,)
    assert whole.finish_reason is streamed.finish_reason is FinishReason.TOOL_CALL
    assert {d.index for d in deltas if isinstance(d, ToolCallDelta)} == {1}
    assert decoder.server_blocks == server_blocks(MIXED)


# The stream of a web search exactly as the streaming documentation shows it:
# the server tool's input arrives in pieces, its result whole at block start.
DOCUMENTED_SEARCH_STREAM = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_01G1nYHu2RrePmdqDZDWGuKi",
                "type": "message",
                "role": "assistant",
                "model": "claude-opus-4-1-20250805",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": 2679,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 3,
                },
            },
        },
    ),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "I'll check the weather."},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "server_tool_use",
                "id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
                "name": "web_search",
                "input": {},
            },
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"query'},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {
                "type": "input_json_delta",
                "partial_json": '": "weather NYC today"}',
            },
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
                "content": [
                    {
                        "type": "web_search_result",
                        "title": "Weather in New York City in May 2025",
                        "url": "https://world-weather.info/forecast/usa/new_york/may-2025/",
                        "encrypted_content": "Ev0DCioIAxgCIiQ3NmU4ZmI4OC1k",
                        "page_age": None,
                    }
                ],
            },
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 2}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {"type": "text", "text": ""},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "text_delta", "text": "It is sunny in New York."},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 3}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {
                "output_tokens": 510,
                "server_tool_use": {"web_search_requests": 1},
            },
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]


async def test_a_provider_streams_a_web_search_without_tool_calls() -> None:
    body = sse(*DOCUMENTED_SEARCH_STREAM)
    wire = Wire(stream_response(body), stream_response(body))
    provider = AnthropicProvider(api_key="sk-test", client=wire.client())
    request = LLMRequest(model="claude-opus-4-1", messages=[Message.user("weather?")])
    events = await collect(provider.stream(request))
    assert not any(isinstance(e, ToolCallDelta) for e in events)
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)
    reply = accumulator.response()
    assert reply.text == "I'll check the weather.It is sunny in New York."
    assert reply.finish_reason is FinishReason.STOP
    assert reply.usage.output_tokens == 510
    # complete() with stream=True accumulates the same stream
    again = await provider.complete(
        LLMRequest(model="claude-opus-4-1", messages=[Message.user("w?")], stream=True)
    )
    assert again.tool_calls == ()
    assert again.finish_reason is FinishReason.STOP


def test_the_documented_stream_keeps_the_server_blocks() -> None:
    _, _, decoder = decode_stream(DOCUMENTED_SEARCH_STREAM)
    tool_use, result = decoder.server_blocks
    assert tool_use == {
        "type": "server_tool_use",
        "id": "srvtoolu_014hJH82Qum7Td6UV8gDXThB",
        "name": "web_search",
        "input": {"query": "weather NYC today"},
    }
    assert result["type"] == "web_search_tool_result"
    assert result["content"][0]["encrypted_content"] == "Ev0DCioIAxgCIiQ3NmU4ZmI4OC1k"


async def test_a_complete_call_keeps_server_blocks_in_raw() -> None:
    wire = Wire(httpx.Response(200, json=MCP_CONNECTOR))
    provider = AnthropicProvider(api_key="sk-test", client=wire.client())
    reply = await provider.complete(
        LLMRequest(model="claude-sonnet-4-5", messages=[Message.user("echo")])
    )
    assert reply.tool_calls == ()
    assert reply.raw is not None
    assert [b["type"] for b in reply.raw["content"]] == [
        "text",
        "mcp_tool_use",
        "mcp_tool_result",
        "text",
    ]


@pytest.mark.parametrize("reason", [*sorted(_FINISH), "something_new", None])
def test_stop_reasons_map_identically_in_both_paths(reason: str | None) -> None:
    body = message([{"type": "text", "text": "ok"}], stop="end_turn")
    body["stop_reason"] = reason
    whole = AnthropicCodec().decode_response(body)
    events = events_for(body)
    if reason is None:  # a stream whose message_delta names no stop reason
        events = [e for e in events if e[0] != "message_delta"]
    _, streamed, _ = decode_stream(events)
    assert streamed.finish_reason is whole.finish_reason
    assert whole.finish_reason is _FINISH.get(str(reason), FinishReason.STOP)


def test_a_json_delta_for_a_block_that_never_started_is_malformed() -> None:
    decoder = AnthropicStreamDecoder()
    delta = {
        "type": "content_block_delta",
        "index": 4,
        "delta": {"type": "input_json_delta", "partial_json": '{"q": 1}'},
    }
    with pytest.raises(MalformedResponseError, match="content block 4"):
        decoder.feed(SSEEvent(event="content_block_delta", data=json.dumps(delta)))


def test_server_input_that_is_not_json_is_kept_as_text() -> None:
    events = events_for(PAUSED)
    for _, data in events:
        delta = data.get("delta", {})
        if delta.get("type") == "input_json_delta" and delta["partial_json"]:
            delta["partial_json"] = "{not json"
            break
    _, _, decoder = decode_stream(events)
    (block,) = decoder.server_blocks
    assert isinstance(block["input"], str)
    assert block["input"].startswith("{not json")
