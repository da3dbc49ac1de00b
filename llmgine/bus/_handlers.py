"""Handler registrations and the actors that run handler functions.

Each function handler runs in its own actor, so it handles one message at a
time, behind a bounded mailbox of its own. The actor never raises: a failed
event is dead-lettered as ``HANDLER_FAILED`` and a failed command is answered
with ``Failure(error)``; either way the actor goes on with the next message. A
function has no state to rebuild, so there is nothing to restart, and a handler
that fails all the time can never exhaust a supervisor's restart intensity.

An ``ActorRef`` handler needs no actor of ours: events are told and commands
asked to it directly, and its own supervisor decides what a failure means.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import trio

from ..actors import (
    Actor,
    ActorRef,
    Failure,
    Mailbox,
    Priority,
    SupervisorRef,
)
from ._runtime import pending

__all__ = ["Entry", "Monitor", "start_handler"]

#: Default mailbox of a handler actor.
DEFAULT_MAILBOX = Mailbox(capacity=1000)


class Monitor:
    """Bus-wide state the handler actors report to: idleness and failures."""

    __slots__ = ("event_failures", "wake")

    def __init__(self) -> None:
        self.wake: trio.Event | None = None
        self.event_failures = 0

    def done(self, ref: ActorRef) -> None:
        """A handler finished a message while someone waits for the bus to idle."""
        if pending(ref) == 0:
            self.fire()

    def fire(self) -> None:
        """Wake every ``wait_until_idle`` so it looks again."""
        wake, self.wake = self.wake, None
        if wake is not None:
            wake.set()

    async def wait(self, tick: float | None) -> None:
        """Wait for the next :meth:`fire` (or ``tick`` seconds, when given)."""
        if self.wake is None:
            self.wake = trio.Event()
        if tick is None:
            await self.wake.wait()
        else:
            with trio.move_on_after(tick):
                await self.wake.wait()


class Entry:
    """One registration: which messages, which handler, which actor runs it."""

    __slots__ = (
        "foreign",
        "handler",
        "inflight",
        "is_command",
        "lane",
        "message_type",
        "ref",
        "removed",
        "seq",
        "session_id",
    )

    def __init__(
        self,
        *,
        message_type: type,
        handler: Any,
        session_id: str,
        lane: Priority,
        is_command: bool,
        seq: int,
    ) -> None:
        self.message_type = message_type
        self.handler = handler
        self.session_id = session_id
        self.lane = lane
        self.is_command = is_command
        self.seq = seq
        self.foreign = isinstance(handler, ActorRef)
        self.ref: ActorRef = handler if self.foreign else None  # type: ignore[assignment]
        self.removed = False
        self.inflight = 0  # executes waiting on a foreign actor

    def __repr__(self) -> str:
        kind = "command" if self.is_command else "event"
        return (
            f"<{kind} handler {self.message_type.__name__} session={self.session_id!r}"
            f" {self.ref!r}>"
        )

    def idle(self) -> bool:
        """Nothing queued for this handler and nothing being handled."""
        if self.foreign and self.is_command:
            return self.inflight == 0
        stats = self.ref.statistics()
        return stats.accepted == stats.processed + stats.dead_lettered


def _is_async(handler: Any) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004  (async __call__ methods)
    )


def _label(handler: Any) -> str:
    name = getattr(handler, "__name__", None) or type(handler).__name__
    return str(name).replace("/", "_")


def start_handler(
    entry: Entry,
    monitor: Monitor,
    supervisor: SupervisorRef,
    mailbox: Mailbox | None,
) -> None:
    """Spawn the actor that runs ``entry``'s function handler (now, synchronously)."""
    handler = entry.handler
    if entry.is_command:
        actor: type[_HandlerActor] = _CommandActor
    elif _is_async(handler):
        actor = _AsyncEventActor
    else:
        actor = _SyncEventActor
    name = f"{entry.message_type.__name__}-{_label(handler)}-{entry.seq}"
    entry.ref = supervisor.spawn_nowait(
        functools.partial(actor, handler, monitor),
        name=name,
        mailbox=DEFAULT_MAILBOX if mailbox is None else mailbox,
    )


class _HandlerActor(Actor):
    """Runs one handler function, one message at a time."""

    def __init__(self, handler: Callable[[Any], Any], monitor: Monitor) -> None:
        self._handler = handler
        self._monitor = monitor

    def _event_failed(self, error: Exception) -> Failure:
        # A told message answered with Failure goes to dead letters (traced,
        # counted as failed) and the actor goes on: a function has no state
        # to rebuild, so it must not be restarted or use up an intensity.
        self._monitor.event_failures += 1
        return Failure(error)


class _SyncEventActor(_HandlerActor):
    async def receive(self, message: Any) -> Failure | None:
        outcome = None
        try:
            result = self._handler(message)
            if result is not None and inspect.isawaitable(result):
                await result  # a sync callable that returned a coroutine after all
        except Exception as exc:
            outcome = self._event_failed(exc)
        monitor = self._monitor
        if monitor.wake is not None:
            monitor.done(self.context.ref)
        return outcome


class _AsyncEventActor(_HandlerActor):
    async def receive(self, message: Any) -> Failure | None:
        outcome = None
        try:
            await self._handler(message)
        except Exception as exc:
            outcome = self._event_failed(exc)
        monitor = self._monitor
        if monitor.wake is not None:
            monitor.done(self.context.ref)
        return outcome


class _CommandActor(_HandlerActor):
    async def receive(self, message: Any) -> Any:
        try:
            result = self._handler(message)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            # Answer the ask with the error; the actor is not broken.
            result = Failure(exc)
        monitor = self._monitor
        if monitor.wake is not None:
            monitor.done(self.context.ref)
        return result
