"""ChaosTransport: an httpx transport that misbehaves like a busy LLM API."""

from __future__ import annotations

import contextlib
import json

import httpx
import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError
from llmgine.testing import Chaos, ChaosTransport, FaultSchedule

SSE = b'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: {"n": 3}\n\ndata: [DONE]\n\n'
BODY = json.dumps({"choices": [{"message": {"content": "hello world" * 20}}]}).encode()


def ok(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/stream":
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=SSE
        )
    return httpx.Response(200, headers={"content-type": "application/json"}, content=BODY)


async def get(transport: ChaosTransport, path: str = "/chat") -> httpx.Response:
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.post(path, json={"q": 1})


async def test_passes_through_a_handler() -> None:
    transport = ChaosTransport(inner=ok)
    response = await get(transport)
    assert response.status_code == 200
    assert response.content == BODY
    stats = transport.statistics()
    assert (stats.requests, stats.passed, stats.injected) == (1, 1, 0)


async def test_passes_through_an_async_handler_and_a_transport() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    assert (await get(ChaosTransport(inner=handler))).status_code == 204
    wrapped = ChaosTransport(inner=httpx.MockTransport(ok))
    assert (await get(wrapped)).json() == json.loads(BODY)


async def test_rate_limited_carries_retry_after() -> None:
    transport = ChaosTransport(inner=ok, rate_limited=1.0, retry_after=2.5)
    response = await get(transport)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2.5"
    assert response.headers["retry-after-ms"] == "2500"
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error"
    assert error["code"] == 429
    assert "injected" in error["message"]
    assert transport.statistics().rate_limited == 1


@pytest.mark.parametrize(
    ("option", "status", "kind", "field"),
    [
        ("server_errors", 500, "api_error", "server_errors"),
        ("overloaded", 529, "overloaded_error", "overloaded"),
    ],
)
async def test_server_errors(option: str, status: int, kind: str, field: str) -> None:
    transport = ChaosTransport(inner=ok, **{option: 1.0})  # type: ignore[arg-type]
    response = await get(transport)
    assert response.status_code == status
    assert response.json()["error"]["type"] == kind
    assert "retry-after" not in response.headers
    assert getattr(transport.statistics(), field) == 1


async def test_timeout_raises_read_timeout_after_a_while(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport = ChaosTransport(inner=ok, timeouts=1.0, timeout_after=30.0)
    start = trio.current_time()
    with pytest.raises(httpx.ReadTimeout):
        await get(transport)
    assert trio.current_time() - start == pytest.approx(30.0)
    assert transport.statistics().timeouts == 1


async def test_timeout_at_once_by_default() -> None:
    transport = ChaosTransport(inner=ok, timeouts=1.0)
    with pytest.raises(httpx.ReadTimeout, match="injected"):
        await get(transport)


async def test_truncated_body_is_a_strict_prefix() -> None:
    transport = ChaosTransport(inner=ok, truncated=1.0, seed=3)
    for _ in range(20):
        response = await get(transport)
        assert response.status_code == 200
        assert len(response.content) < len(BODY)
        assert BODY.startswith(response.content)
        assert int(response.headers["content-length"]) == len(response.content)
    assert transport.statistics().truncated == 20


async def test_truncating_an_empty_body() -> None:
    transport = ChaosTransport(inner=lambda r: httpx.Response(200), truncated=1.0)
    assert (await get(transport)).content == b""


async def test_malformed_sse_splices_a_broken_event() -> None:
    transport = ChaosTransport(inner=ok, malformed_sse=1.0, seed=0)
    bad_positions = set()
    for _ in range(30):
        response = await get(transport, "/stream")
        events = [e for e in response.content.split(b"\n\n") if e]
        assert len(events) == 5
        broken = [e for e in events if b"tru" in e and not e.endswith(b"true}")]
        assert len(broken) == 1
        with pytest.raises(json.JSONDecodeError):
            json.loads(broken[0].removeprefix(b"data: "))
        assert [e for e in events if e not in broken] == [
            e for e in SSE.split(b"\n\n") if e
        ]
        bad_positions.add(events.index(broken[0]))
    assert len(bad_positions) > 1
    assert transport.statistics().malformed_sse == 30


async def test_malformed_sse_leaves_other_responses_alone() -> None:
    transport = ChaosTransport(inner=ok, malformed_sse=1.0)
    assert (await get(transport)).content == BODY
    stats = transport.statistics()
    assert (stats.passed, stats.malformed_sse) == (1, 0)


async def test_same_seed_same_chaos() -> None:
    async def outcomes(seed: int) -> list[int]:
        transport = ChaosTransport(
            inner=ok, rate_limited=0.2, server_errors=0.2, overloaded=0.2, seed=seed
        )
        return [(await get(transport)).status_code for _ in range(40)]

    first = await outcomes(7)
    assert first == await outcomes(7)
    assert first != await outcomes(8)
    assert {200, 429, 500, 529} == set(first)


async def test_statistics_add_up() -> None:
    transport = ChaosTransport(
        inner=ok,
        rate_limited=0.1,
        server_errors=0.1,
        overloaded=0.1,
        timeouts=0.1,
        truncated=0.1,
        seed=11,
    )
    for _ in range(200):
        with contextlib.suppress(httpx.ReadTimeout):
            await get(transport)
    stats = transport.statistics()
    assert stats.requests == 200
    assert stats.passed + stats.injected == 200
    assert min(stats.rate_limited, stats.server_errors, stats.timeouts) > 5


async def test_inner_errors_count_as_requests_only() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport = ChaosTransport(inner=broken)
    with pytest.raises(httpx.ConnectError):
        await get(transport)
    stats = transport.statistics()
    assert (stats.requests, stats.passed, stats.injected) == (1, 0, 0)


async def test_schedule_gates_chaos(autojump_clock: trio.testing.MockClock) -> None:
    schedule = FaultSchedule.between(10.0, 20.0)
    schedule.anchor()
    transport = ChaosTransport(inner=ok, server_errors=1.0, schedule=schedule)
    assert (await get(transport)).status_code == 200
    await trio.sleep(15.0)
    assert (await get(transport)).status_code == 500
    await trio.sleep(10.0)
    assert (await get(transport)).status_code == 200


async def test_aclose_closes_the_inner_transport() -> None:
    closed = []

    class Inner(httpx.AsyncBaseTransport):
        async def aclose(self) -> None:
            closed.append(True)

    async with ChaosTransport(inner=Inner()):
        pass
    assert closed == [True]


def test_decide_names_the_fault() -> None:
    transport = ChaosTransport(inner=ok, overloaded=1.0)
    assert transport.decide() is Chaos.OVERLOADED


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"rate_limited": 2}, "'rate_limited' must be a number between 0 and 1 (got 2)"),
        ({"timeouts": float("nan")}, "'timeouts' must be a number between 0 and 1"),
        ({"truncated": False}, "'truncated' must be a number between 0 and 1"),
        ({"retry_after": -1}, "'retry_after' must be a number >= 0 (got -1)"),
        ({"timeout_after": True}, "'timeout_after' must be a number >= 0"),
        ({"overloaded": 0.7, "server_errors": 0.7}, "must add up to at most 1"),
    ],
)
def test_validation_says_what_came(kwargs: dict[str, object], text: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ChaosTransport(inner=ok, **kwargs)  # type: ignore[arg-type]
    assert text in str(info.value)


def test_inner_must_be_a_transport_or_handler() -> None:
    with pytest.raises(ConfigurationError, match="'inner' must be an httpx"):
        ChaosTransport(inner="http://api")  # type: ignore[arg-type]
