"""Handler registration: the routing table, the handler actors, their retirement."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from .._exceptions import (
    ConfigurationError,
    DuplicateHandlerError,
    HandlerError,
    NoHandlerError,
)
from ..actors import ActorRef, ActorSystem, Mailbox, Priority
from ._handlers import Entry, Monitor, start_handler
from ._message import BUS, Command, Event
from ._routing import Routes

if TYPE_CHECKING:
    from ._session import BusSession

__all__ = ["HandlerRegistry", "check_lane"]

C = TypeVar("C", bound=Command)
E = TypeVar("E", bound=Event)

#: How often ``wait_until_idle`` looks at actor-ref handlers, which cannot tell
#: the bus when they finish (function handlers wake it as they go idle).
FOREIGN_TICK = 0.001

_LANES = (Priority.HIGH, Priority.NORMAL, Priority.LOW)


def check_lane(priority: object) -> Priority:
    """A message priority as a mailbox lane; ``SYSTEM`` is the runtime's own."""
    if priority in _LANES:
        return Priority(priority)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"'priority' must be Priority.HIGH, NORMAL or LOW (got {priority!r})"
    )


class HandlerRegistry:
    """The registration half of :class:`~llmgine.bus.MessageBus`.

    Every function handler runs in its own actor under the bus's supervisor
    (``/{system}/{name}``). Registration is synchronous: the handler's actor is
    running when ``register_*`` returns.
    """

    def __init__(self, system: ActorSystem, *, name: str = "bus") -> None:
        self._system = system
        self._supervisor = system.spawn_supervisor_nowait(name)
        self._routes = Routes()
        self._monitor = Monitor()
        self._sessions: dict[str, BusSession] = {}
        self._retiring: set[Entry] = set()
        self._seq = itertools.count(1)

    @property
    def system(self) -> ActorSystem:
        """The actor system the handlers run in."""
        return self._system

    @property
    def path(self) -> str:
        """The path of the bus's supervisor; handler actors live below it."""
        return self._supervisor.path

    # -- registration ----------------------------------------------------------
    def register_command_handler(
        self,
        command_type: type[C],
        handler: Callable[[C], Any] | ActorRef,
        *,
        session_id: str = BUS,
        mailbox: Mailbox | None = None,
    ) -> ActorRef:
        """Make ``handler`` the one handler of ``command_type`` in ``session_id``.

        ``handler`` is a sync or async callable taking the command (its return
        value becomes the result) or an ``ActorRef`` (the command is asked to
        it). A second handler for the same type and session raises
        :class:`DuplicateHandlerError`. Returns the ref of the handler's actor.
        """
        _check_type(command_type, Command, "command_type")
        self._check_scope(session_id)
        if self._routes.command_handler(command_type, session_id) is not None:
            raise DuplicateHandlerError(
                f"{command_type.__name__} already has a handler in session {session_id!r}"
            )
        return self._add(command_type, handler, session_id, Priority.NORMAL, mailbox)

    def register_event_handler(
        self,
        event_type: type[E],
        handler: Callable[[E], Any] | ActorRef,
        *,
        session_id: str = BUS,
        priority: Priority = Priority.NORMAL,
        mailbox: Mailbox | None = None,
    ) -> ActorRef:
        """Hand every event that is an instance of ``event_type`` to ``handler``.

        ``priority`` is the mailbox lane this handler gets events in (unless an
        event carries its own) and orders delivery: more urgent handlers get an
        event first. Returns the ref of the handler's actor.
        """
        _check_type(event_type, Event, "event_type")
        self._check_scope(session_id)
        return self._add(event_type, handler, session_id, check_lane(priority), mailbox)

    def _add(
        self,
        message_type: type,
        handler: Any,
        session_id: str,
        lane: Priority,
        mailbox: Mailbox | None,
    ) -> ActorRef:
        if not (isinstance(handler, ActorRef) or callable(handler)):
            raise ConfigurationError(
                f"'handler' must be a callable or an ActorRef (got {handler!r})"
            )
        if mailbox is not None and not isinstance(mailbox, Mailbox):
            raise ConfigurationError(f"'mailbox' must be a Mailbox (got {mailbox!r})")
        if mailbox is not None and isinstance(handler, ActorRef):
            raise ConfigurationError(
                "an ActorRef handler uses its own actor's mailbox: pass no 'mailbox'"
            )
        entry = Entry(
            message_type=message_type,
            handler=handler,
            session_id=session_id,
            lane=lane,
            is_command=issubclass(message_type, Command),
            seq=next(self._seq),
        )
        if not entry.foreign:
            start_handler(entry, self._monitor, self._supervisor, mailbox)
        self._routes.add(entry)
        return entry.ref

    def _check_scope(self, session_id: object) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise ConfigurationError(
                f"'session_id' must be a non-empty str (got {session_id!r})"
            )
        session = self._sessions.get(session_id)
        if session is not None and not session.active:
            raise HandlerError(f"session {session_id!r} is ending")

    def unregister_command_handler(
        self, command_type: type[Command], *, session_id: str = BUS
    ) -> None:
        """Remove the handler of ``command_type`` in ``session_id``.

        Commands stop going to it at once; its actor finishes what it already
        accepted (within the system's shutdown timeout) and then stops.
        """
        entry = self._routes.command_handler(command_type, session_id)
        if entry is None:
            raise NoHandlerError(
                f"no handler of {command_type.__name__} in session {session_id!r}"
            )
        self._remove([entry])

    def unregister_event_handler(
        self,
        event_type: type[Event],
        handler: Callable[..., Any] | ActorRef | None = None,
        *,
        session_id: str = BUS,
    ) -> None:
        """Remove ``handler`` (or, when None, every handler) of exactly ``event_type``.

        As for commands, the actors finish what they accepted, then stop.
        """
        entries = [
            entry
            for entry in self._routes.event_handlers(event_type, session_id)
            if handler is None or entry.handler == handler
        ]
        if not entries:
            raise NoHandlerError(
                f"no such handler of {event_type.__name__} in session {session_id!r}"
            )
        self._remove(entries)

    def _remove(self, entries: list[Entry]) -> None:
        for entry in entries:
            self._routes.remove(entry)
        owned = [entry for entry in entries if not entry.foreign]
        try:
            nursery = self._system.nursery
        except ConfigurationError:
            return  # the system has stopped, and every actor with it
        self._retiring.update(owned)
        nursery.start_soon(self._retire, owned)

    async def _retire(self, entries: list[Entry]) -> None:
        with trio.move_on_after(self._system.shutdown_timeout):
            await self._wait_idle(lambda: entries)
        await self._stop(entries)

    async def _stop(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            if not entry.foreign:
                await entry.ref.stop()
            self._retiring.discard(entry)
        self._monitor.fire()

    # -- idleness --------------------------------------------------------------
    async def wait_until_idle(self) -> None:
        """Return once every handler's mailbox is empty and no handler is running.

        Do not call it from inside a handler: that handler is running.
        """
        await self._wait_idle(lambda: [*self._routes, *self._retiring])

    async def _wait_idle(self, entries: Callable[[], Iterable[Entry]]) -> None:
        while True:
            busy = [entry for entry in entries() if not entry.idle()]
            if not busy:
                break
            foreign = any(e.foreign and not e.is_command for e in busy)
            await self._monitor.wait(FOREIGN_TICK if foreign else None)
        await trio.lowlevel.checkpoint()


def _check_type(value: object, base: type, what: str) -> None:
    if not (isinstance(value, type) and issubclass(value, base)):
        raise ConfigurationError(
            f"'{what}' must be a subclass of {base.__name__} (got {value!r})"
        )
