"""The HTTP plumbing every provider shares: timeouts, streams, clients, secrets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing

import httpx
import pytest
import trio
import trio.testing

from llmgine._exceptions import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    ProviderTimeout,
    ProviderUnavailable,
)
from llmgine.llm import (
    AnthropicProvider,
    GeminiProvider,
    HTTPProvider,
    LLMRequest,
    Message,
    OpenAICodec,
    OpenAIProvider,
    RetryPolicy,
    TextDelta,
)

from ._wire_fixtures import OPENAI_TEXT, openai_chunk
from .conftest import RecordingSink, Wire, collect, sse

REQUEST = LLMRequest(model="gpt-4.1", messages=[Message.user("Hi")])
SECRET = "sk-live-DO-NOT-LEAK-1234567890"


class SlowTransport(httpx.AsyncBaseTransport):
    """Answers after ``delay`` seconds of trio time (forever by default)."""

    def __init__(self, delay: float = float("inf")) -> None:
        self.delay = delay
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        await trio.sleep(self.delay)
        return httpx.Response(200, json=OPENAI_TEXT)


class ChunkStream(httpx.AsyncByteStream):
    """A response body that yields chunks, then stalls or fails, and notes closing."""

    def __init__(self, chunks: list[bytes], then: str = "end") -> None:
        self.chunks = chunks
        self.then = then
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.then == "stall":
            await trio.sleep_forever()
        if self.then == "fail":
            raise httpx.ReadError("connection reset")

    async def aclose(self) -> None:
        self.closed = True


def streaming(body: ChunkStream) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, stream=body, headers={"content-type": "text/event-stream"}
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def chunk_bytes(*chunks: dict[str, object]) -> list[bytes]:
    return [sse((None, c)) for c in chunks]


async def test_each_attempt_is_bounded_by_the_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = SlowTransport()
    async with httpx.AsyncClient(transport=transport) as client:
        provider = OpenAIProvider(
            api_key="sk", client=client, timeout=5.0, retry=RetryPolicy.never()
        )
        with pytest.raises(ProviderTimeout, match="5 s"):
            await provider.complete(REQUEST)
    assert trio.current_time() == pytest.approx(5.0)


async def test_a_timed_out_attempt_is_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = SlowTransport()
    policy = RetryPolicy(max_attempts=2, initial=1.0, jitter=0.0)
    async with httpx.AsyncClient(transport=transport) as client:
        provider = OpenAIProvider(api_key="sk", client=client, timeout=5.0, retry=policy)
        with pytest.raises(ProviderTimeout):
            await provider.complete(REQUEST)
    assert transport.calls == 2
    assert trio.current_time() == pytest.approx(5.0 + 1.0 + 5.0)


async def test_a_slow_answer_within_the_timeout_is_fine(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with httpx.AsyncClient(transport=SlowTransport(delay=4.0)) as client:
        provider = OpenAIProvider(api_key="sk", client=client, timeout=5.0)
        response = await provider.complete(REQUEST)
    assert response.id == OPENAI_TEXT["id"]


async def test_a_silent_stream_times_out(autojump_clock: trio.testing.MockClock) -> None:
    body = ChunkStream(chunk_bytes(openai_chunk({"content": "Hi"})), then="stall")
    async with streaming(body) as client:
        provider = OpenAIProvider(api_key="sk", client=client, timeout=10.0)
        events: list[object] = []

        async def consume() -> None:
            async for event in provider.stream(REQUEST):
                events.append(event)

        with pytest.raises(ProviderTimeout, match="silent"):
            await consume()
    assert events == [TextDelta(text="Hi")]
    assert trio.current_time() == pytest.approx(10.0)
    assert body.closed


async def test_a_stream_cut_short_is_unavailable() -> None:
    body = ChunkStream(chunk_bytes(openai_chunk({"content": "Hi"})))
    async with streaming(body) as client:
        provider = OpenAIProvider(api_key="sk", client=client)
        with pytest.raises(ProviderUnavailable, match="finish reason"):
            await collect(provider.stream(REQUEST))


async def test_a_server_that_does_not_stream_events_is_named_by_its_content_type() -> (
    None
):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "chat.completion"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        provider = OpenAIProvider(api_key="sk", client=client)
        with pytest.raises(MalformedResponseError, match="'application/json'"):
            await collect(provider.stream(REQUEST))


async def test_a_connection_reset_mid_stream_is_unavailable() -> None:
    body = ChunkStream(chunk_bytes(openai_chunk({"content": "Hi"})), then="fail")
    async with streaming(body) as client:
        provider = OpenAIProvider(api_key="sk", client=client, retry=RetryPolicy.never())
        with pytest.raises(ProviderUnavailable, match="ReadError"):
            await collect(provider.stream(REQUEST))
    assert body.closed


async def test_stopping_a_stream_early_closes_the_response() -> None:
    chunks = [openai_chunk({"content": str(i)}) for i in range(5)]
    body = ChunkStream(chunk_bytes(*chunks))
    async with streaming(body) as client:
        provider = OpenAIProvider(api_key="sk", client=client)
        async with aclosing(provider.stream(REQUEST)) as events:
            async for event in events:
                assert event == TextDelta(text="0")
                break
    assert body.closed


async def test_an_error_status_on_a_stream_is_typed() -> None:
    wire = Wire(httpx.Response(401, json={"error": {"message": "bad key"}}))
    async with wire.client() as client:
        provider = OpenAIProvider(api_key="sk", client=client)
        with pytest.raises(AuthenticationError):
            await collect(provider.stream(REQUEST))


async def test_a_200_that_is_not_json_is_malformed_and_not_retried() -> None:
    wire = Wire(httpx.Response(200, text="<html>proxy page</html>"), httpx.Response(200))
    async with wire.client() as client:
        provider = OpenAIProvider(api_key="sk", client=client)
        with pytest.raises(MalformedResponseError, match="not JSON"):
            await provider.complete(REQUEST)
    assert len(wire.requests) == 1


async def test_a_provider_closes_only_a_client_it_made() -> None:
    wire = Wire(httpx.Response(200, json=OPENAI_TEXT))
    client = wire.client()
    provider = OpenAIProvider(api_key="sk", client=client)
    await provider.complete(REQUEST)
    await provider.aclose()
    assert not client.is_closed
    await client.aclose()

    own = OpenAIProvider(api_key="sk")
    made = own._http()
    assert own._http() is made  # one client, made once
    await own.aclose()
    assert made.is_closed
    await own.aclose()  # closing twice is harmless
    assert own._http() is not made  # a closed provider opens a fresh client if used again
    await own.aclose()


async def test_extra_headers_are_sent_and_keys_cannot_be_overridden_by_them() -> None:
    wire = Wire(httpx.Response(200, json=OPENAI_TEXT))
    async with wire.client() as client:
        provider = OpenAIProvider(
            api_key="sk-real",
            client=client,
            headers={"x-trace": "abc", "authorization": "Bearer nope"},
        )
        await provider.complete(REQUEST)
    assert wire.requests[0].headers["x-trace"] == "abc"
    assert wire.requests[0].headers["authorization"] == "Bearer sk-real"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": 0}, "'timeout' must be a positive number of seconds (got 0)"),
        ({"timeout": True}, "'timeout' must be a positive number of seconds (got True)"),
        ({"base_url": "ftp://x"}, "'base_url' must be an http(s) URL (got 'ftp://x')"),
    ],
)
def test_configuration_is_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        OpenAIProvider(api_key="sk", **kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_base_class_needs_a_url() -> None:
    provider = HTTPProvider(name="x", base_url="https://x.test", codec=OpenAICodec())
    assert provider._auth_headers() == {}
    with pytest.raises(NotImplementedError):
        provider._url(REQUEST, stream=False)
    assert (provider.server_address, provider.server_port) == ("x.test", 443)
    assert provider.base_url == "https://x.test"
    assert isinstance(provider.codec, OpenAICodec)


@pytest.mark.parametrize(
    ("cls", "status", "body"),
    [
        (
            OpenAIProvider,
            401,
            {"error": {"message": "Incorrect API key provided: sk-li***"}},
        ),
        (
            AnthropicProvider,
            401,
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            },
        ),
        (
            GeminiProvider,
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid.",
                    "status": "INVALID_ARGUMENT",
                }
            },
        ),
    ],
)
async def test_keys_never_appear_in_errors_reprs_or_traces(
    sink: RecordingSink, cls: type[HTTPProvider], status: int, body: object
) -> None:
    wire = Wire(httpx.Response(status, json=body))
    async with wire.client() as client:
        provider = cls(api_key=SECRET, client=client)  # type: ignore[call-arg]
        with pytest.raises(Exception) as info:
            await provider.complete(REQUEST)
    error = info.value
    seen = [
        str(error),
        repr(error),
        json.dumps(error.__dict__, default=repr),
        repr(provider),
    ]
    seen.append(repr(sink.records))
    assert any(SECRET in v for v in wire.requests[0].headers.values())  # it was sent
    for text in seen:
        assert SECRET not in text


async def test_a_body_that_breaks_while_read_is_unavailable_and_closed() -> None:
    body = ChunkStream([b'{"id": "x", '], then="fail")
    async with streaming(body) as client:
        provider = OpenAIProvider(api_key="sk", client=client, retry=RetryPolicy.never())
        with pytest.raises(ProviderUnavailable, match="ReadError"):
            await provider.complete(REQUEST)
    assert body.closed


async def test_cancelling_a_call_closes_the_response(
    autojump_clock: trio.testing.MockClock,
) -> None:
    body = ChunkStream([b'{"id": "x", '], then="stall")
    async with streaming(body) as client:
        provider = OpenAIProvider(api_key="sk", client=client, timeout=60.0)
        with trio.move_on_after(1.0) as scope:
            await provider.complete(REQUEST)
    assert scope.cancelled_caught
    assert trio.current_time() == pytest.approx(1.0)
    assert body.closed
