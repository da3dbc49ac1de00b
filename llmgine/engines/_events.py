"""The status events an engine publishes on a :class:`~llmgine.bus.MessageBus`.

An engine given ``bus=`` (a ``MessageBus`` or a ``BusSession``) publishes
:class:`TurnStarted` when a turn begins, :class:`EngineStatus` each time it
calls the model or runs tools, and :class:`TurnFinished` when the turn ends,
with its error if it failed. A cancelled turn publishes no ``TurnFinished``:
a cancelled task cannot wait for mailboxes.
"""

from __future__ import annotations

import enum

import attrs

from ..bus import Event
from ..llm import Usage

__all__ = ["EngineEvent", "EngineState", "EngineStatus", "TurnFinished", "TurnStarted"]


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
