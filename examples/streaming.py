"""Streaming: a provider's reply as it is generated, and a whole chat turn live.

``provider.stream(request)`` yields text deltas, tool-call pieces and one
finish event. A ``ChatEngine`` streams a turn to the reader of
``stream_turn(engine, text)``: the model's text as it comes and each tool
result as the tool finishes.

Run: python examples/streaming.py
"""

from __future__ import annotations

import trio

from llmgine import open_actor_system
from llmgine.engines import ChatEngine, ToolExecuted, stream_turn
from llmgine.llm import (
    LLMRequest,
    LLMResponse,
    Message,
    ScriptedProvider,
    StreamFinish,
    TextDelta,
    ToolCallPart,
)
from llmgine.tools import ToolRegistry, tool


@tool
def word_count(text: str) -> int:
    """Count the words in a text.

    Args:
        text: The text to count.
    """
    return len(text.split())


async def provider_stream() -> None:
    provider = ScriptedProvider(
        ["Streaming arrives in small pieces, so users see progress at once."],
        chunk_size=8,
    )
    request = LLMRequest(model="scripted", messages=[Message.user("Say something")])
    print("provider.stream():")
    async for event in provider.stream(request):
        if isinstance(event, TextDelta):
            print(f"  delta {event.text!r}")
        elif isinstance(event, StreamFinish):
            print(f"  finish: {event.finish_reason}")


async def engine_stream() -> None:
    call = ToolCallPart(id="c1", name="word_count", arguments={"text": "one two three"})
    provider = ScriptedProvider(
        [
            LLMResponse(message=Message(role="assistant", parts=[call])),
            "The text has 3 words.",
        ],
        chunk_size=6,
    )
    async with open_actor_system("app") as system:
        engine = await system.spawn(
            ChatEngine,
            provider,
            name="chat",
            model="scripted",
            tools=ToolRegistry([word_count]),
        )
        print("stream_turn():")
        async with stream_turn(engine, "How many words in 'one two three'?") as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    print(f"  text  {event.text!r}")
                elif isinstance(event, ToolExecuted):
                    print(f"  tool  {event.call.name} -> {event.result.content}")
        assert stream.result is not None
        print(f"  result: {stream.result.text!r} in {stream.result.steps} steps")


async def main() -> None:
    await provider_stream()
    await engine_stream()


if __name__ == "__main__":
    trio.run(main)
