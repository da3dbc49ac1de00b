"""Anthropic server-tool blocks round-trip as ``ProviderPart`` s, sent back verbatim.

Both paths (``complete()`` and ``stream()``) put the blocks among the reply's
parts in their place; the codec sends them back unchanged; other providers'
codecs leave them out; stores, journals and traces carry them.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmgine._exceptions import ProviderUnavailable
from llmgine.engines._journal import StepReplied, dump_entry, load_entry
from llmgine.engines._store import dump_message, load_message
from llmgine.llm import (
    AnthropicCodec,
    AnthropicProvider,
    FinishReason,
    GeminiCodec,
    LLMRequest,
    Message,
    OpenAICodec,
    ProviderDelta,
    ProviderPart,
    Role,
    StreamAccumulator,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from llmgine.observability._redact import redact_record

from .conftest import RecordingSink, Wire, collect, sse, stream_response
from .test_anthropic_server_tools import (
    MCP_CONNECTOR,
    MIXED,
    PAUSED,
    REPLIES,
    WEB_SEARCH,
    decode_stream,
    events_for,
    server_blocks,
)


def provider_parts(message: Message) -> list[ProviderPart]:
    return [p for p in message.parts if isinstance(p, ProviderPart)]


def request_with(*messages: Message, model: str = "m") -> LLMRequest:
    return LLMRequest(model=model, messages=[Message.user("Go."), *messages])


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_both_paths_keep_server_blocks_as_parts_in_order(name: str) -> None:
    body = REPLIES[name]
    whole = AnthropicCodec().decode_response(body)
    deltas, streamed, _ = decode_stream(events_for(body))
    expected = [ProviderPart(provider="anthropic", data=b) for b in server_blocks(body)]
    assert provider_parts(whole.message) == provider_parts(streamed.message) == expected
    # each block is one event, once it is complete
    assert [d.part for d in deltas if isinstance(d, ProviderDelta)] == expected
    # in their place: the kinds of the parts follow the blocks
    kinds = [type(p) for p in whole.message.parts]
    assert kinds == [
        TextPart if b["type"] == "text" else
        ToolCallPart if b["type"] == "tool_use" else ProviderPart
        for b in body["content"]
    ]  # fmt: skip
    # the raw message stays as it was
    assert whole.raw is not None
    assert whole.raw["content"] == body["content"]


def test_a_streamed_reply_has_the_parts_of_the_whole_one() -> None:
    for body in (MCP_CONNECTOR, MIXED, PAUSED):
        _, streamed, _ = decode_stream(events_for(body))
        whole = AnthropicCodec().decode_response(body)
        assert streamed.message == whole.message
        assert streamed.finish_reason is whole.finish_reason


@pytest.mark.parametrize("name", ["mcp_connector", "mixed", "pause_turn"])
def test_a_decoded_reply_goes_back_as_the_api_sent_it(name: str) -> None:
    body = REPLIES[name]
    codec = AnthropicCodec()
    reply = codec.decode_response(body).message
    encoded = codec.encode_request(request_with(reply))
    assert encoded["messages"][1] == {"role": "assistant", "content": body["content"]}


def test_text_goes_back_without_its_citations() -> None:
    codec = AnthropicCodec()
    reply = codec.decode_response(WEB_SEARCH).message
    content = codec.encode_request(request_with(reply))["messages"][1]["content"]
    assert content == [
        {k: v for k, v in block.items() if k != "citations"}
        for block in WEB_SEARCH["content"]
    ]


def test_pause_turn_is_paused_in_both_paths() -> None:
    _, streamed, _ = decode_stream(events_for(PAUSED))
    whole = AnthropicCodec().decode_response(PAUSED)
    assert whole.finish_reason is streamed.finish_reason is FinishReason.PAUSED
    assert FinishReason("paused") is FinishReason.PAUSED


FOREIGN = ProviderPart(provider="anthropic", data=MIXED["content"][0])


def conversation(*extra: ProviderPart) -> tuple[Message, ...]:
    call = ToolCallPart(id="call_1", name="get_weather", arguments={"city": "Paris"})
    return (
        Message.user("Weather?"),
        Message(role=Role.ASSISTANT, parts=[*extra, TextPart(text="Looking."), call]),
        Message(
            role=Role.TOOL,
            parts=[ToolResultPart(call_id="call_1", content="sunny", name="get_weather")],
        ),
        Message(role=Role.ASSISTANT, parts=[*extra]),
    )


@pytest.mark.parametrize(
    "codec", [OpenAICodec(), GeminiCodec()], ids=["openai", "gemini"]
)
def test_other_codecs_leave_anthropic_parts_out(codec: Any) -> None:
    with_parts = LLMRequest(model="m", messages=conversation(FOREIGN))
    without = LLMRequest(model="m", messages=conversation())
    assert codec.encode_request(with_parts) == codec.encode_request(without)


def test_the_anthropic_codec_leaves_other_providers_parts_out() -> None:
    other = ProviderPart(provider="openai", data={"type": "reasoning", "id": "rs_1"})
    codec = AnthropicCodec()
    with_parts = LLMRequest(model="m", messages=conversation(other))
    assert codec.encode_request(with_parts) == codec.encode_request(
        LLMRequest(model="m", messages=conversation())
    )


def test_a_provider_part_wants_a_mapping_and_keeps_its_own_copy() -> None:
    data = {"type": "server_tool_use", "id": "srvtoolu_1"}
    part = ProviderPart(provider="anthropic", data=data)
    data["id"] = "changed"
    assert part.data == {"type": "server_tool_use", "id": "srvtoolu_1"}
    with pytest.raises(TypeError, match="'data' must be a mapping"):
        ProviderPart(provider="anthropic", data=["server_tool_use"])  # type: ignore[arg-type]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
BLOCKS = st.dictionaries(st.text(max_size=8), JSON, max_size=4).map(
    lambda d: {**d, "type": "server_tool_use"}
)


@given(BLOCKS)
def test_any_block_goes_back_and_survives_a_store_unchanged(
    block: dict[str, Any],
) -> None:
    part = ProviderPart(provider="anthropic", data=block)
    reply = Message(role=Role.ASSISTANT, parts=[part])
    assert load_message(dump_message(reply)) == reply
    body = AnthropicCodec().encode_request(request_with(reply))
    assert body["messages"][1] == {"role": "assistant", "content": [block]}


def test_the_accumulator_keeps_a_provider_part_between_texts() -> None:
    accumulator = StreamAccumulator()
    for event in (
        TextDelta(text="a"),
        ProviderDelta(part=FOREIGN),
        TextDelta(text="b"),
    ):
        accumulator.add(event)
    assert accumulator.response().message.parts == (
        TextPart(text="a"),
        FOREIGN,
        TextPart(text="b"),
    )


def test_messages_and_journal_entries_keep_provider_parts() -> None:
    reply = AnthropicCodec().decode_response(MIXED).message
    assert load_message(dump_message(reply)) == reply
    entry = StepReplied(message=reply, usage=Usage(input_tokens=3))
    assert load_entry(dump_entry(entry)) == entry


async def test_a_trace_shows_provider_parts_and_redacts_secrets_in_them(
    sink: RecordingSink,
) -> None:
    key = "sk-ant-api03-" + "Q" * 40
    fetched: dict[str, Any] = json.loads(json.dumps(REPLIES["web_fetch"]))
    document = fetched["content"][2]["content"]["content"]["source"]
    document["data"] = f"the page printed {key}"
    wire = Wire(httpx.Response(200, json=fetched))
    provider = AnthropicProvider(api_key=key, client=wire.client())
    await provider.complete(request_with(model="claude-sonnet-4-5"))
    (record,) = sink.records
    [message] = json.loads(str(record.attributes["gen_ai.output.messages"]))
    part = message["parts"][1]
    assert part["type"] == "provider"
    assert part["provider"] == "anthropic"
    assert part["content"]["type"] == "server_tool_use"
    assert key in str(record.attributes["gen_ai.output.messages"])
    redacted = redact_record(record)
    assert key not in str(redacted.attributes["gen_ai.output.messages"])
    assert "the page printed" in str(redacted.attributes["gen_ai.output.messages"])


def truncated(body: dict[str, Any], blocks: int) -> bytes:
    """The first events of ``body``'s stream: message_start and some blocks."""
    events = events_for(body)
    starts = [i for i, (name, _) in enumerate(events) if name == "content_block_start"]
    end = starts[blocks] if blocks < len(starts) else len(events) - 2
    return sse(*events[:end])


async def test_a_failed_stream_records_the_usage_it_reported(
    sink: RecordingSink,
) -> None:
    wire = Wire(stream_response(truncated(WEB_SEARCH, 2)))
    provider = AnthropicProvider(api_key="sk-ant-test", client=wire.client())
    with pytest.raises(ProviderUnavailable, match="before message_stop"):
        await collect(provider.stream(request_with(model="claude-sonnet-4-5")))
    (record,) = sink.records
    assert record.error_type == "ProviderUnavailable"
    # message_start said how many input tokens the call spent
    assert record.attributes["gen_ai.usage.input_tokens"] == 6039
    assert record.attributes["gen_ai.usage.output_tokens"] == 1
    assert "gen_ai.response.finish_reasons" not in record.attributes


async def test_a_stream_that_failed_before_message_start_records_no_usage(
    sink: RecordingSink,
) -> None:
    wire = Wire(stream_response(b""))
    provider = AnthropicProvider(api_key="sk-ant-test", client=wire.client())
    with pytest.raises(ProviderUnavailable):
        await collect(provider.stream(request_with(model="claude-sonnet-4-5")))
    (record,) = sink.records
    assert record.error_type == "ProviderUnavailable"
    assert "gen_ai.usage.input_tokens" not in record.attributes
