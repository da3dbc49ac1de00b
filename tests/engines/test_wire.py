"""One conversation through the OpenAI, Anthropic and Gemini wire formats.

The user asks about two cities; the model calls ``get_weather`` for both in one
step; one call fails (an unknown city) and its error goes back as the vendor
expects; the model answers. The vendors' replies are shaped as their API
references document them; the assertions are on the JSON the engine made the
providers send.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import httpx

from llmgine.actors import ActorSystem
from llmgine.engines import ChatEngine, ChatResult, TurnEvent, UserInput, stream_turn
from llmgine.llm import (
    AnthropicProvider,
    GeminiProvider,
    OpenAIProvider,
    Role,
    TextDelta,
    ToolResultPart,
    Usage,
)
from llmgine.tools import ToolRegistry, tool

QUESTION = "What's the weather in Paris and Atlantis?"


@tool
def get_weather(city: str) -> str:
    """Get the current weather of a city.

    Args:
        city: City name.
    """
    if city == "Atlantis":
        raise LookupError(f"unknown city {city!r}")
    return f"{city}: 18 C, sunny"


WEATHER_SCHEMA = get_weather.spec.parameters


class Vendor:
    """A mock HTTP endpoint answering JSON bodies in order, recording requests."""

    def __init__(self, *answers: dict[str, Any] | bytes) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, bytes):
            return httpx.Response(
                200, content=answer, headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=answer, headers={"request-id": "req_1"})

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


async def chat(
    system: ActorSystem, provider_factory: Callable[[], Any], model: str
) -> ChatResult:
    engine = await system.spawn(
        functools.partial(
            ChatEngine,
            provider=provider_factory(),
            model=model,
            tools=ToolRegistry([get_weather]),
            system_prompt="Be brief.",
            max_tokens=256,
        ),
        name="chat",
    )
    result: ChatResult = await engine.ask(UserInput(text=QUESTION), timeout=10)
    return result


def check_engine_side(result: ChatResult, text: str, usage: Usage) -> None:
    assert result.text == text
    assert result.steps == 2
    assert result.usage == usage
    assert [m.role for m in result.messages] == [
        Role.USER, Role.ASSISTANT, Role.TOOL, Role.TOOL, Role.ASSISTANT
    ]  # fmt: skip
    paris, atlantis = (m.parts[0] for m in result.messages[2:4])
    assert isinstance(paris, ToolResultPart)
    assert isinstance(atlantis, ToolResultPart)
    assert (paris.content, paris.is_error, paris.name) == (
        "Paris: 18 C, sunny",
        False,
        "get_weather",
    )
    assert atlantis.is_error
    assert atlantis.content == "LookupError: unknown city 'Atlantis'"


# -- OpenAI Chat Completions ---------------------------------------------------

OPENAI_CALLS: dict[str, Any] = {
    "id": "chatcmpl-AX1",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_paris",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"city": "Paris"}',
                        },
                    },
                    {
                        "id": "call_atlantis",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"city": "Atlantis"}',
                        },
                    },
                ],
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 82, "completion_tokens": 40, "total_tokens": 122},
    "service_tier": "default",
}

OPENAI_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-AX2",
    "object": "chat.completion",
    "created": 1741569953,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Paris is sunny at 18 C; I don't know Atlantis.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 160,
        "completion_tokens": 15,
        "total_tokens": 175,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    },
}


async def test_openai_wire_format(system: ActorSystem) -> None:
    vendor = Vendor(OPENAI_CALLS, OPENAI_ANSWER)
    result = await chat(
        system,
        lambda: OpenAIProvider(api_key="sk-test", client=vendor.client()),
        "gpt-4o-mini",
    )
    check_engine_side(
        result,
        "Paris is sunny at 18 C; I don't know Atlantis.",
        Usage(input_tokens=242, output_tokens=55),
    )
    first, second = vendor.bodies
    assert str(vendor.requests[0].url) == "https://api.openai.com/v1/chat/completions"
    assert vendor.requests[0].headers["authorization"] == "Bearer sk-test"
    assert first == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": QUESTION},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Get the current weather of a city.",
                    "parameters": WEATHER_SCHEMA,
                },
            }
        ],
        "max_completion_tokens": 256,
    }
    assert second["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_paris",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_atlantis",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"city":"Atlantis"}',
                    },
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_paris", "content": "Paris: 18 C, sunny"},
        {
            "role": "tool",
            "tool_call_id": "call_atlantis",
            "content": "LookupError: unknown city 'Atlantis'",
        },
    ]


def sse(*chunks: dict[str, Any]) -> bytes:
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks]
    return "".join([*lines, "data: [DONE]\n\n"]).encode()


def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-S1",
        "object": "chat.completion.chunk",
        "created": 1741569954,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        ],
        "usage": None,
    }


async def test_openai_streaming_turn(system: ActorSystem) -> None:
    usage_chunk = chunk({}) | {
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }
    vendor = Vendor(
        sse(
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hello"}),
            chunk({"content": " there"}),
            chunk({}, finish="stop"),
            usage_chunk,
        )
    )
    engine = await system.spawn(
        functools.partial(
            ChatEngine,
            provider=OpenAIProvider(api_key="sk-test", client=vendor.client()),
            model="gpt-4o-mini",
        ),
        name="chat",
    )
    events: list[TurnEvent] = []
    async with stream_turn(engine, "Hi") as stream:
        async for event in stream:
            events.append(event)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello", " there"]
    assert stream.result is not None
    assert stream.result.text == "Hello there"
    assert stream.result.usage == Usage(input_tokens=12, output_tokens=4)
    [body] = vendor.bodies
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


# -- Anthropic Messages --------------------------------------------------------

ANTHROPIC_CALLS: dict[str, Any] = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "text", "text": "I'll check both cities."},
        {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {"city": "Paris"},
        },
        {
            "type": "tool_use",
            "id": "toolu_01B7Z5c2V1yLqX9s8kDdWm3e",
            "name": "get_weather",
            "input": {"city": "Atlantis"},
        },
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 400,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 90,
        "service_tier": "standard",
    },
}

ANTHROPIC_ANSWER: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Paris: sunny, 18 C. Atlantis is unknown."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 520,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 20,
    },
}


async def test_anthropic_wire_format(system: ActorSystem) -> None:
    vendor = Vendor(ANTHROPIC_CALLS, ANTHROPIC_ANSWER)
    result = await chat(
        system,
        lambda: AnthropicProvider(api_key="sk-ant-test", client=vendor.client()),
        "claude-sonnet-4-5",
    )
    check_engine_side(
        result,
        "Paris: sunny, 18 C. Atlantis is unknown.",
        Usage(input_tokens=920, output_tokens=110),
    )
    assert result.messages[1].text == "I'll check both cities."
    first, second = vendor.bodies
    assert str(vendor.requests[0].url) == "https://api.anthropic.com/v1/messages"
    assert vendor.requests[0].headers["x-api-key"] == "sk-ant-test"
    assert first == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}],
        "tools": [
            {
                "name": "get_weather",
                "description": "Get the current weather of a city.",
                "input_schema": WEATHER_SCHEMA,
            }
        ],
    }
    assert second["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll check both cities."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A09q90qw90lq917835lq9",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01B7Z5c2V1yLqX9s8kDdWm3e",
                    "name": "get_weather",
                    "input": {"city": "Atlantis"},
                },
            ],
        },
        # both results in one user turn, in the order of the calls
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                    "content": "Paris: 18 C, sunny",
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01B7Z5c2V1yLqX9s8kDdWm3e",
                    "content": "LookupError: unknown city 'Atlantis'",
                    "is_error": True,
                },
            ],
        },
    ]


# -- Gemini generateContent ----------------------------------------------------

GEMINI_CALLS: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {
                        "functionCall": {
                            "name": "get_weather",
                            "args": {"city": "Paris"},
                        },
                        "thoughtSignature": "CiQB0e2Kb7Vq",
                    },
                    {
                        "functionCall": {
                            "name": "get_weather",
                            "args": {"city": "Atlantis"},
                        }
                    },
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 120,
        "candidatesTokenCount": 30,
        "totalTokenCount": 150,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 120}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mAitaLmkHPPlz7IPvtfUqQ4",
}

GEMINI_ANSWER: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "Paris is sunny (18 C); Atlantis is not a city I know."}
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 200,
        "candidatesTokenCount": 16,
        "totalTokenCount": 216,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "nBjtaMmkHPPlz7IPvtfUqQ5",
}


async def test_gemini_wire_format(system: ActorSystem) -> None:
    vendor = Vendor(GEMINI_CALLS, GEMINI_ANSWER)
    result = await chat(
        system,
        lambda: GeminiProvider(api_key="AIza-test", client=vendor.client()),
        "gemini-2.5-flash",
    )
    check_engine_side(
        result,
        "Paris is sunny (18 C); Atlantis is not a city I know.",
        Usage(input_tokens=320, output_tokens=46),
    )
    # Gemini sends no call ids: the codec made them, and the results carry them
    calls = result.messages[1].tool_calls
    assert len({c.id for c in calls}) == 2
    assert [m.parts[0].call_id for m in result.messages[2:4]] == [c.id for c in calls]  # type: ignore[union-attr]
    first, second = vendor.bodies
    assert str(vendor.requests[0].url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/"
        "gemini-2.5-flash:generateContent"
    )
    assert vendor.requests[0].headers["x-goog-api-key"] == "AIza-test"
    assert first == {
        "contents": [{"role": "user", "parts": [{"text": QUESTION}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Get the current weather of a city.",
                        "parametersJsonSchema": WEATHER_SCHEMA,
                    }
                ]
            }
        ],
        "generationConfig": {"maxOutputTokens": 256},
    }
    assert second["contents"] == [
        {"role": "user", "parts": [{"text": QUESTION}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "CiQB0e2Kb7Vq",
                },
                {"functionCall": {"name": "get_weather", "args": {"city": "Atlantis"}}},
            ],
        },
        # matched by name, in the order of the calls, in one user turn
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"result": "Paris: 18 C, sunny"},
                    }
                },
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"error": "LookupError: unknown city 'Atlantis'"},
                    }
                },
            ],
        },
    ]
