"""One LLMRequest, three vendors: OpenAI, Anthropic and Gemini.

The request is written once, in llmgine's provider-neutral contract; each
provider encodes it in its vendor's wire format and decodes the reply back into
the same ``LLMResponse`` shape (tool calls, finish reason, usage).

Offline (the default) every provider talks to an ``httpx.MockTransport`` that
answers as the vendor's API documents it. With ``OPENAI_API_KEY``,
``ANTHROPIC_API_KEY`` or ``GEMINI_API_KEY`` set, that vendor is called for real.

Run: python examples/provider_switching.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import trio

from llmgine.llm import (
    AnthropicProvider,
    GeminiProvider,
    LLMRequest,
    Message,
    OpenAIProvider,
    Provider,
    ToolSpec,
)

REQUEST = LLMRequest(
    model="(set per vendor)",
    system="You are a weather assistant. Use the tool.",
    messages=[Message.user("What's the weather in Paris?")],
    tools=[
        ToolSpec(
            name="get_weather",
            description="Get the current weather in a city.",
            parameters={
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        )
    ],
    temperature=0.0,
    max_tokens=200,
)

# What each vendor's API answers to that request (shapes from their references).
OPENAI_REPLY = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": '{"city": "Paris"}',
                        },
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 71, "completion_tokens": 15, "total_tokens": 86},
}
ANTHROPIC_REPLY = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-20241022",
    "content": [
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "toolu_01",
            "name": "get_weather",
            "input": {"city": "Paris"},
        },
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 390, "output_tokens": 54},
}
GEMINI_REPLY = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
                ],
            },
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {"promptTokenCount": 52, "candidatesTokenCount": 5},
    "modelVersion": "gemini-2.0-flash",
    "responseId": "resp-1",
}


def vendor(reply: dict[str, Any]) -> Callable[[httpx.Request], httpx.Response]:
    """A mock API answering ``reply``; it prints the wire body it was sent."""

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        print(f"  POST {request.url.path}  body keys: {sorted(body)}")
        return httpx.Response(200, json=reply)

    return handle


VENDORS: list[tuple[str, str, type, str, dict[str, Any]]] = [
    ("openai", "gpt-4o-mini", OpenAIProvider, "OPENAI_API_KEY", OPENAI_REPLY),
    (
        "anthropic",
        "claude-3-5-haiku-latest",
        AnthropicProvider,
        "ANTHROPIC_API_KEY",
        ANTHROPIC_REPLY,
    ),
    ("gemini", "gemini-2.0-flash", GeminiProvider, "GEMINI_API_KEY", GEMINI_REPLY),
]


async def main() -> None:
    for name, model, kind, key_variable, reply in VENDORS:
        live = bool(os.environ.get(key_variable))
        print(f"{name} ({'live' if live else 'offline, MockTransport'}):")
        client = (
            None
            if live
            else httpx.AsyncClient(transport=httpx.MockTransport(vendor(reply)))
        )
        provider: Provider = kind(api_key=None if live else "offline-key", client=client)
        try:
            response = await provider.complete(attrs.evolve(REQUEST, model=model))
        finally:
            await provider.aclose()
            if client is not None:
                await client.aclose()
        calls = [(c.name, c.arguments) for c in response.tool_calls]
        print(f"  -> provider={response.provider} model={response.model}")
        print(f"     finish_reason={response.finish_reason} tool_calls={calls}")
        usage = response.usage
        print(f"     usage: in={usage.input_tokens} out={usage.output_tokens}")


if __name__ == "__main__":
    trio.run(main)
