"""MCP servers' tools in a ``ToolRegistry``: ``spawn_mcp_server`` and ``MCPTool``.

:func:`spawn_mcp_server` starts an :class:`MCPServerActor` (see ``_mcp_actor``)
and lists the server's tools; each becomes an :class:`MCPTool`, which a
:class:`ToolRegistry` runs like any other tool: the registry parses the model's
arguments and traces the call, the server validates and runs it, and its answer
(``isError`` included) comes back as a ``ToolResultPart``.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import trio

from .._exceptions import ConfigurationError, ToolError
from ..actors import ActorRef, Backoff, Mailbox, SupervisorRef
from ..llm import ToolResultPart, ToolSpec
from ._mcp_actor import MCPServerActor, Request
from ._mcp_client import ClientOptions, ElicitationCallback, MCPSampling, check_roots
from ._mcp_content import content
from ._mcp_health import DEFAULT_BACKOFF, ServerState, outage_strategy
from ._mcp_progress import ProgressCallback, progress_handler
from ._mcp_transport import MCPTransport
from ._tool import check_timeout

__all__ = [
    "MCPServerRef",
    "MCPTool",
    "connect_mcp",
    "spawn_mcp_server",
]

_INVALID = re.compile(r"[^A-Za-z0-9_-]")
#: JSON-RPC "connection closed", as the mcp client reports a transport that ended.
_CONNECTION_CLOSED = -32000
#: The name of a server's actor under the supervisor of its own.
CONNECTION = "connection"

Progress = Callable[[float, "float | None", "str | None"], Awaitable[None]]


def _wire(model: Any) -> dict[str, Any]:
    """An mcp (pydantic) object as its JSON-RPC form, the same in every mcp version."""
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


async def _call_tool(
    name: str,
    arguments: dict[str, Any],
    session: Any,
    on_progress: Progress | None = None,
) -> ToolResultPart:
    from mcp.shared import exceptions

    errors: Any = exceptions  # MCPError in mcp 2, McpError in mcp 1
    mcp_error: type[Exception] = getattr(errors, "MCPError", None) or errors.McpError
    try:
        if on_progress is None:
            answer = await session.call_tool(name, arguments)
        else:
            answer = await session.call_tool(
                name, arguments, progress_callback=on_progress
            )
        result = _wire(answer)
    except mcp_error as exc:
        error: Any = exc
        code, text = error.error.code, error.error.message
        if code == _CONNECTION_CLOSED:
            text = f"the MCP server closed the connection during the call ({text})"
        return ToolResultPart(call_id="", content=text, is_error=True, name=name)
    return ToolResultPart(
        call_id="",
        content=content(result),
        is_error=bool(result.get("isError")),
        name=name,
    )


async def _list_tools(session: Any) -> list[dict[str, Any]]:
    """Every page of ``tools/list`` the client can ask for, as JSON-RPC objects."""
    listing = _wire(await session.list_tools())
    tools: list[dict[str, Any]] = list(listing.get("tools", ()))
    accepts = inspect.signature(session.list_tools).parameters
    while cursor := listing.get("nextCursor"):
        if "params" in accepts:  # mcp 2, later mcp 1
            from mcp.types import PaginatedRequestParams

            listing = _wire(
                await session.list_tools(params=PaginatedRequestParams(cursor=cursor))
            )
        elif "cursor" in accepts:  # pragma: no cover - earlier mcp 1
            listing = _wire(await session.list_tools(cursor=cursor))
        else:  # pragma: no cover - early mcp 1 cannot ask for more pages
            break
        tools.extend(listing.get("tools", ()))
    return tools


class MCPTool:
    """One tool of an MCP server, to put in a :class:`ToolRegistry`.

    Its :attr:`spec` comes from the server's listing (name, description,
    ``inputSchema``). :meth:`validate` only parses the model's JSON and checks it
    is an object; the server validates the values, and its answers (``isError``
    included) come back as the result's content.
    """

    __slots__ = ("_server", "_spec", "_timeout", "remote_name")

    def __init__(
        self, server: MCPServerRef, listing: Mapping[str, Any], *, name: str
    ) -> None:
        self._server = server
        #: The tool's name on the server (``name`` may carry a prefix).
        self.remote_name: str = listing["name"]
        self._timeout = server.timeout
        schema = listing.get("inputSchema") or {}
        parameters = dict(schema) if isinstance(schema, Mapping) else {}
        parameters.setdefault("type", "object")
        description = listing.get("description") or listing.get("title") or ""
        self._spec = ToolSpec(name=name, description=description, parameters=parameters)

    def __repr__(self) -> str:
        return f"<MCPTool {self.name!r} of {self._server.ref.path}>"

    @property
    def name(self) -> str:
        """The name the model calls the tool by."""
        return self._spec.name

    @property
    def description(self) -> str:
        """What the model is told the tool does."""
        return self._spec.description

    @property
    def spec(self) -> ToolSpec:
        """The tool as providers describe it to the model."""
        return self._spec

    @property
    def timeout(self) -> float | None:
        """Seconds a call may take (None: the registry's default)."""
        return self._timeout

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        """The model's arguments as an object; JSON text is parsed (``""`` is ``{}``)."""
        if isinstance(arguments, str):
            if not arguments.strip():
                return {}
            try:
                arguments = json.loads(arguments)
            except ValueError as exc:
                raise ToolError(
                    f"arguments for tool {self.name!r} are not valid JSON: {exc}"
                ) from None
        if not isinstance(arguments, Mapping):
            raise ToolError(
                f"arguments for tool {self.name!r} must be a JSON object"
                f" (got {type(arguments).__name__})"
            )
        return dict(arguments)

    async def invoke(self, values: Mapping[str, Any]) -> ToolResultPart:
        """Call the tool on the server; its error results come back with ``is_error``.

        While the server is down (reconnecting) the call is not sent: the
        result is at once an error saying so.
        """
        server = self._server
        on_progress = progress_handler(server.ref.path, self.name, server.on_progress)
        op = functools.partial(
            _call_tool, self.remote_name, dict(values), on_progress=on_progress
        )
        try:
            result: ToolResultPart = await server.request(op)
        except ToolError as exc:  # the server is down, or went down meanwhile
            return ToolResultPart(
                call_id="", content=str(exc), is_error=True, name=self.name
            )
        return result


class MCPServerRef:
    """A running :class:`MCPServerActor`: its tools, ready to register.

    ``tools`` is the listing made when it was spawned; :meth:`list_tools` asks
    the server again. Refs stay valid across restarts of the server.
    """

    __slots__ = (
        "_state",
        "_supervisor",
        "_tools",
        "on_progress",
        "prefix",
        "ref",
        "timeout",
    )

    def __init__(
        self,
        ref: ActorRef,
        *,
        prefix: str = "",
        timeout: float | None = None,
        state: ServerState | None = None,
        supervisor: SupervisorRef | None = None,
        on_progress: ProgressCallback | None = None,
    ):
        self.ref = ref
        self.prefix = prefix
        self.timeout = timeout
        self.on_progress = on_progress
        self._state = state
        self._supervisor = supervisor
        self._tools: tuple[MCPTool, ...] = ()

    def __repr__(self) -> str:
        return f"<MCPServerRef {self.ref.path} {[t.name for t in self._tools]!r}>"

    @property
    def tools(self) -> tuple[MCPTool, ...]:
        """The server's tools, as of the last listing."""
        return self._tools

    @property
    def available(self) -> bool:
        """Whether the server is connected now (False during an outage)."""
        return self._state is None or self._state.available

    @property
    def supervisor(self) -> SupervisorRef | None:
        """The server's own supervisor, or None when spawned without one."""
        return self._supervisor

    def specs(self) -> tuple[ToolSpec, ...]:
        """The tools' specs, as of the last listing."""
        return tuple(t.spec for t in self._tools)

    async def list_tools(self) -> tuple[MCPTool, ...]:
        """Ask the server for its tools again, keep and return them."""
        listing: list[dict[str, Any]] = await self.request(_list_tools)
        self._tools = tuple(
            MCPTool(self, item, name=_tool_name(self.prefix, item["name"]))
            for item in listing
        )
        return self._tools

    def unavailable(self) -> ToolError | None:
        """The error a request gets now because the server is down, if it is."""
        state = self._state
        if state is None or state.available or not self.ref.statistics().running:
            return None  # up, or stopped for good (the ask says so)
        return state.unavailable()

    async def request(self, op: Callable[[Any], Awaitable[Any]]) -> Any:
        """Run ``await op(session)`` with the server's ``mcp.ClientSession``.

        The escape hatch to the rest of MCP (resources, prompts): ``op`` runs in
        the task that owns the session; its exception is raised here. During an
        outage this raises ``ToolError`` at once, and nothing is sent.
        """
        down = self.unavailable()
        if down is not None:
            raise down
        return await self.ref.ask(Request(op))

    async def stop(self) -> None:
        """Stop the actor for good, which stops the server."""
        await self.ref.stop()
        if self._supervisor is not None:
            await self._supervisor.stop()


def _tool_name(prefix: str, name: str) -> str:
    """A name every provider accepts: letters, digits, ``_`` and ``-``, at most 64."""
    return _INVALID.sub("_", prefix + name)[:64]


_DEFAULT: Any = DEFAULT_BACKOFF


async def spawn_mcp_server(
    spawner: Any,
    transport: MCPTransport,
    *,
    name: str,
    prefix: str = "",
    timeout: float | None = None,
    connect_timeout: float = 10.0,
    max_in_flight: int = 64,
    mailbox: Mailbox | None = None,
    backoff: Backoff | None = _DEFAULT,
    ping_interval: float | None = 30.0,
    roots: Iterable[str] | Mapping[str, str] | None = None,
    sampling: MCPSampling | None = None,
    elicitation: ElicitationCallback | None = None,
    on_progress: ProgressCallback | None = None,
    **options: Any,
) -> MCPServerRef:
    """Spawn an :class:`MCPServerActor`, list its tools, and return its ref.

    ``spawner`` is an ``ActorSystem``, a ``SupervisorRef`` or an actor's
    ``context``; ``options`` (``restart``, ``breaker``) go to the actor's
    ``spawn``. ``prefix`` is put before every tool name (for two servers with
    the same names); ``timeout`` is the tools' call timeout (None: the
    registry's).

    The actor (``connection``) runs under a supervisor of its own, named
    ``name``, that restarts it after ``backoff`` and never gives up on an
    outage, so a server that goes away never exhausts the supervisor above
    (``backoff=None``: the actor, named ``name``, goes straight under
    ``spawner``). A ``ping`` every ``ping_interval`` seconds notices an idle
    outage (None: no pings). ``roots``, ``sampling`` and ``elicitation`` are the
    client capabilities offered to the server; ``on_progress`` is told of the
    tools' progress notifications.

    As with OTP's ``start_child``, a server whose first start fails is not left
    to its supervisor: the actor is stopped and :class:`~llmgine.ToolError`
    raised here, naming the cause (a wrong command, an unreachable URL).
    """
    check_timeout(timeout)
    if on_progress is not None and not callable(on_progress):
        raise ConfigurationError(
            f"'on_progress' must be a callable (got {on_progress!r})"
        )
    strategy = None if backoff is None else outage_strategy(backoff)
    client = ClientOptions(
        roots=check_roots(roots), sampling=sampling, elicitation=elicitation
    )
    state = ServerState()
    factory = functools.partial(
        MCPServerActor,
        transport,
        connect_timeout=connect_timeout,
        max_in_flight=max_in_flight,
        ping_interval=ping_interval,
        client=client,
        state=state,
    )
    factory()  # check the options now, not at the first restart
    if mailbox is not None:
        options["mailbox"] = mailbox
    supervisor: SupervisorRef | None = None
    if strategy is not None:
        supervisor = await spawner.spawn_supervisor(name, strategy=strategy)
        spawner, name = supervisor, CONNECTION
    try:
        # A first start that fails raises here (its ToolError names the cause).
        ref: ActorRef = await spawner.spawn(factory, name=name, **options)
        server = MCPServerRef(
            ref,
            prefix=prefix,
            timeout=timeout,
            state=state,
            supervisor=supervisor,
            on_progress=on_progress,
        )
        await server.list_tools()
    except BaseException:
        if supervisor is not None:
            with trio.CancelScope(shield=True):
                await supervisor.stop()
        raise
    return server


@asynccontextmanager
async def connect_mcp(
    spawner: Any, transport: MCPTransport, *, name: str, **options: Any
) -> AsyncIterator[MCPServerRef]:
    """:func:`spawn_mcp_server` for the duration of an ``async with`` block.

    Leaving the block stops the actor, and the server with it.
    """
    server = await spawn_mcp_server(spawner, transport, name=name, **options)
    try:
        yield server
    finally:
        with trio.CancelScope(shield=True):
            await server.stop()
