"""The actor base class, its context, and ``Failure`` replies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .._exceptions import ConfigurationError
from ._ref import ActorRef

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = ["Actor", "ActorContext", "Failure"]


@attrs.frozen
class Failure:
    """Return this from :meth:`Actor.receive` to answer with an error, not fail.

    The asker gets ``error`` raised; the actor keeps its state and is not
    restarted; the message counts as processed; a circuit breaker on the actor
    counts it as a failure. A *told* message has nobody to hear the error, so
    it goes to dead letters (``HANDLER_FAILED``, counted as failed) instead.
    Raising from ``receive`` means "I am broken: restart me".
    """

    error: BaseException


class ActorContext:
    """What an actor knows about where it runs: its ref, its system, its children."""

    __slots__ = ("_cell",)

    def __init__(self, cell: Any) -> None:
        self._cell = cell

    @property
    def ref(self) -> ActorRef:
        """This actor's own ref (stable across restarts)."""
        ref: ActorRef = self._cell.ref
        return ref

    @property
    def system(self) -> ActorSystem:
        """The actor system this actor runs in."""
        system: ActorSystem = self._cell.system
        return system

    @property
    def path(self) -> str:
        """This actor's path, like ``/app/llm/openai``."""
        path: str = self._cell.path
        return path

    async def spawn(
        self, factory: Any, *args: Any, name: str, **options: Any
    ) -> ActorRef:
        """Spawn a child actor supervised by this actor (one-for-one).

        Takes the same arguments as :meth:`ActorSystem.spawn`. Children outlive
        restarts of this actor and stop when it stops; so that ``on_start`` can
        spawn its children on every incarnation, spawning a name that already
        has a running child returns that child's ref.
        """
        existing = self.child(name)
        if existing is not None:
            return existing
        group = self._cell.children_group()
        ref: ActorRef = await group.spawn(factory, *args, name=name, **options)
        return ref

    def child(self, name: str) -> ActorRef | None:
        """The ref of this actor's child called ``name``, or None."""
        ref = self.system.lookup(f"{self.path}/{name}")
        return ref if isinstance(ref, ActorRef) else None

    @property
    def asked(self) -> bool:
        """True while handling a message that someone is waiting on (an ``ask``)."""
        asked: bool = self._cell.current_is_ask()
        return asked

    def defer(self) -> Any:
        """Answer the message being handled later, not with ``receive``'s return.

        Return the :class:`Deferred` from ``receive`` and call its ``resolve``
        (or ``fail``) when the answer is ready, typically from work started
        with :meth:`start_soon`; meanwhile the actor handles its next messages.
        This is how one actor serves many slow requests at once.
        """
        return self._cell.defer()

    def start_soon(self, fn: Any, *args: Any, name: str | None = None) -> None:
        """Run ``await fn(*args)`` beside the message loop.

        The task belongs to the current incarnation: when the actor stops it has
        the shutdown timeout to finish, then is cancelled; if it raises, the
        actor fails and its supervisor decides, as for ``receive``.
        """
        self._cell.start_soon(fn, *args, name=name)

    def stop(self) -> None:
        """Exit normally after the current message.

        As in Erlang/OTP, a ``PERMANENT`` actor is started again; ``TRANSIENT``
        and ``TEMPORARY`` actors stay stopped.
        """
        self._cell.request_exit()


class Actor:
    """Base class for actors: override :meth:`receive` (and optionally the hooks).

    An actor handles one message at a time. Whatever ``receive`` returns answers
    an ``ask``; returning :class:`Failure` answers with an error without failing.
    """

    _context: ActorContext | None = None

    @property
    def context(self) -> ActorContext:
        """The actor's context; available from ``on_start`` on."""
        if self._context is None:
            raise ConfigurationError(
                "the actor context exists only once the actor is spawned"
                " (use it from on_start or receive, not __init__)"
            )
        return self._context

    async def on_start(self) -> None:
        """Called before the first message of each incarnation."""

    async def on_stop(self) -> None:
        """Called when the actor stops, fails or is about to be restarted."""

    async def receive(self, message: Any) -> Any:
        """Handle one message; the return value answers an ``ask``."""
        raise NotImplementedError(f"{type(self).__name__} must implement receive()")
