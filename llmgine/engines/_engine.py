"""``Engine``: the base of engine actors, and the status events they publish.

An engine given ``bus=`` (a ``MessageBus`` or a ``BusSession``) publishes
:class:`TurnStarted` when a turn begins, :class:`EngineStatus` each time it
calls the model or runs tools, and :class:`TurnFinished` when the turn ends,
with its error if it failed. A cancelled turn publishes no ``TurnFinished``:
a cancelled task cannot wait for mailboxes.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import attrs

from .._exceptions import ConfigurationError, LLMgineError
from ..actors import Actor, Failure
from ..bus import Event
from ..llm import Usage
from ._conversation import Conversation
from ._messages import ClearConversation, GetHistory

__all__ = [
    "Engine",
    "EngineEvent",
    "EngineState",
    "EngineStatus",
    "EventPublisher",
    "TurnFinished",
    "TurnStarted",
]


class EngineState(enum.StrEnum):
    """What an engine is doing within a turn."""

    CALLING_MODEL = "calling_model"
    RUNNING_TOOLS = "running_tools"


@attrs.frozen(kw_only=True)
class EngineEvent(Event):
    """Base of engine events: which engine, in which conversation."""

    engine: str
    conversation_id: str


@attrs.frozen(kw_only=True)
class TurnStarted(EngineEvent):
    """A turn began with the user's ``text``."""

    text: str


@attrs.frozen(kw_only=True)
class EngineStatus(EngineEvent):
    """The engine moved to ``state`` in step ``step`` (counted from 1) of a turn."""

    state: EngineState
    step: int


@attrs.frozen(kw_only=True)
class TurnFinished(EngineEvent):
    """A turn ended, with the reply's ``text`` or an ``error`` (``"Type: message"``)."""

    steps: int
    usage: Usage
    text: str | None = None
    error: str | None = None

    @property
    def success(self) -> bool:
        """True when the turn produced a reply."""
        return self.error is None


class EventPublisher(Protocol):
    """Where an engine publishes its events: a ``MessageBus`` or a ``BusSession``."""

    async def publish(self, event: Event) -> None:
        """Hand ``event`` to its handlers."""


class Engine(Actor):
    """An actor that owns a :class:`Conversation` and reports on a bus.

    It answers :class:`GetHistory` (a tuple of messages) and
    :class:`ClearConversation`; subclasses handle the rest in :meth:`handle`.
    A conversation with a store is loaded when the engine starts. Pass the
    same ``conversation`` object (or the same id and store) to keep the
    history across restarts of the actor: a restart makes a new instance.

    ``bus`` (a ``MessageBus`` or ``BusSession``) receives the engine's status
    events; a bus that refuses one (a full ``REJECT`` mailbox, a stopped
    handler) never fails the engine's work: the refusal is counted in
    :attr:`events_refused`.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        conversation: Conversation | None = None,
        bus: EventPublisher | None = None,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigurationError(
                f"'name' must be a non-empty str or None (got {name!r})"
            )
        if conversation is not None and not isinstance(conversation, Conversation):
            raise ConfigurationError(
                "'conversation' must be a Conversation or None"
                f" (got {type(conversation).__name__})"
            )
        if bus is not None and not callable(getattr(bus, "publish", None)):
            raise ConfigurationError(
                f"'bus' must have a publish() method (got {type(bus).__name__})"
            )
        self._name = name
        self._conversation = conversation if conversation is not None else Conversation()
        self._bus = bus
        self.events_refused = 0
        """Events the bus refused (counted, never raised)."""

    #: The name of an engine given none, until it is spawned.
    default_name = "engine"

    @property
    def name(self) -> str:
        """The engine's name (``gen_ai.agent.name`` in traces).

        The ``name`` it was given, else the name it was spawned under (so
        ``system.spawn(ChatEngine, ..., name="support")`` names it
        ``support``), else :attr:`default_name` before it is spawned.
        """
        if self._name is not None:
            return self._name
        context = self._context
        if context is not None:
            return context.path.rpartition("/")[2]
        return self.default_name

    @property
    def conversation(self) -> Conversation:
        """The conversation this engine owns."""
        return self._conversation

    @property
    def bus(self) -> EventPublisher | None:
        """Where status events go, if anywhere."""
        return self._bus

    async def on_start(self) -> None:
        """Load the conversation from its store (once: a restart keeps it loaded)."""
        if not self._conversation.loaded:
            await self._conversation.load()

    async def publish(self, event: Event) -> None:
        """Publish ``event`` on the engine's bus (nothing without a bus)."""
        if self._bus is None:
            return
        try:
            await self._bus.publish(event)
        except LLMgineError:
            self.events_refused += 1

    async def receive(self, message: Any) -> Any:
        """Answer the conversation messages; hand the rest to :meth:`handle`."""
        match message:
            case GetHistory():
                return self._conversation.messages
            case ClearConversation():
                try:
                    await self._conversation.clear()
                except Exception as exc:  # the store's error: the engine is fine
                    return Failure(exc)
                return None
            case _:
                return await self.handle(message)

    async def handle(self, message: Any) -> Any:
        """Handle an engine-specific message; the base answers with an error."""
        return Failure(
            ConfigurationError(
                f"{type(self).__name__} does not handle {type(message).__name__}"
            )
        )
