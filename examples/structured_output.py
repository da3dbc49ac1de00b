"""Structured output: a turn that answers a typed value, checked with cattrs.

``ChatEngine(..., output_type=Weather)`` gives the model the JSON Schema of
``Weather``. OpenAI and Gemini enforce it themselves (``response_format``,
``responseJsonSchema``); other providers get a ``final_result`` tool to call
with the answer. Either way the reply is validated and structured: a reply
that does not match goes back to the model with the problems (at most
``output_retries`` times), and ``ChatResult.output`` holds the value.

Both halves run offline: the first speaks the OpenAI wire to an
``httpx.MockTransport``, the second scripts a model that must be corrected
once. Swap in ``OpenAIProvider()`` with a key for the real thing.

Run: python examples/structured_output.py
"""

from __future__ import annotations

import json
from typing import Literal

import attrs
import httpx
import trio

from llmgine import open_actor_system
from llmgine.engines import ChatEngine, UserInput
from llmgine.llm import OpenAIProvider, ScriptedProvider


@attrs.frozen
class Weather:
    """A weather report.

    Attributes:
        city: The city the report is for.
        celsius: The temperature.
        sky: What the sky looks like.
    """

    city: str
    celsius: float
    sky: Literal["sunny", "cloudy", "rain"]


def openai_wire(request: httpx.Request) -> httpx.Response:
    """A stand-in for api.openai.com that honours the schema it is sent."""
    body = json.loads(request.content)
    json_schema = body["response_format"]["json_schema"]
    print(f"sent: response_format json_schema strict={json_schema['strict']}")
    print(f"sent: required {json_schema['schema']['required']}")
    reply = {"city": "Paris", "celsius": 18.5, "sky": "sunny"}
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-demo",
            "object": "chat.completion",
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": json.dumps(reply)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 61, "completion_tokens": 14},
        },
    )


async def main() -> None:
    async with open_actor_system("structured") as system:
        # 1. a provider with native structured output
        client = httpx.AsyncClient(transport=httpx.MockTransport(openai_wire))
        openai = OpenAIProvider(api_key="sk-offline", client=client)
        engine = await system.spawn(
            ChatEngine, openai, model="gpt-4o-mini", output_type=Weather, name="weather"
        )
        result = await engine.ask(UserInput("Weather in Paris?"), timeout=60)
        print(f"output: {result.output!r}")

        # 2. a provider without it: the model calls final_result, and is
        #    corrected once (sky must be one of three words)
        scripted = ScriptedProvider(
            [
                ScriptedProvider.tool_call(
                    "final_result", city="Oslo", celsius=-3, sky="snow"
                ),
                ScriptedProvider.tool_call(
                    "final_result", city="Oslo", celsius=-3, sky="cloudy"
                ),
            ]
        )
        engine = await system.spawn(
            ChatEngine,
            scripted,
            model="any-model",
            output_type=Weather,
            output_retries=2,
            name="weather-tool",
        )
        result = await engine.ask(UserInput("Weather in Oslo?"), timeout=60)
        correction = scripted.requests[1].messages[-1].parts[0]
        print(f"offered tools: {[t.name for t in scripted.requests[0].tools]}")
        print(f"the model was told: {correction.content[:58]}...")
        print(f"output: {result.output!r} after {result.steps} LLM calls")

        # 3. a plain type for one turn
        scripted.add(
            ScriptedProvider.tool_call("final_result", result=["Oslo", "Bergen"])
        )
        result = await engine.ask(
            UserInput("Two Norwegian cities?", output_type=list[str]), timeout=60
        )
        print(f"one turn, list[str]: {result.output!r}")


if __name__ == "__main__":
    trio.run(main)
