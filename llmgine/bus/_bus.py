"""The message bus: llmgine's familiar API over supervised handler actors."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import attrs
import trio

from .._exceptions import (
    ActorStopped,
    ConfigurationError,
    DuplicateHandlerError,
    HandlerError,
    MailboxFull,
    NoHandlerError,
)
from ..actors import ActorRef, ActorSystem, Mailbox, Priority, RecordKind, traced
from ._handlers import Entry, Monitor, start_handler
from ._message import BUS, Command, CommandResult, Event
from ._routing import Routes
from ._runtime import refusal, spawn_supervisor_now
from ._session import BusSession, open_session

__all__ = ["BusStatistics", "MessageBus"]

C = TypeVar("C", bound=Command)
E = TypeVar("E", bound=Event)

#: How often ``wait_until_idle`` looks at actor-ref handlers, which cannot tell
#: the bus when they finish (function handlers wake it as they go idle).
FOREIGN_TICK = 0.001

_LANES = (Priority.HIGH, Priority.NORMAL, Priority.LOW)


@attrs.frozen(kw_only=True)
class BusStatistics:
    """A snapshot of a bus's counters (the actors' own are in ``system.statistics()``).

    ``event_deliveries`` counts events handed to handler mailboxes (one per
    handler); ``event_failures`` the events a function handler raised on (each
    is a ``HANDLER_FAILED`` dead letter); ``command_failures`` the executes that
    returned ``success=False``.
    """

    command_handlers: int
    event_handlers: int
    sessions: int
    events_published: int
    event_deliveries: int
    event_failures: int
    commands_executed: int
    command_failures: int


def check_lane(priority: object) -> Priority:
    """A message priority as a mailbox lane; ``SYSTEM`` is the runtime's own."""
    if priority in _LANES:
        return Priority(priority)  # type: ignore[arg-type]
    raise ConfigurationError(
        f"'priority' must be Priority.HIGH, NORMAL or LOW (got {priority!r})"
    )


class MessageBus:
    """Commands and events between the parts of an app, on an actor system.

    Every function handler runs in its own actor under the bus's supervisor
    (``/{system}/{name}``), with a bounded mailbox: a slow handler pushes back
    on ``publish``, a failing one never takes the bus down. Registration is
    synchronous: the handler's actor is running when ``register_*`` returns.
    """

    def __init__(self, system: ActorSystem, *, name: str = "bus") -> None:
        self._system = system
        self._supervisor = spawn_supervisor_now(system, name)
        self._routes = Routes()
        self._monitor = Monitor()
        self._sessions: dict[str, BusSession] = {}
        self._retiring: set[Entry] = set()
        self._seq = itertools.count(1)
        self._published = 0
        self._delivered = 0
        self._executed = 0
        self._command_failures = 0

    def __repr__(self) -> str:
        return f"<MessageBus {self._supervisor.path}>"

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

    # -- commands --------------------------------------------------------------
    async def execute(
        self, command: Command, *, timeout: float | None = None
    ) -> CommandResult:
        """Run ``command`` through its handler and return the result.

        Never raises for the handler's error: a handler that raises, a missing
        handler (:class:`NoHandlerError`), a full mailbox under ``REJECT``, a
        stopped handler or a ``timeout`` (seconds, waiting for room included)
        each give ``CommandResult(success=False, error="TypeName: message")``.
        """
        self._executed += 1
        lane = (
            Priority.NORMAL if command.priority is None else check_lane(command.priority)
        )
        try:
            if self._system.tracer is None:
                return await self._ask(command, timeout, lane)
            name = type(command).__name__
            attributes = {
                "llmgine.bus.command": name,
                "llmgine.bus.command_id": command.id,
                "llmgine.bus.session_id": command.session_id,
            }
            with traced(RecordKind.BUS_COMMAND, f"execute {name}", attributes) as span:
                result = await self._ask(command, timeout, lane)
                span.set("llmgine.bus.success", result.success)
                return result
        except Exception as exc:
            self._command_failures += 1
            return CommandResult.from_error(exc, command=command)

    async def _ask(
        self, command: Command, timeout: float | None, lane: Priority
    ) -> CommandResult:
        entry = self._routes.command(type(command), command.session_id)
        if entry is None:
            raise NoHandlerError(
                f"no handler registered for {type(command).__name__}"
                f" (session {command.session_id!r})"
            )
        if entry.foreign:
            entry.inflight += 1
            try:
                value = await entry.ref.ask(command, timeout=timeout, priority=lane)
            finally:
                entry.inflight -= 1
                if entry.inflight == 0:
                    self._monitor.fire()
        else:
            value = await entry.ref.ask(command, timeout=timeout, priority=lane)
        if type(value) is not CommandResult:
            return CommandResult(
                True, result=value, command_id=command.id, session_id=command.session_id
            )
        if value.command_id is None or value.session_id is None:
            value = attrs.evolve(
                value,
                command_id=command.id if value.command_id is None else value.command_id,
                session_id=(
                    command.session_id if value.session_id is None else value.session_id
                ),
            )
        if not value.success:
            self._command_failures += 1
        return value

    # -- events ----------------------------------------------------------------
    async def publish(self, event: Event) -> None:
        """Hand ``event`` to the mailbox of every matching handler.

        Waits while a handler's mailbox is full under ``BACKPRESSURE``; other
        policies drop to dead letters (``DROP_*``) or raise :class:`MailboxFull`
        (``REJECT``, for that handler: the ones before it already have it).
        """
        routes = self._routes
        route = None
        if event.session_id not in routes.event_scopes:
            route = routes.bus_events.get(type(event))
        if route is None:
            route = routes.events(type(event), event.session_id)
        priority = event.priority
        if priority is not None:
            priority = check_lane(priority)
        self._published += 1
        if self._system.tracer is not None:
            await self._publish_traced(event, route, priority)
            return
        for entry in route:
            try:
                await entry.ref.tell(event, priority=priority or entry.lane)
            except ActorStopped:
                if not entry.removed:
                    raise
                continue  # unregistered while we waited: as if published after
            self._delivered += 1

    async def _publish_traced(
        self, event: Event, route: tuple[Entry, ...], priority: Priority | None
    ) -> None:
        name = type(event).__name__
        attributes = {
            "llmgine.bus.event": name,
            "llmgine.bus.event_id": event.id,
            "llmgine.bus.session_id": event.session_id,
            "llmgine.bus.handlers": len(route),
        }
        with traced(RecordKind.BUS_EVENT, f"publish {name}", attributes):
            for entry in route:
                try:
                    await entry.ref.tell(event, priority=priority or entry.lane)
                except ActorStopped:
                    if not entry.removed:
                        raise
                    continue
                self._delivered += 1

    def publish_nowait(self, event: Event) -> None:
        """Hand ``event`` to every matching handler without ever waiting.

        Raises :class:`MailboxFull` if any of their mailboxes is full (under
        ``BACKPRESSURE`` or ``REJECT``), and then delivers to none of them.
        """
        route = self._routes.events(type(event), event.session_id)
        priority = event.priority
        if priority is not None:
            priority = check_lane(priority)
        seen: dict[ActorRef, int] = {}
        for entry in route:  # look at every mailbox before sending to any
            extra = seen.get(entry.ref, 0)
            error = refusal(entry.ref, extra)
            if error is not None:
                if isinstance(error, MailboxFull):
                    error = MailboxFull(f"{error}: the event went to no handler")
                raise error
            seen[entry.ref] = extra + 1
        self._published += 1
        with (
            traced(
                RecordKind.BUS_EVENT,
                f"publish {type(event).__name__}",
                {"llmgine.bus.event_id": event.id, "llmgine.bus.handlers": len(route)},
            )
            if self._system.tracer is not None
            else _NULL
        ):
            for entry in route:
                entry.ref.tell_nowait(event, priority=priority or entry.lane)
        self._delivered += len(route)

    # -- sessions and idleness -------------------------------------------------
    def session(
        self, session_id: str | None = None
    ) -> AbstractAsyncContextManager[BusSession]:
        """``async with bus.session() as session:`` scopes handlers to a session.

        The id is generated when None. ``SessionStarted`` is published on entry
        and ``SessionEnded`` on exit. A clean exit lets the session's handlers
        finish what they accepted (within the system's shutdown timeout); then,
        or at once when the block raised, they are removed and their actors
        stopped (what is still queued is dead-lettered).
        """
        return open_session(self, session_id)

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

    def statistics(self) -> BusStatistics:
        """A snapshot of the bus's counters."""
        commands, events = self._routes.count()
        return BusStatistics(
            command_handlers=commands,
            event_handlers=events,
            sessions=len(self._sessions),
            events_published=self._published,
            event_deliveries=self._delivered,
            event_failures=self._monitor.event_failures,
            commands_executed=self._executed,
            command_failures=self._command_failures,
        )


def _check_type(value: object, base: type, what: str) -> None:
    if not (isinstance(value, type) and issubclass(value, base)):
        raise ConfigurationError(
            f"'{what}' must be a subclass of {base.__name__} (got {value!r})"
        )


class _NullContext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _NullContext()
