"""Bus sessions: handlers scoped to one conversation, removed when it ends.

A session's events and commands carry its id. Events go to the session's
handlers *and* to the bus-wide ones; a command goes to the session's handler
of its type if there is one, else to the bus-wide one.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from .._exceptions import ActorStopped, ConfigurationError, HandlerError
from ..actors import ActorRef, Mailbox, Priority
from ._message import (
    BUS,
    Command,
    CommandResult,
    Event,
    SessionEnded,
    SessionStarted,
    describe_error,
)

if TYPE_CHECKING:
    from ._bus import MessageBus

__all__ = ["BusSession", "open_session"]

C = TypeVar("C", bound=Command)
E = TypeVar("E", bound=Event)
M = TypeVar("M", Command, Event)


class BusSession:
    """A bus scoped to one session: what it registers ends with the session.

    Made by ``async with bus.session() as session:``. Messages sent through it
    get its ``session_id`` (a copy is made when they carry another one).
    """

    def __init__(self, bus: MessageBus, session_id: str) -> None:
        self._bus = bus
        self._session_id = session_id
        self._active = True

    def __repr__(self) -> str:
        state = "active" if self._active else "ended"
        return f"<BusSession {self._session_id!r} {state}>"

    @property
    def session_id(self) -> str:
        """This session's id."""
        return self._session_id

    @property
    def bus(self) -> MessageBus:
        """The bus this session belongs to."""
        return self._bus

    @property
    def active(self) -> bool:
        """True until the ``async with`` block starts to exit."""
        return self._active

    def _check(self) -> None:
        if not self._active:
            raise HandlerError(f"session {self._session_id!r} has ended")

    def _stamp(self, message: M) -> M:
        if not isinstance(message, Command | Event):
            raise ConfigurationError(
                f"expected a Command or an Event (got {type(message).__name__})"
            )
        if message.session_id == self._session_id:
            return message
        return attrs.evolve(message, session_id=self._session_id)

    def register_command_handler(
        self,
        command_type: type[C],
        handler: Callable[[C], Any] | ActorRef,
        *,
        mailbox: Mailbox | None = None,
    ) -> ActorRef:
        """As :meth:`MessageBus.register_command_handler`, in this session."""
        self._check()
        return self._bus.register_command_handler(
            command_type, handler, session_id=self._session_id, mailbox=mailbox
        )

    def register_event_handler(
        self,
        event_type: type[E],
        handler: Callable[[E], Any] | ActorRef,
        *,
        priority: Priority = Priority.NORMAL,
        mailbox: Mailbox | None = None,
    ) -> ActorRef:
        """As :meth:`MessageBus.register_event_handler`, in this session."""
        self._check()
        return self._bus.register_event_handler(
            event_type,
            handler,
            session_id=self._session_id,
            priority=priority,
            mailbox=mailbox,
        )

    def unregister_command_handler(self, command_type: type[Command]) -> None:
        """As :meth:`MessageBus.unregister_command_handler`, in this session."""
        self._bus.unregister_command_handler(command_type, session_id=self._session_id)

    def unregister_event_handler(
        self,
        event_type: type[Event],
        handler: Callable[..., Any] | ActorRef | None = None,
    ) -> None:
        """As :meth:`MessageBus.unregister_event_handler`, in this session."""
        self._bus.unregister_event_handler(
            event_type, handler, session_id=self._session_id
        )

    async def execute(
        self, command: Command, *, timeout: float | None = None
    ) -> CommandResult:
        """Execute ``command`` in this session (see :meth:`MessageBus.execute`)."""
        self._check()
        return await self._bus.execute(self._stamp(command), timeout=timeout)

    async def publish(self, event: Event) -> None:
        """Publish ``event`` in this session (see :meth:`MessageBus.publish`)."""
        self._check()
        await self._bus.publish(self._stamp(event))

    def publish_nowait(self, event: Event) -> None:
        """Publish without waiting, in this session (as ``bus.publish_nowait``)."""
        self._check()
        self._bus.publish_nowait(self._stamp(event))

    async def wait_until_idle(self) -> None:
        """Return once this session's handlers have nothing queued or running."""
        bus = self._bus
        await bus._wait_idle(lambda: bus._routes.scope(self._session_id))


@asynccontextmanager
async def open_session(
    bus: MessageBus, session_id: str | None
) -> AsyncIterator[BusSession]:
    """The body of ``MessageBus.session``."""
    sid = uuid.uuid4().hex if session_id is None else session_id
    if not isinstance(sid, str) or not sid or sid == BUS:
        raise ConfigurationError(
            f"'session_id' must be a non-empty str other than {BUS!r} (got {sid!r})"
        )
    if sid in bus._sessions:
        raise ConfigurationError(f"session {sid!r} is already open")
    session = BusSession(bus, sid)
    bus._sessions[sid] = session
    try:
        await bus.publish(SessionStarted(session_id=sid))
    except BaseException:
        del bus._sessions[sid]
        raise
    error: BaseException | None = None
    try:
        yield session
    except BaseException as exc:
        error = exc
        raise
    finally:
        await _end(bus, session, error)


async def _end(bus: MessageBus, session: BusSession, error: BaseException | None) -> None:
    sid = session.session_id
    session._active = False
    timeout = bus.system.shutdown_timeout
    # Clean-up runs even when the block was cancelled, bounded by the timeout.
    with trio.CancelScope(shield=True):
        if error is None:
            with trio.move_on_after(timeout):
                await session.wait_until_idle()
        entries = bus._routes.scope(sid)
        for entry in entries:
            bus._routes.remove(entry)
        del bus._sessions[sid]
        ended = SessionEnded(
            session_id=sid, error=None if error is None else describe_error(error)
        )
        # ActorStopped: the system is stopping, and nobody is left to tell.
        with trio.move_on_after(timeout), contextlib.suppress(ActorStopped):
            await bus.publish(ended)
        await bus._stop(entries)
