"""Tools and a ChatEngine: the tool-calling chat loop as a supervised actor.

``@tool`` turns a typed, documented function into a tool with a JSON Schema;
a ``ToolRegistry`` runs the model's calls (mistakes come back as error
results for the model to read); a ``ChatEngine`` loops model -> tools -> model
until a reply has no tool calls. The model here is a ``ScriptedProvider``, so
this runs offline; swap in ``OpenAIProvider()`` (or any provider) for real.

Run: python examples/tools_and_chat_engine.py
"""

from __future__ import annotations

import json
from typing import Literal

import trio

from llmgine import open_actor_system
from llmgine.engines import ChatEngine, ChatResult, GetHistory, UserInput
from llmgine.llm import LLMResponse, Message, ScriptedProvider, ToolCallPart, Usage
from llmgine.tools import ToolRegistry, spawn_tool_actor, tool


@tool
async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Get the current weather.

    Args:
        city: City name.
        unit: Temperature unit.
    """
    await trio.sleep(0.01)  # a real tool would call an API here
    return f"{city}: 21°{unit.upper()}, sunny"


@tool
def add(a: float, b: float) -> float:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def calls(*parts: ToolCallPart) -> LLMResponse:
    """A scripted model reply asking for tool calls."""
    return LLMResponse(
        message=Message(role="assistant", parts=parts),
        usage=Usage(input_tokens=40, output_tokens=12),
    )


async def main() -> None:
    registry = ToolRegistry([get_weather, add])
    print("the schema the model sees:")
    print(" ", json.dumps(get_weather.spec.parameters))

    # The model's mistakes become error results, never exceptions:
    bad = await registry.execute(ToolCallPart(id="x", name="add", arguments={"a": "two"}))
    print(f"invalid arguments -> is_error={bad.is_error}: {bad.content}")

    model = ScriptedProvider(
        [
            calls(
                ToolCallPart(id="c1", name="get_weather", arguments={"city": "Paris"}),
                ToolCallPart(id="c2", name="get_weather", arguments={"city": "Tokyo"}),
            ),
            "Both Paris and Tokyo are 21°C and sunny.",
            calls(ToolCallPart(id="c3", name="add", arguments={"a": 21, "b": 21})),
            "Together that makes 42 degrees.",
        ]
    )
    async with open_actor_system("app") as system:
        tools = await spawn_tool_actor(system, registry, name="tools")
        engine = await system.spawn(
            ChatEngine,
            model,
            name="chat",
            model="scripted",
            tools=tools,
            system_prompt="Be brief.",
            max_steps=8,
        )
        for text in ("Weather in Paris and Tokyo?", "Add the two temperatures."):
            result: ChatResult = await engine.ask(UserInput(text=text), timeout=60)
            print(f"you: {text}")
            tokens = result.usage.total_tokens
            print(f"llm: {result.text}  ({result.steps} steps, {tokens} tokens)")
        history = await engine.ask(GetHistory())
        print(f"the conversation holds {len(history)} messages:")
        for message in history:
            kinds = ", ".join(type(p).__name__ for p in message.parts)
            print(f"  {message.role}: {kinds}")
        print(
            "the second turn saw the first:", len(model.requests[2].messages), "messages"
        )


if __name__ == "__main__":
    trio.run(main)
