"""MCP servers' tools through a ``ToolRegistry``, each server a supervised actor.

The server is ``mcp_server.py`` beside this file, started over stdio (and over
streamable HTTP on 127.0.0.1). Starting it costs about a second of imports, so
the end-to-end tests each cover several behaviours with one server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import anyio
import trio

from llmgine._exceptions import ConfigurationError, ToolError
from llmgine.actors import (
    ActorSystem,
    Backoff,
    Mailbox,
    OneForOne,
    Restart,
    open_actor_system,
)
from llmgine.engines import ChatEngine, UserInput
from llmgine.llm import (
    FinishReason,
    LLMResponse,
    Message,
    Role,
    ScriptedProvider,
    ToolCallPart,
    ToolResultPart,
)
from llmgine.tools import (
    MCPHttp,
    MCPServerActor,
    MCPServerRef,
    MCPStdio,
    MCPTool,
    ToolRegistry,
    connect_mcp,
    spawn_mcp_server,
    tool,
)
from llmgine.tools._mcp import _call_tool, _list_tools, _tool_name
from llmgine.tools._mcp_actor import _Lost, _Watched

SERVER = Path(__file__).with_name("mcp_server.py")
STDIO = MCPStdio(command=sys.executable, args=[str(SERVER)])


def call(name: str, arguments: Any = None, id: str = "c1") -> ToolCallPart:
    return ToolCallPart(
        id=id, name=name, arguments={} if arguments is None else arguments
    )


async def pid_of(registry: ToolRegistry) -> int:
    result = await registry.execute(call("whoami"))
    assert not result.is_error, result.content
    pid: int = json.loads(result.content)["pid"]
    return pid


async def wait_for_restarts(server: MCPServerRef, count: int) -> None:
    """Wait (bounded) for the actor to notice an external process died, and reconnect."""
    with trio.fail_after(10):
        while server.ref.statistics().restarts < count or not server.available:
            await trio.sleep(0.01)


@tool
def shout(text: str) -> str:
    """Shout the text."""
    return text.upper()


# -- without a server ---------------------------------------------------------


def test_llmgine_imports_without_mcp_and_says_how_to_get_it() -> None:
    script = """
import sys
import llmgine, llmgine.tools
assert "mcp" not in sys.modules, "llmgine imported mcp eagerly"
sys.modules["mcp"] = None  # as if it were not installed
from llmgine.tools import MCPServerActor, MCPStdio
try:
    MCPServerActor(MCPStdio(command="server"))
except llmgine.ConfigurationError as exc:
    print(exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'llmgine[mcp]'" in done.stdout


async def test_spawning_without_mcp_raises_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)
    async with open_actor_system("app") as system:
        with pytest.raises(ConfigurationError, match=r"pip install 'llmgine\[mcp\]'"):
            await spawn_mcp_server(system, STDIO, name="calc")
        assert system.lookup("/app/calc") is None


def test_transports_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="'command' must be a non-empty str"):
        MCPStdio(command=" ")
    with pytest.raises(ConfigurationError, match="'url' must be an http"):
        MCPHttp(url="ftp://example.com/mcp")
    assert MCPStdio(command="uvx", args=["server"]).args == ("server",)
    with pytest.raises(
        ConfigurationError, match="'transport' must be MCPStdio or MCPHttp"
    ):
        MCPServerActor("uvx server")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigurationError, match="'max_in_flight' must be a positive int"
    ):
        MCPServerActor(STDIO, max_in_flight=0)
    with pytest.raises(ConfigurationError, match="'connect_timeout'"):
        MCPServerActor(STDIO, connect_timeout=0)


def test_tool_names_are_made_safe_for_every_provider() -> None:
    assert _tool_name("", "add") == "add"
    assert _tool_name("calc_", "add") == "calc_add"
    assert _tool_name("", "files.read/all") == "files_read_all"
    assert len(_tool_name("p_", "x" * 100)) == 64


async def test_every_page_of_the_tool_listing_is_read() -> None:
    import mcp.types

    if not hasattr(mcp.types, "PaginatedRequestParams"):
        pytest.skip("this mcp cannot ask for more pages")
    from mcp.types import ListToolsResult, Tool

    def page(name: str, cursor: str | None) -> ListToolsResult:
        listed = Tool.model_validate({"name": name, "inputSchema": {"type": "object"}})
        return ListToolsResult.model_validate({"tools": [listed], "nextCursor": cursor})

    class Session:
        def __init__(self) -> None:
            self.cursors: list[str | None] = []

        async def list_tools(self, params: Any = None) -> ListToolsResult:
            cursor = None if params is None else params.cursor
            self.cursors.append(cursor)
            return {None: page("a", "p2"), "p2": page("b", "p3"), "p3": page("c", None)}[
                cursor
            ]

    session = Session()
    assert [t["name"] for t in await _list_tools(session)] == ["a", "b", "c"]
    assert session.cursors == [None, "p2", "p3"]


async def test_protocol_errors_become_error_results() -> None:
    from mcp.shared import exceptions
    from mcp.types import ErrorData

    errors: Any = exceptions
    mcp_error: Any = getattr(errors, "MCPError", None) or errors.McpError

    class Session:
        def __init__(self, code: int, message: str) -> None:
            data = ErrorData(code=code, message=message)
            make = getattr(mcp_error, "from_error_data", mcp_error)  # mcp 2, mcp 1
            self.error = make(data)

        async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
            raise self.error

    result = await _call_tool("add", {}, Session(-32602, "Unknown tool: add"))
    assert result == ToolResultPart(
        call_id="", content="Unknown tool: add", is_error=True, name="add"
    )
    result = await _call_tool("add", {}, Session(-32000, "Connection closed"))
    assert result.is_error
    assert "the MCP server closed the connection during the call" in result.content


async def test_an_actor_that_never_started_stops_and_ignores_old_news() -> None:
    actor = MCPServerActor(STDIO)
    assert await actor.receive(_Lost(object())) is None  # an earlier incarnation's
    await actor.on_stop()


async def test_the_watched_stream_reports_its_end() -> None:
    ended: list[bool] = []
    send, receive = anyio.create_memory_object_stream[int](1)
    watched = _Watched(receive, lambda: ended.append(True))
    await send.send(1)
    assert await watched.receive() == 1
    assert watched.statistics().open_send_streams == 1  # the rest is delegated
    await send.aclose()
    with pytest.raises(anyio.EndOfStream):
        await watched.receive()
    assert ended == [True]
    async with watched:
        pass
    await watched.aclose()


async def test_a_server_that_cannot_start_is_reported(tmp_path: Path) -> None:
    missing = MCPStdio(command=str(tmp_path / "no-such-server"))
    silent = MCPStdio(command=sys.executable, args=["-c", "import sys; sys.stdin.read()"])
    async with open_actor_system("app") as system:
        # PERMANENT, yet not restarted over and over: the first start failed.
        with pytest.raises(ToolError, match=r"did not start: .*no-such-server"):
            await spawn_mcp_server(system, missing, name="missing")
        assert system.lookup("/app/missing") is None
        with pytest.raises(ToolError, match="did not start: TooSlowError"):
            await spawn_mcp_server(
                system,
                silent,
                name="silent",
                restart=Restart.TEMPORARY,
                connect_timeout=0.5,
            )


# -- over stdio -----------------------------------------------------------------


async def test_stdio_tools_run_through_the_registry() -> None:
    async with (
        open_actor_system("app") as system,
        connect_mcp(system, STDIO, name="calc", timeout=0.5) as server,
    ):
        assert isinstance(server, MCPServerRef)
        names = [t.name for t in server.tools]
        assert names == ["add", "divide", "echo", "slow", "whoami", "crash"]
        add = server.tools[0]
        assert isinstance(add, MCPTool)
        assert add.remote_name == "add"
        assert add.description == "Add two integers."
        assert add.spec.parameters["required"] == ["a", "b"]
        assert add.spec.parameters["properties"]["a"]["type"] == "integer"
        assert add.timeout == 0.5
        assert "calc" in repr(add)
        assert "add" in repr(server)
        assert server.specs() == tuple(t.spec for t in server.tools)

        registry = ToolRegistry([shout, *server.tools])
        assert registry.get("add") is add
        assert add in registry

        result = await registry.execute(call("add", {"a": 2, "b": 3}, id="c1"))
        assert result == ToolResultPart(call_id="c1", content="5", name="add")
        assert (await registry.execute(call("shout", {"text": "hi"}))).content == "HI"

        # The server's error results come back with is_error, its text unchanged.
        result = await registry.execute(call("divide", {"a": 1, "b": 0}, id="c2"))
        assert result.is_error
        assert result.call_id == "c2"
        assert "divide" in result.content
        assert not result.content.startswith("ToolError")

        # Arguments: JSON text is parsed; the server validates the values.
        result = await registry.execute(call("echo", '{"text": "hi"}'))
        assert result == ToolResultPart(call_id="c1", content="hi", name="echo")
        result = await registry.execute(call("add", "{not json"))
        assert result.is_error
        assert "arguments for tool 'add' are not valid JSON" in result.content
        result = await registry.execute(call("add", "[1, 2]"))
        assert result.is_error
        assert "must be a JSON object (got list)" in result.content
        result = await registry.execute(call("add", {"a": "two"}))
        assert result.is_error
        assert "add" in result.content
        assert (await registry.execute(call("whoami", ""))).content.startswith("{")

        # A call past its timeout is cancelled; the connection stays up.
        result = await registry.execute(call("slow", {"seconds": 5}))
        assert result.is_error
        assert "timed out after 0.5 seconds" in result.content
        assert (await registry.execute(call("add", {"a": 1, "b": 1}))).content == "2"
        assert server.ref.statistics().restarts == 0

        # Anything else of MCP runs through request(), in the session's task.
        prompts = await server.request(lambda session: session.list_prompts())
        assert prompts.prompts == []

        async def broken(session: Any) -> None:
            raise LookupError("no such thing")

        with pytest.raises(LookupError, match="no such thing"):
            await server.request(broken)

        async def quiet(session: Any) -> None:
            await session.send_ping()

        assert await server.request(quiet) is None  # None is an answer too
        with pytest.raises(ToolError, match="takes no str messages"):
            await server.ref.ask("hello")

        # A prefix keeps two servers' tools apart; refs share the actor.
        other = MCPServerRef(server.ref, prefix="calc_")
        listed = await other.list_tools()
        assert [t.name for t in listed][:2] == ["calc_add", "calc_divide"]
        result = await other.tools[0].invoke({"a": 1, "b": 2})
        assert result.content == "3"

        # A ChatEngine runs the server's tools like any other.
        provider = ScriptedProvider(
            [
                LLMResponse(
                    message=Message(
                        role=Role.ASSISTANT,
                        parts=[
                            ToolCallPart(
                                id="t1", name="add", arguments={"a": 20, "b": 22}
                            )
                        ],
                    ),
                    finish_reason=FinishReason.TOOL_CALL,
                ),
                "The answer is 42.",
            ]
        )
        engine = await system.spawn(
            lambda: ChatEngine(provider=provider, model="m", tools=registry), name="chat"
        )
        reply = await engine.ask(UserInput(text="20 + 22?"), timeout=10)
        assert reply.text == "The answer is 42."
        assert provider.requests[0].tools == registry.specs()
        results = [
            p for m in reply.messages for p in m.parts if isinstance(p, ToolResultPart)
        ]
        assert [(r.call_id, r.content, r.is_error) for r in results] == [
            ("t1", "42", False)
        ]
        assert server.ref.statistics().restarts == 0
    assert system.lookup("/app/calc") is None  # the block stopped it


async def test_a_dead_server_is_restarted_by_its_supervisor() -> None:
    async with open_actor_system("app") as system:
        supervisor = await system.spawn_supervisor(
            "mcp", strategy=OneForOne(max_restarts=5, within=60)
        )
        server = await spawn_mcp_server(
            supervisor,
            STDIO,
            name="calc",
            mailbox=Mailbox(capacity=8),
            backoff=Backoff(initial=0.01, maximum=0.1),
        )
        assert server.ref.path == "/app/mcp/calc/connection"
        assert server.ref.statistics().capacity == 8
        registry = ToolRegistry(server.tools)
        first = await pid_of(registry)

        # Killed while idle: the actor sees the connection end and restarts.
        os.kill(first, signal.SIGKILL)
        await wait_for_restarts(server, 1)
        assert (await registry.execute(call("add", {"a": 1, "b": 2}))).content == "3"
        second = await pid_of(registry)
        assert second != first

        # Dying during a call: that call is an error result, the next one works.
        result = await registry.execute(call("crash"))
        assert result.is_error
        assert "closed the connection" in result.content or "ended" in result.content
        await wait_for_restarts(server, 2)
        assert (await registry.execute(call("add", {"a": 2, "b": 2}))).content == "4"
        assert await pid_of(registry) not in (first, second)
        assert server.ref.statistics().restarts == 2
        await server.stop()


# -- over streamable HTTP -------------------------------------------------------


@asynccontextmanager
async def http_server() -> AsyncIterator[tuple[str, trio.Process]]:
    """The test server on 127.0.0.1 (a port the OS picks): its URL and process."""
    process = await trio.lowlevel.open_process(
        [sys.executable, str(SERVER), "http"], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        seen = b""
        with trio.fail_after(20):
            while b"\n" not in seen:
                chunk = await process.stdout.receive_some(256)
                assert chunk, "the server exited before listening"
                seen += chunk
        port = int(seen.split(b"\n")[0].split()[1])
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()


async def wait_until_stopped(system: ActorSystem, path: str) -> None:
    with trio.fail_after(10):
        while system.lookup(path) is not None:
            await trio.sleep(0.01)


async def test_streamable_http_tools_run_through_the_registry() -> None:
    async with (
        http_server() as (url, process),
        open_actor_system("app") as system,
        connect_mcp(
            system,
            MCPHttp(url=url, headers={"X-Test": "1"}),
            name="calc",
            restart=Restart.TEMPORARY,
        ) as server,
    ):
        registry = ToolRegistry(server.tools)
        assert "add" in registry
        result = await registry.execute(call("add", {"a": 2, "b": 3}))
        assert result == ToolResultPart(call_id="c1", content="5", name="add")
        result = await registry.execute(call("divide", {"a": 1, "b": 0}))
        assert result.is_error
        assert "divide" in result.content

        # The server goes away: the call fails as a result, the actor fails with
        # it (TEMPORARY: it is not restarted, so nothing keeps reconnecting).
        process.kill()
        await process.wait()
        result = await registry.execute(call("add", {"a": 2, "b": 3}))
        assert result.is_error
        await wait_until_stopped(system, "/app/calc/connection")
        # Every ask was answered: the actor failed without losing a message.
        letters = system.dead_letters.list()
        assert not [d for d in letters if d.recipient == "/app/calc/connection"]
        result = await registry.execute(call("add", {"a": 2, "b": 3}))
        assert result.is_error
        assert "ActorStopped" in result.content
