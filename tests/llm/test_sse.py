"""The server-sent-events decoder follows the WHATWG stream format."""

from __future__ import annotations

from collections.abc import AsyncIterator

from hypothesis import given
from hypothesis import strategies as st

from llmgine.llm import SSEDecoder, SSEEvent
from llmgine.llm._sse import aiter_sse


def decode(lines: list[str]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [e for e in map(decoder.decode, lines) if e is not None]
    last = decoder.flush()
    return [*events, last] if last is not None else events


def test_named_events_multiline_data_ids_and_comments() -> None:
    lines = [
        ": keep-alive comment",
        "event: content_block_delta",
        "id: 7",
        "retry: 3000",
        'data: {"a":',
        "data:1}",
        "",
        "data: second",
        "",
    ]
    assert decode(lines) == [
        SSEEvent(event="content_block_delta", data='{"a":\n1}', id="7", retry=3000),
        SSEEvent(data="second", id="7"),  # the last event id persists
    ]


def test_blocks_without_data_dispatch_nothing() -> None:
    assert decode(["event: ping", "", "", "unknown: x", "retry: soon", ""]) == []


def test_line_endings_and_field_without_colon() -> None:
    assert decode(["data: x\r", "data", "\r"]) == [SSEEvent(data="x\n")]


def test_an_event_missing_its_final_blank_line_is_kept() -> None:
    assert decode(["data: [DONE]"]) == [SSEEvent(data="[DONE]")]


def test_id_with_null_is_ignored() -> None:
    assert decode(["id: a\0b", "data: x", ""]) == [SSEEvent(data="x")]


async def test_aiter_sse_over_lines() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ["event: a", "data: 1", "", "data: 2"]:
            yield line

    events = [e async for e in aiter_sse(lines())]
    assert events == [SSEEvent(event="a", data="1"), SSEEvent(data="2")]


SSE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r"),
    max_size=40,
)


@given(st.lists(SSE_TEXT))
def test_any_payload_round_trips(payloads: list[str]) -> None:
    lines: list[str] = []
    for payload in payloads:
        lines.extend(f"data: {part}" for part in payload.split("\n"))
        lines.append("")
    assert [e.data for e in decode(lines)] == payloads


async def test_aiter_sse_with_a_closing_blank_line() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in ["data: 1", ""]:
            yield line

    assert [e.data async for e in aiter_sse(lines())] == ["1"]
