"""Every provider call in a traced system is one ``chat {model}`` span, GenAI-named."""

from __future__ import annotations

import json
from contextlib import aclosing

import httpx
import pytest

from llmgine._exceptions import RateLimitError
from llmgine.llm import (
    BlobPart,
    LLMRequest,
    LLMResponse,
    Message,
    OpenAIProvider,
    ReasoningPart,
    RetryPolicy,
    ScriptedProvider,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from llmgine.tracing import RecordKind, TraceContext, current_sink, current_trace

from ._wire_fixtures import OPENAI_TEXT, OPENAI_TOOL_STREAM
from .conftest import RecordingSink, Wire, collect, sse, stream_response

REQUEST = LLMRequest(
    model="gpt-4.1",
    system="Be brief.",
    messages=[
        Message.user("Weather?"),
        Message(
            role="assistant",
            parts=[
                ReasoningPart(text="call it"),
                ToolCallPart(id="c1", name="get_weather", arguments={"city": "Paris"}),
            ],
        ),
        Message(role="tool", parts=[ToolResultPart(call_id="c1", content="18C")]),
        Message(
            role="user",
            parts=[
                BlobPart(mime_type="image/png", data="iVBOR"),
                BlobPart(mime_type="application/pdf", url="https://x.test/a.pdf"),
            ],
        ),
    ],
    temperature=0.3,
    max_tokens=50,
    top_p=0.9,
    seed=1,
    stop=["END"],
)


async def test_a_plain_provider_outside_a_system_traces_nothing() -> None:
    assert current_sink.get() is None
    provider = ScriptedProvider(["hi"])
    assert (await provider.complete(REQUEST)).text == "hi"


async def test_complete_records_one_genai_span(sink: RecordingSink) -> None:
    wire = Wire(httpx.Response(200, json=OPENAI_TEXT))
    async with wire.client() as client:
        await OpenAIProvider(api_key="sk", client=client).complete(REQUEST)
    (record,) = sink.records
    assert record.kind is RecordKind.LLM_CALL
    assert record.name == "chat gpt-4.1"
    assert record.ok
    assert record.duration is not None
    attributes = dict(record.attributes)
    assert {k: v for k, v in attributes.items() if not k.endswith("messages")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4.1",
        "gen_ai.request.temperature": 0.3,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.seed": 1,
        "gen_ai.request.stop_sequences": ("END",),
        "server.address": "api.openai.com",
        "server.port": 443,
        "gen_ai.system_instructions": '[{"type":"text","content":"Be brief."}]',
        "gen_ai.response.id": OPENAI_TEXT["id"],
        "gen_ai.response.model": "gpt-4.1-2025-04-14",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.reasoning.output_tokens": 128,
    }
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "call it"},
                {
                    "type": "tool_call",
                    "id": "c1",
                    "name": "get_weather",
                    "arguments": {"city": "Paris"},
                },
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "c1", "response": "18C"}],
        },
        {
            "role": "user",
            "parts": [
                {
                    "type": "blob",
                    "mime_type": "image/png",
                    "modality": "image",
                    "content": "iVBOR",
                },
                {
                    "type": "uri",
                    "mime_type": "application/pdf",
                    "modality": "file",
                    "uri": "https://x.test/a.pdf",
                },
            ],
        },
    ]
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Hello! How can I assist you today?"}],
            "finish_reason": "stop",
        }
    ]


async def test_a_failed_call_records_its_error_type(sink: RecordingSink) -> None:
    wire = Wire(httpx.Response(429, json={"error": {"message": "slow down"}}))
    async with wire.client() as client:
        provider = OpenAIProvider(api_key="sk", client=client, retry=RetryPolicy.never())
        with pytest.raises(RateLimitError):
            await provider.complete(LLMRequest(model="m", messages=[]))
    (record,) = sink.records
    assert record.error_type == "RateLimitError"
    assert "slow down" in str(record.error)
    assert "gen_ai.response.finish_reasons" not in record.attributes


async def test_a_stream_is_one_span_parented_without_leaking_context(
    sink: RecordingSink,
) -> None:
    parent = TraceContext.new_root()
    token = current_trace.set(parent)
    try:
        body = sse(*((None, c) for c in OPENAI_TOOL_STREAM), (None, "[DONE]"))
        wire = Wire(stream_response(body))
        async with wire.client() as client:
            provider = OpenAIProvider(api_key="sk", client=client)
            async for _ in provider.stream(LLMRequest(model="m", messages=[])):
                assert current_trace.get() is parent  # nothing leaks into the consumer
    finally:
        current_trace.reset(token)
    (record,) = sink.records
    assert record.trace_id == parent.trace_id
    assert record.parent_id == parent.span_id
    assert record.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert record.attributes["gen_ai.usage.input_tokens"] == 90
    output = json.loads(str(record.attributes["gen_ai.output.messages"]))
    assert [p["name"] for p in output[0]["parts"]] == ["get_weather", "get_time"]


async def test_a_stream_stopped_early_still_records_a_span(sink: RecordingSink) -> None:
    provider = ScriptedProvider(["a long answer in many small pieces"], chunk_size=2)
    async with aclosing(provider.stream(LLMRequest(model="m", messages=[]))) as events:
        async for _ in events:
            break
    (record,) = sink.records
    assert record.ok
    assert record.name == "chat m"


async def test_a_failed_stream_records_the_error(sink: RecordingSink) -> None:
    provider = ScriptedProvider([RateLimitError("busy")])
    with pytest.raises(RateLimitError):
        await collect(provider.stream(LLMRequest(model="m", messages=[])))
    (record,) = sink.records
    assert record.error_type == "RateLimitError"


async def test_scripted_calls_are_traced_with_their_name(sink: RecordingSink) -> None:
    reply = LLMResponse(
        message=Message(role="assistant", parts=[TextPart(text="ok")]),
        usage=Usage(input_tokens=4, output_tokens=1, cache_write_tokens=2),
    )
    await ScriptedProvider([reply], name="demo").complete(
        LLMRequest(model="x", messages=[])
    )
    (record,) = sink.records
    assert record.attributes["gen_ai.provider.name"] == "demo"
    assert record.attributes["gen_ai.response.model"] == "x"
    assert record.attributes["gen_ai.usage.cache_creation.input_tokens"] == 2
    assert "server.address" not in record.attributes


async def test_no_content_is_attached_while_the_tracer_records_none(
    sink: RecordingSink,
) -> None:
    sink.records_content = False  # the content switch is off everywhere
    wire = Wire(
        httpx.Response(200, json=OPENAI_TEXT),
        stream_response(sse(*[(None, c) for c in OPENAI_TOOL_STREAM], (None, "[DONE]"))),
    )
    async with wire.client() as client:
        provider = OpenAIProvider(api_key="sk", client=client)
        await provider.complete(REQUEST)
        await collect(provider.stream(REQUEST))
    assert len(sink.records) == 2
    for record in sink.records:
        assert "gen_ai.usage.input_tokens" in record.attributes
        assert not any(key.startswith("gen_ai.input") for key in record.attributes)
        assert "gen_ai.output.messages" not in record.attributes
        assert "gen_ai.system_instructions" not in record.attributes
