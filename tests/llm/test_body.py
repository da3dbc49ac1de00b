"""Request bodies: the bytes sent are the body the codec describes, whatever the
provider remembers of earlier steps, and what it remembers goes with the values."""

from __future__ import annotations

import gc
import json
from typing import Any

import attrs
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmgine.llm import (
    GeminiProvider,
    LLMRequest,
    Message,
    OpenAICodec,
    OpenAICompatibleProvider,
    ToolSpec,
)
from llmgine.llm._body import MAX_REMEMBERED, FragmentCache, splice

from ._wire_fixtures import GEMINI_FUNCTION_CALLS, OPENAI_TEXT, OPENAI_TOOL_CALLS
from .conftest import Wire
from .test_properties import json_values, names, requests


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.dictionaries(names, json_values, max_size=2))
def test_the_bytes_sent_are_the_encoded_request(
    request: LLMRequest, extra: dict[str, Any]
) -> None:
    codec = OpenAICodec()
    for sent in (request, attrs.evolve(request, extra=extra)):
        expected = codec.encode_request(sent)
        assert json.loads(codec.encode_body(sent)) == expected
        # the second time from what was remembered: the same body
        assert json.loads(codec.encode_body(sent)) == expected


def test_a_conversation_grows_without_encoding_its_history_again() -> None:
    seen: list[str] = []

    def encode(message: Message) -> str:
        seen.append(message.text)
        return json.dumps(message.text)

    cache = FragmentCache(encode)
    history = [Message.user("one")]
    for word in ("two", "three"):
        assert [json.loads(cache.text(m)) for m in history] == [m.text for m in history]
        history.append(Message.assistant(word))
    assert seen == ["one", "two"]


def test_what_is_remembered_goes_with_the_value() -> None:
    cache = FragmentCache(lambda message: json.dumps(message.text))
    messages = [Message.user(str(i)) for i in range(10)]
    for message in messages:
        cache.text(message)
    assert len(cache) == 10
    del messages, message
    gc.collect()
    assert len(cache) == 0


def test_a_large_text_is_not_remembered() -> None:
    cache = FragmentCache(lambda message: json.dumps(message.text))
    large = Message.user("x" * MAX_REMEMBERED)
    assert json.loads(cache.text(large)) == large.text
    assert len(cache) == 0


async def test_each_step_of_a_turn_sends_its_whole_conversation() -> None:
    wire = Wire(
        httpx.Response(200, json=OPENAI_TOOL_CALLS),
        httpx.Response(200, json=OPENAI_TEXT),
    )
    tools = [ToolSpec(name="get_weather", description="Weather.")]
    async with wire.client() as client:
        provider = OpenAICompatibleProvider(
            base_url="http://llm.test/v1", api_key="k", client=client
        )
        history = [Message.user("weather?")]
        first = await provider.complete(
            LLMRequest(model="m", messages=history, tools=tools, system="Be brief.")
        )
        history.append(first.message)
        await provider.complete(
            LLMRequest(model="m", messages=history, tools=tools, system="Be brief.")
        )
    codec = OpenAICodec(max_tokens_field="max_tokens")
    expected = [
        codec.encode_request(
            LLMRequest(model="m", messages=history[:n], tools=tools, system="Be brief.")
        )
        for n in (1, 2)
    ]
    assert wire.bodies == expected


async def test_a_provider_reaches_every_model_it_is_asked_for() -> None:
    models = [f"models/gemini-{i}" for i in range(80)]
    wire = Wire(*(httpx.Response(200, json=GEMINI_FUNCTION_CALLS) for _ in models))
    async with wire.client() as client:
        provider = GeminiProvider(api_key="AIza-secret", client=client)
        for model in models:
            await provider.complete(LLMRequest(model=model, messages=[Message.user("x")]))
    assert [r.url.path.rpartition("/")[2] for r in wire.requests] == [
        f"{m.rpartition('/')[2]}:generateContent" for m in models
    ]


def test_a_body_is_spliced_around_its_arrays() -> None:
    body = splice({}, [("a", ["1", "", "2"]), ("b", [])])
    assert json.loads(body) == {"a": [1, 2], "b": []}
    assert json.loads(splice({"m": "é"}, [("a", ['"x"'])])) == {"a": ["x"], "m": "é"}
