"""MCP server outages: the actor system outlives them, calls fail fast, pings notice.

The server is ``mcp_server.py`` over streamable HTTP, killed and started again on
the same port, as a remote server goes down and comes back.
"""

from __future__ import annotations

import json
import signal
from collections import deque
from typing import Any

import pytest

pytest.importorskip("mcp")

import trio
from hypothesis import example, given
from hypothesis import strategies as st

from llmgine import ConfigurationError, MailboxFull, SupervisionError, ToolError
from llmgine.actors import Actor, Backoff, Failure, open_actor_system
from llmgine.tools import (
    MCPHttp,
    MCPServerActor,
    ToolRegistry,
    connect_mcp,
    spawn_mcp_server,
)
from llmgine.tools._mcp_actor import Request, _Lost
from llmgine.tools._mcp_health import DEFAULT_BACKOFF, outage_strategy
from llmgine.tools._mcp_transport import HttpErrors

from .mcp_support import call, http_server, wait_until

FAST = Backoff(initial=0.05, maximum=0.2)
BARE = "Server returned an error response"


async def test_a_call_during_an_outage_does_not_end_the_actor_system() -> None:
    # The first example of docs/mcp.md, against a remote server that goes down:
    # before, the restarts ran back to back and the root supervisor gave up.
    async with http_server() as (url, _, process):  # noqa: SIM117 - the docs' block
        async with (
            open_actor_system("app") as system,
            connect_mcp(system, MCPHttp(url=url), name="time") as server,
        ):
            assert server.ref.path == "/app/time/connection"
            assert server.supervisor is not None
            assert server.supervisor.path == "/app/time"
            registry = ToolRegistry(server.tools)
            assert (await registry.execute(call("add", {"a": 1, "b": 2}))).content == "3"
            process.kill()
            await process.wait()
            result = await registry.execute(call("add", {"a": 1, "b": 2}))
            assert result.is_error  # the call that met the outage
            await wait_until(lambda: not server.available)
            # During the outage every call is an error result at once, and
            # nothing is sent: the model reads why.
            for _ in range(20):
                with trio.fail_after(1):
                    result = await registry.execute(call("add", {"a": 1, "b": 2}))
                assert result.is_error
                assert "MCP server /app/time/connection is unavailable" in result.content
                assert "reconnecting" in result.content
            with pytest.raises(Exception, match="is unavailable"):
                await server.request(lambda session: session.send_ping())
            # The restarts back off: three of them wait 0.25 + 0.5 s at least.
            begun = trio.current_time()
            before = server.ref.statistics().restarts
            await wait_until(lambda: server.ref.statistics().restarts >= before + 3)
            assert trio.current_time() - begun >= DEFAULT_BACKOFF.delay(2)
            assert system.lookup("/app/time/connection") is not None
            assert system.dead_letters.list() == []  # every call was answered
    # Leaving the block raised nothing: the system outlived the outage.


async def test_an_idle_outage_is_noticed_by_a_ping_and_the_server_comes_back() -> None:
    async with open_actor_system("app") as system:
        async with http_server() as (url, port, process):
            server = await spawn_mcp_server(
                system, MCPHttp(url=url), name="calc", ping_interval=0.1, backoff=FAST
            )
            registry = ToolRegistry(server.tools)
            assert server.available
            process.kill()
            await process.wait()
            # Nobody calls: the ping notices, and the actor starts reconnecting.
            await wait_until(lambda: not server.available)
            await wait_until(lambda: server.ref.statistics().restarts >= 2)
            result = await registry.execute(call("add", {"a": 1, "b": 2}))
            assert result.is_error
            assert "unavailable" in result.content
        async with http_server(port):  # back where it was
            await wait_until(lambda: server.available)
            result = await registry.execute(call("add", {"a": 2, "b": 2}))
            assert (result.is_error, result.content) == (False, "4")
            await server.stop()
            assert system.lookup("/app/calc") is None
            assert system.lookup("/app/calc/connection") is None


async def test_without_a_supervisor_of_its_own_the_actor_is_the_spawners_child() -> None:
    async with (
        http_server() as (url, _, _),
        open_actor_system("app") as system,
    ):
        server = await spawn_mcp_server(
            system, MCPHttp(url=url), name="calc", backoff=None, ping_interval=None
        )
        assert server.ref.path == "/app/calc"
        assert server.supervisor is None
        await server.stop()
        with pytest.raises(ConfigurationError, match="'backoff' must be a Backoff"):
            await spawn_mcp_server(system, MCPHttp(url=url), name="x", backoff=1.0)  # type: ignore[arg-type]
        with pytest.raises(ToolError, match="did not start"):
            await spawn_mcp_server(
                system, MCPHttp(url=url + "/missing"), name="z", backoff=None
            )
        assert system.lookup("/app/z") is None
        with pytest.raises(ConfigurationError, match="'ping_interval'"):
            await spawn_mcp_server(system, MCPHttp(url=url), name="y", ping_interval=0)


class _NeverUp(Actor):
    """Fails every start, as an actor whose server is down for good."""

    async def on_start(self) -> None:
        raise OSError("connection refused")

    async def receive(self, message: object) -> object:  # pragma: no cover
        return None


async def test_the_supervisor_of_a_server_never_gives_up_on_an_outage(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Ten virtual minutes of failed reconnections, under the default backoff.
    async with open_actor_system("app") as system:
        supervisor = await system.spawn_supervisor(
            "time", strategy=outage_strategy(DEFAULT_BACKOFF)
        )
        ref = supervisor.spawn_nowait(_NeverUp, name="connection")
        await trio.sleep(600)
        restarts = ref.statistics().restarts
        assert 60 <= restarts <= 600 / DEFAULT_BACKOFF.maximum + 10
        await supervisor.stop()


async def test_an_instant_backoff_is_a_test_switch(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with pytest.raises(SupervisionError):  # sanity: the default strategy gives up
        async with open_actor_system("app") as system:
            system.spawn_nowait(_NeverUp, name="connection")
            await trio.sleep(10)
    instant = outage_strategy(Backoff(initial=0, maximum=0))
    assert instant.max_restarts == 1001
    assert (
        outage_strategy(Backoff(initial=0, maximum=0, multiplier=1)).max_restarts > 1000
    )


@given(
    initial=st.floats(min_value=0.01, max_value=5),
    maximum=st.floats(min_value=0.12, max_value=30),
    multiplier=st.floats(min_value=1, max_value=4),
    connect=st.floats(min_value=0, max_value=2),
)
# once the count of a window was capped where Backoff.delay used to overflow
@example(initial=0.015625, maximum=0.12, multiplier=4.0, connect=0.0)
def test_the_backoff_alone_never_exceeds_the_intensity(
    initial: float, maximum: float, multiplier: float, connect: float
) -> None:
    # The supervisor's rule, replayed: restart n of a window waits delay(n).
    backoff = Backoff(initial=initial, maximum=maximum, multiplier=multiplier)
    strategy = outage_strategy(backoff)
    times: deque[float] = deque()
    now = 0.0
    for _ in range(3 * strategy.max_restarts + 50):
        times.append(now)
        while now - times[0] > strategy.within:
            times.popleft()
        assert len(times) <= strategy.max_restarts
        now += backoff.delay(len(times)) + connect


async def test_a_hung_server_is_noticed_by_an_unanswered_ping() -> None:
    async with open_actor_system("app") as system, http_server() as (url, _, process):
        server = await spawn_mcp_server(
            system,
            MCPHttp(url=url),
            name="calc",
            ping_interval=0.1,
            connect_timeout=0.5,
            backoff=FAST,
        )
        registry = ToolRegistry(server.tools)
        process.send_signal(signal.SIGSTOP)  # up, but answering nothing
        try:
            await wait_until(lambda: not server.available)
            result = await registry.execute(call("add", {"a": 1, "b": 2}))
            assert result.is_error
            assert result.content.startswith("MCP server /app/calc/connection is")
            assert "TooSlowError" in result.content  # the ping, or a reconnection
        finally:
            process.send_signal(signal.SIGCONT)
        await wait_until(lambda: server.available)
        assert (await registry.execute(call("add", {"a": 1, "b": 2}))).content == "3"
        await server.stop()


class _Context:
    """Enough of an actor context for the actor's loss path."""

    path = "/app/calc/connection"

    def __init__(self, room: bool) -> None:
        self.told: list[object] = []
        self.started: list[Any] = []
        self.room = room
        self.ref = self

    def tell_nowait(self, message: object) -> None:
        if not self.room:
            raise MailboxFull("full")
        self.told.append(message)

    def start_soon(self, fn: Any) -> None:
        self.started.append(fn)


async def test_requests_waiting_when_the_connection_ends_are_answered_at_once() -> None:
    actor = MCPServerActor(MCPHttp(url="http://127.0.0.1:1/mcp"))
    context = _Context(room=True)
    actor._context = context  # type: ignore[assignment]
    actor._started = True
    actor._end(OSError("reset"))
    (lost,) = context.told  # queued behind what waits
    answer = await actor.receive(Request(lambda session: session.send_ping()))
    assert isinstance(answer, Failure)
    assert "unavailable (the connection ended: OSError: reset)" in str(answer.error)
    assert context.started == []
    assert await actor.receive(lost) is None  # then the actor fails, to restart
    (fail,) = context.started
    with pytest.raises(ToolError, match=r"the connection to MCP server .* ended"):
        await fail()
    assert await actor.receive(_Lost(object())) is None  # an earlier incarnation's


async def test_a_loss_that_cannot_be_queued_fails_the_actor_at_the_next_message() -> None:
    actor = MCPServerActor(MCPHttp(url="http://127.0.0.1:1/mcp"))
    context = _Context(room=False)
    actor._context = context  # type: ignore[assignment]
    actor._started = True
    actor._end(OSError("reset"))
    for _ in range(2):
        answer = await actor.receive(Request(lambda session: session.send_ping()))
        assert isinstance(answer, Failure)
    (fail,) = context.started  # once
    with pytest.raises(ToolError, match=r"the connection to MCP server .* ended"):
        await fail()


async def test_an_http_error_is_explained_not_just_reported() -> None:
    token = "letmein-0123456789"
    async with (
        open_actor_system("app") as system,
        http_server(token=token) as (url, _, _),
    ):
        with pytest.raises(ToolError) as caught:
            await spawn_mcp_server(system, MCPHttp(url=url), name="locked")
        said = str(caught.value)
        assert "did not start" in said
        assert f"HTTP 401 Unauthorized from POST {url}" in said
        assert "the server wants authorization: give MCPHttp an auth" in said
        wrong = MCPHttp(url=url, headers={"Authorization": "Bearer wrong-token-value"})
        with pytest.raises(ToolError, match="HTTP 401"):
            await spawn_mcp_server(system, wrong, name="wrong")
        right = MCPHttp(url=url, headers={"Authorization": f"Bearer {token}"})
        async with connect_mcp(system, right, name="open") as server:
            registry = ToolRegistry(server.tools)
            assert (await registry.execute(call("add", {"a": 1, "b": 2}))).content == "3"


async def test_http_errors_are_noted_by_request_id_and_forgotten_past_a_limit() -> None:
    import httpx2
    import mcp.types
    from mcp.shared.message import SessionMessage

    def response(status: int, body: bytes) -> Any:
        request = httpx2.Request("POST", "http://h/mcp", content=body)
        return httpx2.Response(status, request=request)

    def failed(id: int, text: str = BARE) -> Any:
        error = mcp.types.ErrorData(code=-32603, message=text)
        return SessionMessage(mcp.types.JSONRPCError(jsonrpc="2.0", id=id, error=error))

    errors = HttpErrors(auth=object())  # an auth was given: it was refused
    await errors.on_response(response(200, b'{"id": 1}'))
    await errors.on_response(response(500, b"not json"))
    await errors.on_response(response(500, b'{"method": "notifications/x"}'))
    await errors.on_response(response(403, b'{"id": 2}'))
    said = errors.explain(failed(2)).message.error.message
    assert said == (
        f"{BARE}: HTTP 403 Forbidden from POST http://h/mcp;"
        " the server refused the credentials"
    )
    assert errors.explain(failed(2)).message.error.message == BARE  # said once
    assert errors.explain(failed(3, "Unknown tool")).message.error.message == (
        "Unknown tool"
    )
    assert errors.explain("not a message") == "not a message"
    for id in range(HttpErrors.LIMIT + 1):
        await errors.on_response(response(502, json.dumps({"id": id}).encode()))
    assert errors.explain(failed(0)).message.error.message == BARE  # forgotten
    assert "HTTP 502" in errors.explain(failed(HttpErrors.LIMIT)).message.error.message
