"""What travels on the bus: commands, events, command results, session events.

Messages are frozen attrs classes. Subclass them with
``@attrs.frozen(kw_only=True)`` and add fields::

    @attrs.frozen(kw_only=True)
    class StartChat(Command):
        prompt: str

They are built on the hot path, so the base fields are cheap: the id is a
per-process random prefix plus a counter (unique, ordered, ~0.2 µs, where
``uuid4`` costs ~1.7 µs), the timestamp is ``time.time()`` and the default
metadata is one shared empty read-only mapping.
"""

from __future__ import annotations

import itertools
import os
import time
import types
from collections.abc import Mapping
from typing import Any

import attrs

from ..actors import Priority

__all__ = [
    "BUS",
    "Command",
    "CommandResult",
    "Event",
    "SessionEnded",
    "SessionStarted",
    "describe_error",
    "new_message_id",
]

#: The session id of bus-wide (unscoped) messages and handlers.
BUS = "BUS"

_NO_METADATA: Mapping[str, Any] = types.MappingProxyType({})


class _IdSource:
    """A random 64-bit prefix per process and a counter: unique and cheap."""

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count(1)


_ids = _IdSource()
# A forked child must not hand out the ids its parent will also hand out.
os.register_at_fork(after_in_child=_ids.reseed)


def new_message_id() -> str:
    """A fresh message id: 32 hex digits, unique across processes, ordered within one."""
    return f"{_ids.prefix}{next(_ids.counter):016x}"


def _repr_mapping(value: Mapping[str, Any]) -> str:
    # a message built with odd metadata must still be shown in an error
    return repr(dict(value)) if isinstance(value, Mapping) else repr(value)


@attrs.frozen(kw_only=True)
class _Message:
    id: str = attrs.field(factory=new_message_id)
    timestamp: float = attrs.field(factory=time.time)
    session_id: str = BUS
    metadata: Mapping[str, Any] = attrs.field(
        default=_NO_METADATA, hash=False, repr=_repr_mapping
    )
    priority: Priority | None = None


@attrs.frozen(kw_only=True)
class Command(_Message):
    """A request for one handler to do something; ``bus.execute`` answers it.

    ``id`` is unique, ``timestamp`` is wall-clock seconds since the epoch,
    ``session_id`` routes it to a session's handler (``"BUS"``: bus-wide),
    ``metadata`` is free-form, ``priority`` picks the handler's mailbox lane
    (``None``: ``Priority.NORMAL``).
    """

    @property
    def command_id(self) -> str:
        """The id, under the name the asyncio llmgine used."""
        return self.id


@attrs.frozen(kw_only=True)
class Event(_Message):
    """Something that happened; ``bus.publish`` hands it to every matching handler.

    Fields as for :class:`Command`; ``priority`` (when not ``None``) overrides
    the lane each handler was registered with.
    """

    @property
    def event_id(self) -> str:
        """The id, under the name the asyncio llmgine used."""
        return self.id


def describe_error(error: BaseException) -> str:
    """``"TypeName: message"`` (or just the type name when the message is empty)."""
    text = str(error)
    name = type(error).__name__
    return f"{name}: {text}" if text and text != name else name


@attrs.frozen
class CommandResult:
    """What ``bus.execute`` returns: never an exception, always one of these.

    ``error`` is a short ``"TypeName: message"`` string; ``exception`` keeps the
    exception object for code that wants it (it takes no part in equality or
    repr). A handler may return a ``CommandResult`` itself; any other return
    value becomes ``result`` of a successful one.
    """

    success: bool
    result: Any = attrs.field(default=None, kw_only=True)
    error: str | None = attrs.field(default=None, kw_only=True)
    command_id: str | None = attrs.field(default=None, kw_only=True)
    session_id: str | None = attrs.field(default=None, kw_only=True)
    metadata: Mapping[str, Any] = attrs.field(
        default=_NO_METADATA, kw_only=True, hash=False, repr=_repr_mapping
    )
    exception: BaseException | None = attrs.field(
        default=None, kw_only=True, eq=False, repr=False
    )

    @classmethod
    def from_error(
        cls, error: BaseException, *, command: Command | None = None
    ) -> CommandResult:
        """A failed result describing ``error`` (for ``command``, if given)."""
        return cls(
            False,
            error=describe_error(error),
            exception=error,
            command_id=None if command is None else command.id,
            session_id=None if command is None else command.session_id,
        )


@attrs.frozen(kw_only=True)
class SessionStarted(Event):
    """Published when a ``bus.session()`` block is entered."""


@attrs.frozen(kw_only=True)
class SessionEnded(Event):
    """Published when a ``bus.session()`` block is left.

    ``error`` describes the exception that ended the block, if one did.
    """

    error: str | None = None
