"""The message bus: llmgine's familiar API over supervised handler actors."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import attrs

from .._exceptions import ActorStopped, ConfigurationError, MailboxFull, NoHandlerError
from ..actors import ActorRef, ActorSystem, Priority, RecordKind, traced
from ._handlers import Entry
from ._message import Command, CommandResult, Event
from ._registry import HandlerRegistry, check_lane
from ._runtime import refusal
from ._session import BusSession, open_session

__all__ = ["BusStatistics", "MessageBus"]


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


class MessageBus(HandlerRegistry):
    """Commands and events between the parts of an app, on an actor system.

    Every function handler runs in its own actor under the bus's supervisor
    (``/{system}/{name}``), with a bounded mailbox: a slow handler pushes back
    on ``publish``, a failing one never takes the bus down. Registration is
    synchronous: the handler's actor is running when ``register_*`` returns.
    """

    def __init__(self, system: ActorSystem, *, name: str = "bus") -> None:
        super().__init__(system, name=name)
        self._published = 0
        self._delivered = 0
        self._executed = 0
        self._command_failures = 0

    def __repr__(self) -> str:
        return f"<MessageBus {self._supervisor.path}>"

    # -- commands --------------------------------------------------------------
    async def execute(
        self, command: Command, *, timeout: float | None = None
    ) -> CommandResult:
        """Run ``command`` through its handler and return the result.

        Never raises for the handler's error: a handler that raises, a missing
        handler (:class:`NoHandlerError`), a full mailbox under ``REJECT``, a
        stopped handler or a ``timeout`` (seconds, waiting for room included)
        each give ``CommandResult(success=False, error="TypeName: message")``,
        and so does a command whose ``session_id`` is not a string. Anything
        but a :class:`Command` raises :class:`~llmgine.ConfigurationError`.
        """
        if not isinstance(command, Command):
            raise _not_a("a Command", command)
        lane = (
            Priority.NORMAL if command.priority is None else check_lane(command.priority)
        )
        self._executed += 1
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
        _check_session(command)
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
        if not isinstance(value, CommandResult):
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
        Anything but an :class:`Event`, or an event whose ``session_id`` is
        not a string, raises :class:`~llmgine.ConfigurationError`.
        """
        _check_event(event)
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
        Anything but an :class:`Event` raises :class:`~llmgine.ConfigurationError`.
        """
        _check_event(event)
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


class _NullContext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _NullContext()


def _not_a(expected: str, value: object) -> ConfigurationError:
    return ConfigurationError(f"expected {expected} (got {type(value).__name__})")


def _check_session(message: Command | Event) -> None:
    session_id = message.session_id
    if type(session_id) is not str and not isinstance(session_id, str):
        raise ConfigurationError(
            f"'session_id' must be a str (got {type(session_id).__name__})"
        )


def _check_event(event: object) -> None:
    if not isinstance(event, Event):
        raise _not_a("an Event", event)
    _check_session(event)
