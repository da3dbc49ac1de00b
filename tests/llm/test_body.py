"""Request bodies: the bytes sent are the body the codec describes, whatever the
provider remembers of earlier steps, and what it remembers goes with the values."""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Sized
from typing import Any, Protocol

import attrs
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmgine._exceptions import BadRequestError
from llmgine.llm import (
    AnthropicCodec,
    AnthropicProvider,
    GeminiCodec,
    GeminiProvider,
    HTTPProvider,
    LLMRequest,
    LLMResponse,
    Message,
    OpenAICodec,
    OpenAICompatibleProvider,
    Part,
    ProviderPart,
    Role,
    StreamDecoder,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from llmgine.llm._body import (
    MAX_REMEMBERED,
    EncodingCache,
    FragmentCache,
    merge_turns,
    splice,
)

from ._wire_fixtures import (
    ANTHROPIC_TOOL_USE,
    GEMINI_FUNCTION_CALLS,
    OPENAI_TOOL_CALLS,
)
from .conftest import Wire
from .test_properties import json_values, names, requests, texts


class BodyCodec(Protocol):
    def encode_request(self, request: LLMRequest) -> dict[str, Any]: ...

    def encode_body(self, request: LLMRequest) -> bytes: ...


WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}
CODECS = {
    "openai": OpenAICodec(),
    "anthropic": AnthropicCodec(),
    "anthropic-server-tools": AnthropicCodec(server_tools=[WEB_SEARCH]),
    "gemini": GeminiCodec(),
}

# Messages the wires treat apart: empty or blank ones (left out, without
# parting their neighbours), server-tool blocks kept for their own provider
# only, a result in a user message (Anthropic puts results first in a turn),
# a call with a signature and raw-string arguments, a result Gemini cannot
# name.
odd_messages = st.sampled_from(
    [
        Message.user(""),
        Message.user("  "),
        Message.system("Mind the units."),
        Message(role="assistant", parts=[]),
        Message(
            role="assistant",
            parts=[
                ProviderPart(
                    provider="anthropic",
                    data={"type": "server_tool_use", "id": "srv_1", "name": "web_search"},
                ),
                ProviderPart(provider="openai", data={"type": "elsewhere"}),
            ],
        ),
        Message(
            role="user",
            parts=[
                TextPart(text="and this:"),
                ProviderPart(
                    provider="anthropic",
                    data={"type": "web_search_tool_result", "tool_use_id": "srv_1"},
                ),
                ToolResultPart(call_id="call_x", content="42", name="lookup"),
            ],
        ),
        Message(
            role="assistant",
            parts=[ToolCallPart(id="call_s", name="f", arguments="{", signature="sig")],
        ),
        Message(role="tool", parts=[ToolResultPart(call_id="nowhere", content="?")]),
    ]
)


def split_results(message: Message, named: bool, calls: dict[str, str]) -> list[Message]:
    """A tool message's results as consecutive messages, one each, maybe named."""

    def result(part: Part) -> Part:
        if named and isinstance(part, ToolResultPart):
            return attrs.evolve(part, name=calls.get(part.call_id))
        return part

    return [Message(role=message.role, parts=[result(p)]) for p in message.parts]


@st.composite
def steps(draw: st.DrawFn) -> LLMRequest:
    """A request whose tool results may come one message each, with odd messages
    in between."""
    request = draw(requests())
    calls = {c.id: c.name for m in request.messages for c in m.tool_calls}
    messages: list[Message] = []
    for message in request.messages:
        if message.role is Role.TOOL and draw(st.booleans()):
            messages.extend(split_results(message, draw(st.booleans()), calls))
        else:
            messages.append(message)
        messages.extend(draw(st.lists(odd_messages, max_size=1)))
    return attrs.evolve(request, messages=messages)


def assert_same_body(codec: BodyCodec, request: LLMRequest) -> None:
    try:
        expected = codec.encode_request(request)
    except BadRequestError:
        with pytest.raises(BadRequestError):
            codec.encode_body(request)
        return
    assert json.loads(codec.encode_body(request)) == expected


@pytest.mark.parametrize("codec", CODECS.values(), ids=CODECS.keys())
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(steps(), st.dictionaries(names, json_values, max_size=2))
def test_the_bytes_sent_are_the_encoded_request(
    codec: BodyCodec, request: LLMRequest, extra: dict[str, Any]
) -> None:
    # every step of the turn, each from what the ones before it remembered
    for n in range(1, len(request.messages) + 1):
        step = attrs.evolve(request, messages=request.messages[:n])
        assert_same_body(codec, step)
    assert_same_body(codec, request)  # a second time: the same body
    assert_same_body(codec, attrs.evolve(request, extra=extra))


@pytest.mark.parametrize("codec", CODECS.values(), ids=CODECS.keys())
@given(texts, texts)
def test_consecutive_tool_results_go_back_as_the_wire_wants(
    codec: BodyCodec, first: str, second: str
) -> None:
    calls = [
        ToolCallPart(id="c1", name="weather", arguments={"city": "Paris"}),
        ToolCallPart(id="c2", name="time", arguments={}),
    ]
    request = LLMRequest(
        model="m",
        system="Be brief.",
        messages=[
            Message.user("weather and time?"),
            Message(role="assistant", parts=calls),
            Message(role="tool", parts=[ToolResultPart(call_id="c1", content=first)]),
            Message.system("Answer in French."),
            Message(role="tool", parts=[ToolResultPart(call_id="c2", content=second)]),
            Message.user("thanks"),
        ],
        tools=[ToolSpec(name="weather"), ToolSpec(name="time")],
    )
    assert_same_body(codec, request)


BARE = LLMRequest(model="m", messages=[Message.user("hi"), Message.user("")])


@pytest.mark.parametrize("codec", CODECS.values(), ids=CODECS.keys())
@pytest.mark.parametrize(
    "request_",
    [BARE, attrs.evolve(BARE, extra={"stream": True, "metadata": {"user": "u1"}})],
    ids=["bare", "extra"],
)
def test_a_request_without_system_or_tools_or_with_extra(
    codec: BodyCodec, request_: LLMRequest
) -> None:
    assert_same_body(codec, request_)


def test_gemini_names_a_result_from_the_calls_of_each_request() -> None:
    codec = GeminiCodec()
    result = Message(role="tool", parts=[ToolResultPart(call_id="c1", content="9")])
    call = Message(role="assistant", parts=[ToolCallPart(id="c1", name="clock")])
    alone = LLMRequest(model="m", messages=[result])
    with pytest.raises(BadRequestError, match="'c1' has no name"):
        codec.encode_body(alone)
    answered = LLMRequest(model="m", messages=[call, result])
    body = json.loads(codec.encode_body(answered))
    assert body["contents"][1]["parts"] == [
        {"functionResponse": {"name": "clock", "response": {"result": "9"}}}
    ]
    with pytest.raises(BadRequestError):  # what it was named before is not kept
        codec.encode_body(alone)


def remember(
    kind: str, encode: Callable[[Message], str]
) -> tuple[Sized, Callable[[Message], str]]:
    """A cache of ``encode``'s texts, and its look-up."""
    if kind == "fragments":
        fragments = FragmentCache(encode)
        return fragments, fragments.text
    encodings = EncodingCache(encode, len)
    return encodings, encodings.get


CACHES = ["fragments", "encodings"]


@pytest.mark.parametrize("kind", CACHES)
def test_a_conversation_grows_without_encoding_its_history_again(kind: str) -> None:
    seen: list[str] = []

    def encode(message: Message) -> str:
        seen.append(message.text)
        return json.dumps(message.text)

    _, text = remember(kind, encode)
    history = [Message.user("one")]
    for word in ("two", "three"):
        assert [json.loads(text(m)) for m in history] == [m.text for m in history]
        history.append(Message.assistant(word))
    assert seen == ["one", "two"]


@pytest.mark.parametrize("kind", CACHES)
def test_what_is_remembered_goes_with_the_value(kind: str) -> None:
    cache, text = remember(kind, lambda message: json.dumps(message.text))
    messages = [Message.user(str(i)) for i in range(10)]
    for message in messages:
        text(message)
    assert len(cache) == 10
    del messages, message
    gc.collect()
    assert len(cache) == 0


@pytest.mark.parametrize("kind", CACHES)
def test_a_large_text_is_not_remembered(kind: str) -> None:
    cache, text = remember(kind, lambda message: json.dumps(message.text))
    large = Message.user("x" * MAX_REMEMBERED)
    assert json.loads(text(large)) == large.text
    assert len(cache) == 0


STEP_PROVIDERS: dict[
    str, tuple[Callable[[httpx.AsyncClient], HTTPProvider], BodyCodec, Any]
] = {
    "openai": (
        lambda client: OpenAICompatibleProvider(
            base_url="http://llm.test/v1", api_key="k", client=client
        ),
        OpenAICodec(max_tokens_field="max_tokens"),
        OPENAI_TOOL_CALLS,
    ),
    "anthropic": (
        lambda client: AnthropicProvider(api_key="k", client=client),
        AnthropicCodec(),
        ANTHROPIC_TOOL_USE,
    ),
    "gemini": (
        lambda client: GeminiProvider(api_key="k", client=client),
        GeminiCodec(),
        GEMINI_FUNCTION_CALLS,
    ),
}


@pytest.mark.parametrize("vendor", STEP_PROVIDERS)
async def test_each_step_of_a_turn_sends_its_whole_conversation(vendor: str) -> None:
    make, codec, calls = STEP_PROVIDERS[vendor]
    wire = Wire(*(httpx.Response(200, json=calls) for _ in range(3)))
    tools = [ToolSpec(name="get_weather", description="Weather.")]

    def request(history: list[Message]) -> LLMRequest:
        return LLMRequest(model="m", messages=history, tools=tools, system="Be brief.")

    history = [Message.user("weather?")]
    sent: list[LLMRequest] = []
    async with wire.client() as client:
        provider = make(client)
        for _ in range(3):
            sent.append(request(history))
            reply = await provider.complete(sent[-1])
            history.append(reply.message)
            history.extend(
                Message(role="tool", parts=[ToolResultPart(call_id=c.id, content="sun")])
                for c in reply.message.tool_calls
            )
    assert wire.bodies == [codec.encode_request(r) for r in sent]


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


def test_messages_of_one_role_make_one_turn() -> None:
    messages = [
        ("user", ["1"], ["2"]),
        ("model", [], []),  # nothing to send: it does not part the user's
        ("user", ["3"], ["4"]),
        ("model", ["5"], ()),
    ]
    assert [json.loads(t) for t in merge_turns("parts", messages)] == [
        {"role": "user", "parts": [1, 3, 2, 4]},
        {"role": "model", "parts": [5]},
    ]


class PlainCodec:
    """A codec with only what the Codec protocol asks for (no encode_body)."""

    def encode_request(self, request: LLMRequest) -> dict[str, Any]:
        return OpenAICodec().encode_request(request)

    def decode_response(self, body: object) -> LLMResponse:
        return OpenAICodec().decode_response(body)

    def stream_decoder(self) -> StreamDecoder:
        return OpenAICodec().stream_decoder()


class PlainProvider(HTTPProvider):
    def _url(self, request: LLMRequest, *, stream: bool) -> str:
        return f"{self.base_url}/chat"


async def test_a_codec_without_encode_body_sends_its_encoded_request() -> None:
    wire = Wire(httpx.Response(200, json=OPENAI_TOOL_CALLS))
    request = LLMRequest(model="m", messages=[Message.user("é?")], system="Be brief.")
    async with wire.client() as client:
        provider = PlainProvider(
            name="plain", base_url="http://llm.test", codec=PlainCodec(), client=client
        )
        await provider.complete(request)
    assert wire.bodies == [OpenAICodec().encode_request(request)]
