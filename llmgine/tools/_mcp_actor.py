"""``MCPServerActor``: one MCP server connection, owned by a supervised actor.

Needs the optional extra ``mcp`` (``pip install 'llmgine[mcp]'``); ``mcp`` is
imported only when an actor is made, so ``llmgine.tools`` imports without it.

The ``mcp`` client is built on anyio, whose context managers (the transport and
the ``ClientSession``) must be entered and left in one task. So the actor does
not hold them across its hooks: ``on_start`` starts a *host* task in the system
nursery that opens the transport and the session, initializes it, and then runs
the actor's requests in a nursery of its own until ``on_stop`` cancels it or the
connection ends. The host watches the transport's read stream: when it ends (the
server process died) or the transport fails (an HTTP request could not be
made), the host tells the actor, which raises, so its supervisor restarts it and
the new incarnation connects afresh. Requests sent meanwhile wait in the
mailbox, which outlives restarts.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TextIO

import attrs
import trio

from .._exceptions import ActorStopped, ConfigurationError, MailboxFull, ToolError
from ..actors import Actor, Deferred, Failure, Priority
from ._tool import check_timeout

__all__ = [
    "MCPHttp",
    "MCPServerActor",
    "MCPStdio",
    "MCPTransport",
    "Op",
    "Request",
    "StartStatus",
    "import_mcp",
]

_INSTALL = "MCP support needs the 'mcp' package: pip install 'llmgine[mcp]'"


def import_mcp() -> Any:
    """The ``mcp`` package, or a ``ConfigurationError`` saying how to install it."""
    try:
        import mcp
    except ImportError as exc:
        raise ConfigurationError(_INSTALL) from exc
    return mcp


def _text(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"{attribute.name!r} must be a non-empty str (got {value!r})"
        )


def _url(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"'url' must be an http:// or https:// URL (got {value!r})"
        )


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class MCPStdio:
    """An MCP server started as a subprocess, speaking JSON-RPC over stdin/stdout.

    ``env`` is added to a minimal inherited environment (``PATH``, ``HOME``, ...);
    the server's stderr goes to ``errlog`` (default: ``sys.stderr``).
    """

    command: str = attrs.field(validator=_text)
    args: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    env: Mapping[str, str] | None = attrs.field(default=None, hash=False)
    cwd: str | None = None
    errlog: TextIO | None = attrs.field(default=None, eq=False)


@attrs.frozen(kw_only=True)
class MCPHttp:
    """An MCP server reached over streamable HTTP at ``url``.

    ``headers`` go with every request (``Authorization``, say).
    """

    url: str = attrs.field(validator=_url)
    headers: Mapping[str, str] = attrs.field(factory=dict, hash=False)


MCPTransport = MCPStdio | MCPHttp


@asynccontextmanager
async def _open_transport(transport: MCPTransport) -> AsyncIterator[tuple[Any, Any]]:
    """The transport's (read, write) streams, for the mcp versions we support."""
    if isinstance(transport, MCPStdio):
        from mcp.client.stdio import StdioServerParameters, stdio_client

        params = StdioServerParameters(
            command=transport.command,
            args=list(transport.args),
            env=None if transport.env is None else dict(transport.env),
            cwd=transport.cwd,
        )
        errlog = sys.stderr if transport.errlog is None else transport.errlog
        async with stdio_client(params, errlog=errlog) as streams:
            yield streams[0], streams[1]
    else:
        async with _open_http(transport) as streams:
            yield streams


@asynccontextmanager
async def _open_http(transport: MCPHttp) -> AsyncIterator[tuple[Any, Any]]:
    from mcp.client import streamable_http

    headers = dict(transport.headers)
    current: Any = getattr(streamable_http, "streamable_http_client", None)
    if current is None:  # pragma: no cover - mcp 1 before streamable_http_client
        legacy: Any = getattr(streamable_http, "streamablehttp_client")  # noqa: B009
        async with legacy(transport.url, headers=headers) as streams:
            yield streams[0], streams[1]
    else:  # headers go on the HTTP client
        from mcp.shared._httpx_utils import create_mcp_http_client

        async with (
            create_mcp_http_client(headers=headers) as client,
            current(transport.url, http_client=client) as streams,
        ):
            yield streams[0], streams[1]


class _Watched:
    """A transport's read stream; its end means the connection ended."""

    def __init__(self, stream: Any, on_end: Callable[[], None]) -> None:
        self._stream = stream
        self._on_end = on_end

    def __getattr__(self, name: str) -> Any:  # last_context, statistics, ...
        return getattr(self._stream, name)

    async def receive(self) -> Any:
        try:
            return await self._stream.receive()
        except Exception:
            self._on_end()
            raise

    def __aiter__(self) -> _Watched:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self._stream.__anext__()
        except Exception:  # StopAsyncIteration included
            self._on_end()
            raise

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> _Watched:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stream.aclose()


#: One request for the session, run by the host: ``op(session)``.
Op = Callable[[Any], Awaitable[Any]]


@attrs.frozen
class Request:
    op: Op


@attrs.frozen
class _Lost:
    sender: object


class StartStatus:
    """Shared by a server's incarnations: how the last start went."""

    __slots__ = ("error", "settled")

    def __init__(self) -> None:
        self.error: BaseException | None = None
        #: Set once the first incarnation has started, or failed to.
        self.settled = trio.Event()


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class MCPServerActor(Actor):
    """One MCP server connection as an actor; see :func:`spawn_mcp_server`.

    A connection that ends (the server process died, an HTTP request to it
    failed) fails the actor, so its supervisor restarts it, and the restart
    starts the server again. A start that fails (the command does not exist, no
    handshake within ``connect_timeout`` seconds) fails it the same way;
    :func:`spawn_mcp_server` reports a failed *first* start to its caller instead.
    ``max_in_flight`` bounds the requests running at once.
    """

    def __init__(
        self,
        transport: MCPTransport,
        *,
        connect_timeout: float = 10.0,
        max_in_flight: int = 64,
        status: StartStatus | None = None,
    ) -> None:
        import_mcp()
        if not isinstance(transport, MCPStdio | MCPHttp):
            raise ConfigurationError(
                "'transport' must be MCPStdio or MCPHttp"
                f" (got {type(transport).__name__})"
            )
        check_timeout(connect_timeout, "connect_timeout")
        if (
            isinstance(max_in_flight, bool)
            or not isinstance(max_in_flight, int)
            or max_in_flight <= 0
        ):
            raise ConfigurationError(
                f"'max_in_flight' must be a positive int (got {max_in_flight!r})"
            )
        self._transport = transport
        self._connect_timeout = float(connect_timeout)
        self._slots = trio.Semaphore(max_in_flight)
        self._status = StartStatus() if status is None else status
        self._scope = trio.CancelScope()
        self._done: trio.Event | None = None
        self._session: Any = None
        self._calls: trio.Nursery | None = None
        self._started = False
        self._lost: ToolError | None = None
        self._ending = trio.Event()

    async def on_start(self) -> None:
        self._done = trio.Event()
        try:
            await self.context.system.nursery.start(self._host)
        except Exception as exc:
            error = ToolError(
                f"MCP server {self.context.path} did not start: {_describe(exc)}"
            )
            self._status.error = error
            self._status.settled.set()
            raise error from exc
        self._status.error = None
        self._status.settled.set()

    async def on_stop(self) -> None:
        self._scope.cancel()
        if self._done is not None:
            await self._done.wait()

    async def receive(self, message: object) -> object:
        """Admit a request for the session; its outcome answers the ask when ready."""
        if self._lost is not None:
            raise self._lost  # restart me: the connection is gone
        if isinstance(message, _Lost):
            return None  # from an earlier incarnation
        if not isinstance(message, Request):
            kind = type(message).__name__
            return Failure(ToolError(f"an MCPServerActor takes no {kind} messages"))
        calls = self._calls
        if calls is None:  # pragma: no cover - the host sets _lost as it clears _calls
            raise ToolError(f"MCP server {self.context.path} is not connected")
        await self._slots.acquire()
        deferred = self.context.defer()
        calls.start_soon(self._run, message.op, self._session, deferred)
        return deferred

    async def _host(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        from mcp import ClientSession

        started = False
        try:
            with self._scope:
                async with _open_transport(self._transport) as (read, write):
                    watched = _Watched(read, self._end)
                    async with ClientSession(watched, write) as session:
                        with trio.fail_after(self._connect_timeout):
                            await session.initialize()
                        try:
                            async with trio.open_nursery() as calls:
                                self._session, self._calls = session, calls
                                task_status.started()
                                started = self._started = True
                                await self._ending.wait()
                                calls.cancel_scope.cancel()
                        finally:
                            self._session = self._calls = None
                            self._end()  # unless on_stop cancelled us
        except Exception as exc:
            if not started:
                raise
            self._end(exc)
        finally:
            assert self._done is not None
            self._done.set()

    def _end(self, error: BaseException | None = None) -> None:
        """The connection ended: fail the actor, so that its supervisor restarts it."""
        if self._lost is not None and self._lost.__cause__ is None:
            self._lost.__cause__ = error  # the transport's error came after its end
        if not self._started or self._lost is not None or self._scope.cancel_called:
            return  # not started yet (on_start fails), already ended, or stopping
        lost = ToolError(f"the connection to MCP server {self.context.path} ended")
        lost.__cause__ = error
        self._lost = lost
        self._ending.set()
        # If this cannot be queued, the next message finds self._lost instead.
        with contextlib.suppress(MailboxFull, ActorStopped):
            self.context.ref.tell_nowait(_Lost(self), priority=Priority.HIGH)

    async def _run(self, op: Op, session: Any, deferred: Deferred) -> None:
        finished = False
        try:
            with deferred.cancel_scope():  # cancelled when the asker gives up
                result = await op(session)
                finished = True
            if finished:
                deferred.resolve(result)
        except Exception as exc:
            deferred.fail(exc)
        finally:
            if not finished and not deferred.done:
                if deferred.cancelled:
                    deferred.settle_cancelled()
                else:  # cut off, not abandoned
                    self._end()
                    deferred.fail(
                        ToolError(
                            f"the connection to MCP server {self.context.path} ended"
                            " before the request finished"
                        )
                    )
            self._slots.release()
