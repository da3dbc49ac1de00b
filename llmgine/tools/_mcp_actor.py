"""``MCPServerActor``: one MCP server connection, owned by a supervised actor.

Needs the optional extra ``mcp`` (``pip install 'llmgine[mcp]'``); ``mcp`` is
imported only when an actor is made, so ``llmgine.tools`` imports without it.

The ``mcp`` client is built on anyio, whose context managers (the transport and
the ``ClientSession``) must be entered and left in one task. So the actor does
not hold them across its hooks: ``on_start`` starts a *host* task in the system
nursery that opens the transport and the session, initializes it, and then runs
the actor's requests in a nursery of its own until ``on_stop`` cancels it or the
connection ends. The host watches the connection: the transport's read stream
ending (the server process died), the transport failing (an HTTP request could
not be made), or a periodic ``ping`` going unanswered (an idle outage) ends it.
The actor then answers what waits in its mailbox at once with an error and
fails, so its supervisor restarts it (with a backoff) and the new incarnation
connects afresh. An incarnation that cannot reconnect does the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from .._exceptions import ActorStopped, ConfigurationError, MailboxFull, ToolError
from ..actors import Actor, Deferred, Failure
from ._mcp_client import ClientOptions, session_callbacks
from ._mcp_health import ServerState
from ._mcp_transport import (
    HttpErrors,
    MCPHttp,
    MCPStdio,
    MCPTransport,
    import_mcp,
    open_transport,
)
from ._tool import check_timeout

__all__ = ["MCPServerActor", "Op", "Request"]


class _Watched:
    """A transport's read stream; its end means the connection ended."""

    def __init__(
        self,
        stream: Any,
        on_end: Callable[[], None],
        explain: Callable[[Any], Any] = lambda item: item,
    ) -> None:
        self._stream = stream
        self._on_end = on_end
        self._explain = explain

    def __getattr__(self, name: str) -> Any:  # last_context, statistics, ...
        return getattr(self._stream, name)

    async def receive(self) -> Any:
        try:
            return self._explain(await self._stream.receive())
        except Exception:
            self._on_end()
            raise

    def __aiter__(self) -> _Watched:
        return self

    async def __anext__(self) -> Any:
        try:
            return self._explain(await self._stream.__anext__())
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


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _check_interval(value: object) -> float | None:
    if value is None:
        return None
    check_timeout(value, "ping_interval")
    return float(value)  # type: ignore[arg-type]


class MCPServerActor(Actor):
    """One MCP server connection as an actor; see :func:`spawn_mcp_server`.

    A connection that ends (the server process died, an HTTP request to it
    failed, a ``ping`` sent every ``ping_interval`` seconds went unanswered for
    ``connect_timeout`` seconds) fails the actor, so its supervisor restarts
    it, and the restart connects again. Requests waiting in the mailbox then,
    and requests made until a connection is back, get an error at once. A start
    that fails (the command does not exist, no handshake within
    ``connect_timeout`` seconds) fails it the same way; :func:`spawn_mcp_server`
    reports a failed *first* start to its caller instead. ``max_in_flight``
    bounds the requests running at once.
    """

    def __init__(
        self,
        transport: MCPTransport,
        *,
        connect_timeout: float = 10.0,
        max_in_flight: int = 64,
        ping_interval: float | None = 30.0,
        client: ClientOptions | None = None,
        state: ServerState | None = None,
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
        self._ping_interval = _check_interval(ping_interval)
        self._client = ClientOptions() if client is None else client
        self._slots = trio.Semaphore(max_in_flight)
        self._state = ServerState() if state is None else state
        self._scope = trio.CancelScope()
        self._done: trio.Event | None = None
        self._session: Any = None
        self._calls: trio.Nursery | None = None
        self._started = False
        self._lost: ToolError | None = None
        self._told = False
        self._ending = trio.Event()

    async def on_start(self) -> None:
        state = self._state
        state.path = self.context.path
        self._done = trio.Event()
        try:
            await self.context.system.nursery.start(self._host)
        except Exception as exc:
            reason = f"did not start: {_describe(exc)}"
            error = ToolError(f"MCP server {self.context.path} {reason}")
            state.down(reason)
            if not state.started:  # the first start: spawn reports it
                raise error from exc
            # A reconnection that failed: answer what waits, then fail (and so
            # be restarted after the supervisor's backoff).
            self._started = True
            self._end(exc, reason=reason)
            return
        state.started = True
        state.up()

    async def on_stop(self) -> None:
        self._scope.cancel()
        if self._done is not None:
            await self._done.wait()

    async def receive(self, message: object) -> object:
        """Admit a request for the session; its outcome answers the ask when ready."""
        if isinstance(message, _Lost):
            if message.sender is self:  # what waited before it is answered
                self.context.start_soon(self._fail)
            return None  # or from an earlier incarnation
        if self._lost is not None:
            if not self._told:  # the mailbox was full: fail after this message
                self._told = True
                self.context.start_soon(self._fail)
            return Failure(self._state.unavailable())
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

    async def _fail(self) -> None:
        """Fail this incarnation (no message is lost), so that it is restarted."""
        assert self._lost is not None
        raise self._lost

    async def _host(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        from mcp import ClientSession

        started = False
        callbacks = session_callbacks(self._client, self.context.path)
        errors = HttpErrors(getattr(self._transport, "auth", None))
        try:
            with self._scope:
                async with open_transport(self._transport, errors) as (read, write):
                    watched = _Watched(read, self._end, errors.explain)
                    async with ClientSession(watched, write, **callbacks) as session:
                        with trio.fail_after(self._connect_timeout):
                            await session.initialize()
                        try:
                            async with trio.open_nursery() as calls:
                                self._session, self._calls = session, calls
                                task_status.started()
                                started = self._started = True
                                if self._ping_interval is not None:
                                    calls.start_soon(self._ping, session)
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

    async def _ping(self, session: Any) -> None:
        """Notice an idle outage: a ping unanswered within ``connect_timeout`` ends it."""
        assert self._ping_interval is not None
        while True:
            await trio.sleep(self._ping_interval)
            try:
                with trio.fail_after(self._connect_timeout):
                    await session.send_ping()
            except Exception as exc:
                self._end(exc, reason=f"ping failed: {_describe(exc)}")
                return

    def _end(self, error: BaseException | None = None, *, reason: str = "") -> None:
        """The connection ended: fail the actor, so that its supervisor restarts it."""
        if self._lost is not None and self._lost.__cause__ is None:
            self._lost.__cause__ = error  # the transport's error came after its end
        if not self._started or self._lost is not None or self._scope.cancel_called:
            return  # not started yet (on_start fails), already ended, or stopping
        if not reason:
            reason = "the connection ended"
            if error is not None:
                reason += f": {_describe(error)}"
        self._state.down(reason)
        lost = ToolError(f"the connection to MCP server {self.context.path} ended")
        lost.__cause__ = error
        self._lost = lost
        self._ending.set()
        # Behind what waits in the mailbox, which is answered first. If it cannot
        # be queued, the next message fails the actor instead.
        with contextlib.suppress(MailboxFull, ActorStopped):
            self.context.ref.tell_nowait(_Lost(self))
            self._told = True

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
