"""Anthropic server tools through a chat engine, over the Messages API wire format.

A web search the API pauses (``stop_reason: "pause_turn"``) goes on: the
engine sends the conversation back, the paused reply included and nothing
added, and the model finishes its answer. A turn that mixes a server tool
with a client tool sends the whole assistant message back with the client
tool's result, server blocks verbatim. The replies are shaped as the API
documents them; the assertions are on the JSON the engine made the provider
send.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmgine._exceptions import MaxStepsExceeded
from llmgine.actors import ActorSystem
from llmgine.engines import (
    ChatEngine,
    ChatResult,
    Conversation,
    SQLiteConversationStore,
    TurnEvent,
    UserInput,
    stream_turn,
)
from llmgine.llm import (
    AnthropicProvider,
    ProviderDelta,
    ProviderPart,
    Role,
    TextDelta,
    Usage,
)
from llmgine.tools import ToolRegistry, tool

QUESTION = "What happened in quantum computing this year?"
SEARCH_ID = "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE"
WEB_SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}


@tool
def get_weather(city: str) -> str:
    """Get the current weather of a city.

    Args:
        city: City name.
    """
    return f"{city}: 18 C, sunny"


def message(
    content: list[dict[str, Any]], stop: str, usage: tuple[int, int]
) -> dict[str, Any]:
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage[0],
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": usage[1],
            "server_tool_use": {"web_search_requests": 1},
        },
    }


SEARCH_USE = {
    "type": "server_tool_use",
    "id": SEARCH_ID,
    "name": "web_search",
    "input": {"query": "quantum computing breakthroughs 2025"},
}
SEARCH_RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": SEARCH_ID,
    "content": [
        {
            "type": "web_search_result",
            "url": "https://example.com/quantum-2025",
            "title": "Quantum computing in 2025",
            "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1mZjM5LTQ1NGUt",
            "page_age": "March 3, 2025",
        }
    ],
}
PAUSED = message(
    [{"type": "text", "text": "Let me search for this."}, SEARCH_USE, SEARCH_RESULT],
    "pause_turn",
    (2679, 120),
)
FINISHED = message(
    [{"type": "text", "text": "Error correction went below threshold."}],
    "end_turn",
    (5210, 40),
)
WEATHER_CALL = {
    "type": "tool_use",
    "id": "toolu_01A09q90qw90lq917835lq9",
    "name": "get_weather",
    "input": {"city": "Paris"},
}
MIXED = message(
    [
        {"type": "text", "text": "I'll search and check the weather."},
        SEARCH_USE,
        SEARCH_RESULT,
        WEATHER_CALL,
    ],
    "tool_use",
    (3000, 90),
)


def events_of(body: dict[str, Any]) -> bytes:
    """The event stream the Messages API sends for ``body``, as documented."""
    start = {**body, "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": body["usage"]["input_tokens"], "output_tokens": 1}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(body["content"]):
        deltas: list[dict[str, Any]] = []
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas.append({"type": "text_delta", "text": block["text"]})
        elif "input" in block:
            opening = {**block, "input": {}}
            arguments = json.dumps(block["input"])
            deltas += [
                {"type": "input_json_delta", "partial_json": arguments[:9]},
                {"type": "input_json_delta", "partial_json": arguments[9:]},
            ]
        else:
            opening = block
        events.append(
            {"type": "content_block_start", "index": index, "content_block": opening}
        )
        events += [
            {"type": "content_block_delta", "index": index, "delta": d} for d in deltas
        ]
        events.append({"type": "content_block_stop", "index": index})
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": body["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": body["usage"]["output_tokens"]},
        }
    )
    events.append({"type": "message_stop"})
    return "".join(
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events
    ).encode()


class Vendor:
    """A mock Messages endpoint answering in order and recording what was sent."""

    def __init__(self, *answers: dict[str, Any], stream: bool = False) -> None:
        self.answers = list(answers)
        self.stream = stream
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if self.stream:
            return httpx.Response(
                200,
                content=events_of(answer),
                headers={"content-type": "text/event-stream"},
            )
        return httpx.Response(200, json=answer)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def provider(self) -> AnthropicProvider:
        return AnthropicProvider(
            api_key="sk-ant-test",
            client=httpx.AsyncClient(transport=httpx.MockTransport(self)),
            server_tools=[WEB_SEARCH_TOOL],
        )


async def ask(
    system: ActorSystem, vendor: Vendor, *, stream: bool = False, **options: Any
) -> tuple[ChatResult, list[TurnEvent]]:
    engine = await system.spawn(
        functools.partial(
            ChatEngine, provider=vendor.provider(), model="claude-sonnet-4-5", **options
        ),
        name="chat",
    )
    if not stream:
        result: ChatResult = await engine.ask(UserInput(text=QUESTION), timeout=10)
        return result, []
    events: list[TurnEvent] = []
    async with stream_turn(engine, QUESTION) as turn:
        async for event in turn:
            events.append(event)
    assert turn.result is not None
    return turn.result, events


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_a_paused_turn_goes_on_with_the_paused_reply(
    system: ActorSystem, stream: bool
) -> None:
    vendor = Vendor(PAUSED, FINISHED, stream=stream)
    result, events = await ask(system, vendor, stream=stream)
    assert result.text == "Error correction went below threshold."
    assert result.steps == 2
    assert result.usage == Usage(input_tokens=2679 + 5210, output_tokens=160)
    assert [m.role for m in result.messages] == [
        Role.USER, Role.ASSISTANT, Role.ASSISTANT
    ]  # fmt: skip
    assert result.messages[1].parts[1:] == (
        ProviderPart(provider="anthropic", data=SEARCH_USE),
        ProviderPart(provider="anthropic", data=SEARCH_RESULT),
    )
    first, second = vendor.bodies
    assert first["tools"] == [WEB_SEARCH_TOOL]
    assert first["messages"] == [user(QUESTION)]
    # the paused reply goes back as the API sent it, with nothing added after it
    assert second["messages"] == [
        user(QUESTION),
        {"role": "assistant", "content": PAUSED["content"]},
    ]
    assert second["tools"] == [WEB_SEARCH_TOOL]
    if stream:
        texts = [e.text for e in events if isinstance(e, TextDelta)]
        assert texts == ["Let me search for this.", FINISHED["content"][0]["text"]]
        # server blocks stay in the reply: the turn's reader sees no such event
        assert not any(isinstance(e, ProviderDelta) for e in events)


async def test_a_pause_counts_against_max_steps(system: ActorSystem) -> None:
    vendor = Vendor(PAUSED, PAUSED)
    with pytest.raises(MaxStepsExceeded, match="max_steps=2"):
        await ask(system, vendor, max_steps=2)
    assert len(vendor.requests) == 2


@pytest.mark.parametrize("stream", [False, True], ids=["complete", "stream"])
async def test_server_blocks_go_back_verbatim_with_a_client_tool_result(
    system: ActorSystem, stream: bool
) -> None:
    vendor = Vendor(MIXED, FINISHED, stream=stream)
    result, _ = await ask(
        system, vendor, stream=stream, tools=ToolRegistry([get_weather])
    )
    assert result.text == "Error correction went below threshold."
    assert result.steps == 2
    first, second = vendor.bodies
    assert [t["name"] for t in first["tools"]] == ["get_weather", "web_search"]
    assert first["tools"][1] == WEB_SEARCH_TOOL
    assert second["messages"] == [
        user(QUESTION),
        {"role": "assistant", "content": MIXED["content"]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": WEATHER_CALL["id"],
                    "content": "Paris: 18 C, sunny",
                }
            ],
        },
    ]


async def test_server_blocks_survive_a_durable_turn_in_sqlite(
    system: ActorSystem, tmp_path: Path
) -> None:
    path = tmp_path / "conversations.sqlite3"
    vendor = Vendor(PAUSED, MIXED, FINISHED)
    result, _ = await ask(
        system,
        vendor,
        tools=ToolRegistry([get_weather]),
        conversation=Conversation("c", store=SQLiteConversationStore(path)),
        durable=True,
    )
    assert result.steps == 3
    # a fresh store on the same file reads back the very messages of the turn
    stored = await SQLiteConversationStore(path).load("c")
    assert stored == list(result.messages)
    parts = [p for m in stored for p in m.parts if isinstance(p, ProviderPart)]
    assert [p.data for p in parts] == [SEARCH_USE, SEARCH_RESULT] * 2
    # and the third request carried both replies' server blocks back verbatim
    third = vendor.bodies[2]
    assert third["messages"][1] == {
        "role": "assistant",
        "content": PAUSED["content"] + MIXED["content"],
    }
