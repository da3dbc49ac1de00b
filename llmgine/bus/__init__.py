"""The message bus: commands and events over supervised handler actors.

llmgine's familiar API (``MessageBus``, ``register_command_handler``,
``execute``, ``publish``, sessions, ``CommandResult``), where every handler runs
in its own actor with a bounded mailbox.
"""

from .._exceptions import DuplicateHandlerError as DuplicateHandlerError
from .._exceptions import HandlerError as HandlerError
from .._exceptions import NoHandlerError as NoHandlerError
from ._bus import BusStatistics as BusStatistics
from ._bus import MessageBus as MessageBus
from ._message import BUS as BUS
from ._message import Command as Command
from ._message import CommandResult as CommandResult
from ._message import Event as Event
from ._message import SessionEnded as SessionEnded
from ._message import SessionStarted as SessionStarted
from ._session import BusSession as BusSession

__all__ = [
    "BUS",
    "BusSession",
    "BusStatistics",
    "Command",
    "CommandResult",
    "DuplicateHandlerError",
    "Event",
    "HandlerError",
    "MessageBus",
    "NoHandlerError",
    "SessionEnded",
    "SessionStarted",
]
