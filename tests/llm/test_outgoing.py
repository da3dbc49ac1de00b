"""A provider's requests carry what ``httpx``'s ``build_request`` would send.

Providers build their requests from headers merged once per client; whatever
the client holds (its own headers, changed mid-run, cookies a server set,
query parameters) and whatever a request adds (trace headers), the method,
URL, headers in their order and body must be those ``build_request`` makes.
"""

from __future__ import annotations

import httpx
import pytest

from llmgine.llm import LLMRequest, Message, OpenAIProvider
from llmgine.llm._outgoing import RequestTemplate

from ._wire_fixtures import OPENAI_TEXT

URL = httpx.URL("https://api.example.com/v1/chat/completions")
BODY = b'{"model":"m","messages":[]}'
TIMEOUTS = httpx.Timeout(30.0).as_dict()
HEADERS = {
    "content-type": "application/json",
    "accept": "application/json",
    "authorization": "Bearer sk-test",
}


def expected(
    client: httpx.AsyncClient, headers: dict[str, str], body: bytes = BODY
) -> httpx.Request:
    return client.build_request(
        "POST", URL, content=body, headers=headers, extensions={"timeout": TIMEOUTS}
    )


def same(a: httpx.Request, b: httpx.Request) -> None:
    assert (a.method, a.url) == (b.method, b.url)
    assert a.headers.raw == b.headers.raw
    assert a.read() == b.read()
    assert a.extensions == b.extensions


@pytest.mark.parametrize(
    "client_headers",
    [None, {"user-agent": "mine/1.0", "x-team": "search"}, {"Accept": "text/plain"}],
)
async def test_requests_match_build_request(
    client_headers: dict[str, str] | None,
) -> None:
    async with httpx.AsyncClient(headers=client_headers) as client:
        template = RequestTemplate(HEADERS, TIMEOUTS)
        for body in (BODY, b"", '{"text":"d\u00e9j\u00e0 vu"}'.encode()):
            same(template.build(client, URL, body), expected(client, HEADERS, body))


async def test_a_change_to_the_clients_headers_reaches_the_next_request() -> None:
    async with httpx.AsyncClient(headers={"x-team": "search"}) as client:
        template = RequestTemplate(HEADERS, TIMEOUTS)
        template.build(client, URL, BODY)
        client.headers["x-team"] = "ads"
        sent = template.build(client, URL, BODY)
        assert sent.headers["x-team"] == "ads"
        same(sent, expected(client, HEADERS))
        client.headers = httpx.Headers({"x-other": "1"})
        same(template.build(client, URL, BODY), expected(client, HEADERS))


async def test_trace_headers_go_last_or_replace_one_of_the_same_name() -> None:
    trace = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    async with httpx.AsyncClient() as client:
        template = RequestTemplate(HEADERS, TIMEOUTS)
        sent = template.build(client, URL, BODY, trace)
        assert sent.headers["traceparent"] == trace["traceparent"]
        same(sent, expected(client, {**HEADERS, **trace}))
    async with httpx.AsyncClient(headers={"TraceParent": "stale"}) as client:
        sent = template.build(client, URL, BODY, trace)
        assert sent.headers.get_list("traceparent") == [trace["traceparent"]]
        same(sent, expected(client, {**HEADERS, **trace}))


async def test_cookies_params_and_special_headers_are_kept() -> None:
    async with httpx.AsyncClient(params={"api-version": "2025-01-01"}) as client:
        template = RequestTemplate(HEADERS, TIMEOUTS)
        sent = template.build(client, URL, BODY)
        assert sent.url.params["api-version"] == "2025-01-01"
        same(sent, expected(client, HEADERS))
    async with httpx.AsyncClient(cookies={"__cf_bm": "abc"}) as client:
        sent = template.build(client, URL, BODY)
        assert sent.headers["cookie"] == "__cf_bm=abc"
        same(sent, expected(client, HEADERS))
    own_host = {**HEADERS, "Host": "gateway.internal"}
    async with httpx.AsyncClient() as client:
        sent = RequestTemplate(own_host, TIMEOUTS).build(client, URL, BODY)
        assert sent.headers["host"] == "gateway.internal"
        same(sent, expected(client, own_host))


async def test_a_cookie_the_server_sets_goes_back_with_the_next_call() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        cookie = {"set-cookie": "__cf_bm=token1; Path=/; Secure"}
        return httpx.Response(200, json=OPENAI_TEXT, headers=cookie)

    transport = httpx.MockTransport(answer)
    async with httpx.AsyncClient(transport=transport) as client:
        provider = OpenAIProvider(api_key="sk-test", client=client)
        request = LLMRequest(model="gpt-4.1", messages=[Message.user("Hi")])
        await provider.complete(request)
        await provider.complete(request)
    assert "cookie" not in seen[0].headers
    assert seen[1].headers["cookie"] == "__cf_bm=token1"
    assert seen[1].headers["content-length"] == str(len(seen[1].content))


async def test_event_hooks_see_the_request_as_built_by_httpx() -> None:
    logged: list[bytes] = []

    async def log(request: httpx.Request) -> None:
        logged.append(request.content)  # a logging hook reads the body

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=OPENAI_TEXT)

    transport = httpx.MockTransport(answer)
    hooks = {"request": [log]}
    async with httpx.AsyncClient(transport=transport, event_hooks=hooks) as client:
        provider = OpenAIProvider(api_key="sk-test", client=client)
        request = LLMRequest(model="gpt-4.1", messages=[Message.user("Hi")])
        await provider.complete(request)
    assert b'"content":"Hi"' in logged[0]
