"""StreamAccumulator rebuilds the reply complete() would have returned."""

from __future__ import annotations

from llmgine.llm import (
    FinishReason,
    LLMResponse,
    Message,
    ProviderPart,
    ReasoningDelta,
    ReasoningPart,
    StreamAccumulator,
    StreamFinish,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    Usage,
    split_response,
)


def fold(*events: object) -> LLMResponse:
    accumulator = StreamAccumulator()
    for event in events:
        accumulator.add(event)  # type: ignore[arg-type]
    return accumulator.response(provider="p")


def test_parts_keep_their_order_and_join_their_pieces() -> None:
    response = fold(
        ReasoningDelta(text="Let me "),
        ReasoningDelta(text="think."),
        ReasoningDelta(signature="sig"),
        TextDelta(text="Hel"),
        TextDelta(text="lo"),
        ToolCallDelta(index=0, id="c1", name="f", arguments='{"x"'),
        ToolCallDelta(index=0, arguments=": 1}"),
        TextDelta(text="after"),
        StreamFinish(
            finish_reason="stop", usage=Usage(input_tokens=3), id="r", model="m"
        ),
    )
    assert response.message == Message(
        role="assistant",
        parts=(
            ReasoningPart(text="Let me think.", signature="sig"),
            TextPart(text="Hello"),
            ToolCallPart(id="c1", name="f", arguments={"x": 1}),
            TextPart(text="after"),
        ),
    )
    # a reply carrying tool calls finishes with tool_call
    assert response.finish_reason is FinishReason.TOOL_CALL
    assert (response.id, response.model, response.provider) == ("r", "m", "p")
    assert response.usage.input_tokens == 3


def test_interleaved_parallel_calls_and_bad_json() -> None:
    response = fold(
        ToolCallDelta(index=0, id="a", name="f"),
        ToolCallDelta(index=1, id="b", name="g"),
        ToolCallDelta(index=1, arguments='{"y": 2}'),
        ToolCallDelta(index=0, arguments="{broken"),
        StreamFinish(finish_reason=FinishReason.LENGTH),
    )
    first, second = response.tool_calls
    assert first.arguments == "{broken"  # the raw string, for the tool layer to report
    assert second.arguments == {"y": 2}
    assert response.finish_reason is FinishReason.LENGTH  # truncated, not a tool turn


def test_missing_ids_are_generated_once() -> None:
    accumulator = StreamAccumulator()
    accumulator.add(ToolCallDelta(index=0, name="f", arguments="[1]"))
    assert not accumulator.finished
    first = accumulator.response().tool_calls[0]
    again = accumulator.response().tool_calls[0]
    assert first.id.startswith("call_")
    assert first.id == again.id
    assert first.arguments == "[1]"  # JSON, but not an object


def test_an_unfinished_stream_reads_as_stop() -> None:
    response = fold(TextDelta(text="partial"), ToolCallDelta(index=0, id="c", name="f"))
    assert response.tool_calls[0].arguments == {}  # no argument text: no arguments
    response = fold(TextDelta(text="partial"))
    assert response.finish_reason is FinishReason.STOP
    assert response.text == "partial"


def test_split_then_fold_gives_the_response_back() -> None:
    original = LLMResponse(
        message=Message(
            role="assistant",
            parts=(
                ReasoningPart(text="a" * 40, signature="s"),
                TextPart(text="The answer is 42, as everyone knows."),
                ToolCallPart(
                    id="c", name="lookup", arguments={"q": "life"}, signature="t"
                ),
                ProviderPart(
                    provider="anthropic",
                    data={"type": "server_tool_use", "id": "s", "name": "web_search"},
                ),
            ),
        ),
        finish_reason=FinishReason.TOOL_CALL,
        usage=Usage(input_tokens=10, output_tokens=5),
        model="m",
        id="r",
        provider="p",
    )
    events = split_response(original, chunk_size=7)
    assert sum(isinstance(e, TextDelta) for e in events) == 6
    assert fold(*events) == original


def test_something_else_is_refused() -> None:
    import pytest

    with pytest.raises(TypeError, match="not a stream event"):
        StreamAccumulator().add("text")  # type: ignore[arg-type]


def test_split_skips_what_has_no_stream_event() -> None:
    from llmgine.llm import BlobPart

    response = LLMResponse(
        message=Message(
            role="assistant",
            parts=(
                BlobPart(mime_type="image/png", data="iVBOR"),
                ReasoningPart(text="unsigned"),
                TextPart(text=""),
            ),
        )
    )
    events = split_response(response)
    assert events == [ReasoningDelta(text="unsigned"), StreamFinish()]


def test_a_signature_closes_a_reasoning_block() -> None:
    response = fold(
        ReasoningDelta(text="first"),
        ReasoningDelta(signature="s1"),
        ReasoningDelta(text="second"),
        ReasoningDelta(signature="s2"),
    )
    assert response.message.parts == (
        ReasoningPart(text="first", signature="s1"),
        ReasoningPart(text="second", signature="s2"),
    )
