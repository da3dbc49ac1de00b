"""``LLMRequest.response_schema`` on the wire: OpenAI's ``response_format``, Gemini's
``generationConfig``; what an engine's output type sends."""

from __future__ import annotations

import functools
import json
from typing import Any

import attrs
import httpx

from llmgine.actors import open_actor_system
from llmgine.engines import ChatEngine, UserInput
from llmgine.engines._output import output_spec
from llmgine.llm import GeminiProvider, LLMRequest, Message, OpenAIProvider
from llmgine.llm._gemini import GeminiCodec
from llmgine.llm._openai import OpenAICodec


@attrs.frozen
class City:
    name: str
    population: int


@attrs.frozen
class Report:
    city: City
    tags: list[str]
    note: str = ""


def request(schema: dict[str, Any] | None) -> LLMRequest:
    return LLMRequest(model="m", messages=[Message.user("x")], response_schema=schema)


def test_openai_sends_a_strict_json_schema_when_every_field_is_required() -> None:
    schema = output_spec(City).schema
    body = OpenAICodec().encode_request(request({**schema, "title": "City report!"}))
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "City_report_",
            "schema": {**schema, "title": "City report!"},
            "strict": True,
        },
    }


def test_openai_leaves_strict_off_for_optional_fields_anywhere() -> None:
    report = output_spec(Report).schema  # "note" has a default: not required
    body = OpenAICodec().encode_request(request(report))
    assert body["response_format"]["json_schema"]["strict"] is False
    assert body["response_format"]["json_schema"]["name"] == "response"
    nested = {
        "type": "object",
        "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}},
        "required": ["a"],
        "additionalProperties": False,
    }  # the inner object allows other keys
    assert (
        OpenAICodec().encode_request(request(nested))["response_format"]["json_schema"][
            "strict"
        ]
        is False
    )
    wrapped = output_spec(list[int]).schema
    assert (
        OpenAICodec().encode_request(request(wrapped))["response_format"]["json_schema"][
            "strict"
        ]
        is True
    )


def test_openai_sends_no_response_format_without_a_schema() -> None:
    assert "response_format" not in OpenAICodec().encode_request(request(None))


def test_gemini_sends_the_json_schema_with_the_json_mime_type() -> None:
    schema = output_spec(Report).schema
    body = GeminiCodec().encode_request(request(schema))
    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }


async def test_an_openai_structured_turn_on_the_wire() -> None:
    """The whole path: the engine's schema in the body, the typed value back."""
    sent: list[dict[str, Any]] = []

    def handler(http_request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(http_request.content))
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": '{"name": "Paris", "population": 2100000}',
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 20, "completion_tokens": 9},
            },
        )

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    provider = OpenAIProvider(api_key="sk-test", client=client)
    async with open_actor_system("app") as system:
        engine = await system.spawn(
            functools.partial(
                ChatEngine, provider=provider, model="gpt-4o-mini", output_type=City
            ),
            name="chat",
        )
        result = await engine.ask(UserInput("Biggest city of France?"))
    assert result.output == City(name="Paris", population=2_100_000)
    [body] = sent
    assert body["response_format"]["json_schema"]["schema"] == output_spec(City).schema
    assert body["response_format"]["json_schema"]["strict"] is True
    assert "tools" not in body


def test_gemini_provider_is_native() -> None:
    assert GeminiProvider(api_key="k").structured_output


def test_a_schema_with_odd_properties_is_not_strict() -> None:
    from llmgine.llm._openai import _strict

    assert not _strict(
        {"type": "object", "properties": [], "additionalProperties": False}
    )
    assert _strict({"anyOf": [{"type": "string"}, {"type": "null"}]})
