"""Providers against hostile answers: secrets scrubbed, odd charsets, deep bodies."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from llmgine import _secrets
from llmgine._exceptions import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    MalformedResponseError,
)
from llmgine.llm import (
    AnthropicProvider,
    GeminiProvider,
    LLMRequest,
    Message,
    OpenAICompatibleProvider,
    OpenAIProvider,
    RetryPolicy,
)
from llmgine.llm._errors import error_from_body

from .conftest import RecordingSink, Wire

REQUEST = LLMRequest(model="m", messages=[Message.user("hi")])
NO_RETRY = RetryPolicy(max_attempts=1)
# a key of no known shape: only its registration can find it
KEY = "odd-shaped-key-8c2f4e1a"


async def test_a_key_the_vendor_echoes_is_scrubbed_everywhere(
    sink: RecordingSink,
) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}.", "code": "x"}}
    wire = Wire(httpx.Response(401, json=body, headers={"x-request-id": KEY}))
    provider = OpenAIProvider(api_key=KEY, client=wire.client(), retry=NO_RETRY)
    with pytest.raises(AuthenticationError) as caught:
        await provider.complete(REQUEST)
    error = caught.value
    shown = [str(error), repr(error), repr(error.body), repr(error.args), error.message]
    assert all(KEY not in text for text in shown)
    assert "Incorrect API key provided: [REDACTED]." in str(error)
    assert error.body == {
        "error": {"message": "Incorrect API key provided: [REDACTED].", "code": "x"}
    }
    (record,) = sink.records
    assert KEY not in repr(record)


@pytest.mark.parametrize(
    ("make", "header"),
    [
        (AnthropicProvider, "x-api-key"),
        (GeminiProvider, "x-goog-api-key"),
    ],
)
async def test_every_vendor_registers_its_key(make: type, header: str) -> None:
    key = f"{header}-value-7d1e"
    wire = Wire(httpx.Response(400, text=f"bad key {key} in {header}"))
    provider = make(api_key=key, client=wire.client(), retry=NO_RETRY)
    with pytest.raises(BadRequestError) as caught:
        await provider.complete(REQUEST)
    assert wire.requests[0].headers[header] == key  # sent as it is
    assert key not in str(caught.value)
    assert key not in repr(caught.value.body)


async def test_secret_headers_are_scrubbed_whatever_they_are_called() -> None:
    token = "custom-gateway-token-55aa"
    body = {"error": {"message": f"gateway refused {token}"}}
    wire = Wire(httpx.Response(403, json=body))
    provider = OpenAICompatibleProvider(
        base_url="http://gateway.test/v1",
        client=wire.client(),
        retry=NO_RETRY,
        headers={"X-Gateway-Token": token},
        secret_headers=["X-Gateway-Token"],
    )
    assert provider.secret_headers == frozenset({"x-gateway-token"})
    assert _secrets.is_secret_header("X-GATEWAY-TOKEN")
    with pytest.raises(AuthenticationError) as caught:
        await provider.complete(REQUEST)
    assert token not in str(caught.value)
    assert "gateway refused [REDACTED]" in str(caught.value)


def test_secret_headers_must_be_names() -> None:
    with pytest.raises(ConfigurationError, match="secret_headers"):
        OpenAICompatibleProvider(base_url="http://x.test", secret_headers="x-token")
    with pytest.raises(ConfigurationError, match="secret_headers"):
        OpenAICompatibleProvider(base_url="http://x.test", secret_headers=[1])  # type: ignore[list-item]


def test_error_bodies_with_odd_field_types_still_give_typed_errors() -> None:
    error = error_from_body(
        provider="p",
        status=400,
        body={"error": {"message": [[1]], "type": 7, "code": {}}},
    )
    assert isinstance(error, BadRequestError)
    assert str(error) == "[p HTTP 400] Bad Request (7)"
    long = error_from_body(provider="p", status=500, body="x" * 5000)
    assert len(long.message) <= 500


@pytest.mark.parametrize("make", [OpenAIProvider, AnthropicProvider, GeminiProvider])
async def test_a_body_nested_too_deep_is_malformed(make: Any) -> None:
    deep = b'{"a":' + b"[" * 3000 + b"]" * 3000 + b"}"
    for body in (b"[" * 3000 + b"]" * 3000, deep):
        wire = Wire(httpx.Response(200, content=body))
        provider = make(api_key=KEY, client=wire.client(), retry=NO_RETRY)
        with pytest.raises(MalformedResponseError, match="nested too deep"):
            await provider.complete(REQUEST)


@pytest.mark.parametrize("make", [OpenAIProvider, AnthropicProvider, GeminiProvider])
def test_a_decoded_value_nested_too_deep_is_malformed(make: Any) -> None:
    codec = make(api_key=KEY).codec
    value: Any = []
    for _ in range(200):
        value = [value]
    with pytest.raises(MalformedResponseError, match="JSONNestingError"):
        codec.decode_response({"a": value, "choices": [], "content": []})


async def test_an_error_body_nested_too_deep_keeps_its_status() -> None:
    wire = Wire(httpx.Response(429, content=b"[" * 3000 + b"]" * 3000))
    provider = OpenAIProvider(api_key=KEY, client=wire.client(), retry=NO_RETRY)
    with pytest.raises(Exception) as caught:
        await provider.complete(REQUEST)
    assert caught.value.status == 429  # type: ignore[attr-defined]


async def test_a_body_that_is_not_utf8_is_malformed() -> None:
    wire = Wire(httpx.Response(200, content=b'{"id": "\xff"}'))
    provider = OpenAIProvider(api_key=KEY, client=wire.client(), retry=NO_RETRY)
    with pytest.raises(MalformedResponseError, match="not JSON"):
        await provider.complete(REQUEST)


def _chunk(text: str, finish: str | None = None) -> str:
    delta = {"choices": [{"delta": {"content": text}, "finish_reason": finish}]}
    return "data: " + json.dumps(delta, ensure_ascii=False)


@pytest.mark.parametrize("charset", ["utf-16", "latin-1", "nonsense"])
async def test_a_stream_is_read_as_utf8_whatever_the_charset_says(charset: str) -> None:
    body = "\r\n\r\n".join([_chunk("héllo "), _chunk("wörld", "stop"), "data: [DONE]"])
    raw = (body + "\r\n\r\n").encode()
    headers = {"content-type": f"text/event-stream; charset={charset}"}
    # one byte at a time: multi-byte characters and CRLFs split across chunks

    class Bytewise(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[no-untyped-def]
            for i in range(len(raw)):
                yield raw[i : i + 1]

    wire = Wire(lambda r: httpx.Response(200, headers=headers, stream=Bytewise()))
    provider = OpenAIProvider(api_key=KEY, client=wire.client(), retry=NO_RETRY)
    texts = [e.text async for e in provider.stream(REQUEST) if hasattr(e, "text")]
    assert "".join(texts) == "héllo wörld"


async def test_bytes_that_are_not_utf8_in_a_stream_read_as_replacement_characters() -> (
    None
):
    raw = (
        _chunk("ok").encode()
        + b"\n\n"
        + b'data: {"choices": [{"delta": {"content": "\xff"}, '
        + b'"finish_reason": "stop"}]}\r\rdata: [DONE]\r\r'
    )
    wire = Wire(httpx.Response(200, content=raw))
    provider = OpenAIProvider(api_key=KEY, client=wire.client(), retry=NO_RETRY)
    response = await provider.complete(
        LLMRequest(model="m", messages=[Message.user("hi")], stream=True)
    )
    assert response.text == "ok\ufffd"


async def test_a_stream_event_nested_too_deep_is_malformed() -> None:
    raw = b"data: " + b"[" * 3000 + b"]" * 3000 + b"\n\n"
    wire = Wire(httpx.Response(200, content=raw))
    provider = OpenAIProvider(api_key=KEY, client=wire.client(), retry=NO_RETRY)
    with pytest.raises(MalformedResponseError, match="JSONNestingError"):
        async for _ in provider.stream(REQUEST):
            pass


async def test_a_key_echoed_in_a_stream_error_is_scrubbed() -> None:
    raw = ('data: {"error": {"message": "key ' + KEY + ' is revoked"}}\n\n').encode()
    wire = Wire(httpx.Response(200, content=raw))
    provider = OpenAIProvider(api_key=KEY, client=wire.client(), retry=NO_RETRY)
    with pytest.raises(Exception) as caught:
        async for _ in provider.stream(REQUEST):
            pass
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value.body)  # type: ignore[attr-defined]
