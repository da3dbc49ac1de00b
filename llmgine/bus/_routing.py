"""The routing table: which handlers a message goes to, cached per concrete type.

Events match by type *including base classes* (``isinstance`` semantics): a
handler registered for ``Event`` sees every event. Commands go to one handler:
the one registered for the most specific class in the command's MRO. A message
whose ``session_id`` names a scope with handlers goes to that scope's handlers
and falls back to the bus-wide (``"BUS"``) ones: for an event, both scopes'
handlers get it; for a command, the session's handler wins if it has one.

Resolution walks the tables once per (concrete type, scope) and is cached until
the next registration or removal, so a publish costs one dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterator

from ._handlers import Entry
from ._message import BUS

__all__ = ["Routes"]


class Routes:
    """Registered handlers by scope and type, with resolved routes cached."""

    __slots__ = (
        "_command_cache",
        "_commands",
        "_event_cache",
        "_events",
        "bus_events",
        "event_scopes",
    )

    def __init__(self) -> None:
        self._commands: dict[str, dict[type, Entry]] = {}
        self._events: dict[str, dict[type, list[Entry]]] = {}
        #: Sessions with event handlers of their own; other ids route as "BUS".
        self.event_scopes: set[str] = set()
        #: Resolved routes of events that go to bus-wide handlers only, by type:
        #: ``publish`` looks here first (one dict lookup on the hot path).
        self.bus_events: dict[type, tuple[Entry, ...]] = {}
        self._event_cache: dict[tuple[type, str], tuple[Entry, ...]] = {}
        self._command_cache: dict[tuple[type, str], Entry | None] = {}

    def __iter__(self) -> Iterator[Entry]:
        for table in self._commands.values():
            yield from table.values()
        for events in self._events.values():
            for entries in events.values():
                yield from entries

    def count(self) -> tuple[int, int]:
        """How many (command, event) handlers are registered."""
        commands = sum(len(table) for table in self._commands.values())
        events = sum(
            len(entries) for table in self._events.values() for entries in table.values()
        )
        return commands, events

    def command_handler(self, message_type: type, session_id: str) -> Entry | None:
        """The handler registered for exactly this type in this scope, if any."""
        return self._commands.get(session_id, {}).get(message_type)

    def event_handlers(self, message_type: type, session_id: str) -> list[Entry]:
        """The handlers registered for exactly this type in this scope."""
        return list(self._events.get(session_id, {}).get(message_type, ()))

    def scope(self, session_id: str) -> list[Entry]:
        """Every handler registered in one scope."""
        return [entry for entry in self if entry.session_id == session_id]

    # -- changes ---------------------------------------------------------------
    def add(self, entry: Entry) -> None:
        """Register a handler (the caller checked for duplicate commands)."""
        sid = entry.session_id
        if entry.is_command:
            self._commands.setdefault(sid, {})[entry.message_type] = entry
        else:
            self._events.setdefault(sid, {}).setdefault(entry.message_type, []).append(
                entry
            )
            if sid != BUS:
                self.event_scopes.add(sid)
        self._changed()

    def remove(self, entry: Entry) -> None:
        """Forget a handler; messages stop going to it at once."""
        entry.removed = True
        sid = entry.session_id
        if entry.is_command:
            table = self._commands[sid]
            del table[entry.message_type]
            if not table:
                del self._commands[sid]
        else:
            events = self._events[sid]
            entries = events[entry.message_type]
            entries.remove(entry)
            if not entries:
                del events[entry.message_type]
            if not events:
                del self._events[sid]
                self.event_scopes.discard(sid)
        self._changed()

    def _changed(self) -> None:
        self.bus_events.clear()
        self._event_cache.clear()
        self._command_cache.clear()

    # -- resolution ------------------------------------------------------------
    def events(self, message_type: type, session_id: str) -> tuple[Entry, ...]:
        """The handlers an event goes to, most urgent lane first, then in
        registration order."""
        if session_id not in self.event_scopes:
            route = self.bus_events.get(message_type)
            if route is None:
                route = self.bus_events[message_type] = self._resolve(message_type, BUS)
            return route
        key = (message_type, session_id)
        route = self._event_cache.get(key)
        if route is None:
            route = self._event_cache[key] = self._resolve(message_type, session_id)
        return route

    def _resolve(self, message_type: type, scope: str) -> tuple[Entry, ...]:
        found = [
            entry
            for sid in {scope, BUS}
            for registered, entries in self._events.get(sid, {}).items()
            if issubclass(message_type, registered)
            for entry in entries
        ]
        found.sort(key=lambda entry: (entry.lane, entry.seq))
        return tuple(found)

    def command(self, message_type: type, session_id: str) -> Entry | None:
        """The handler a command goes to, or None."""
        scope = session_id if session_id in self._commands else BUS
        key = (message_type, scope)
        try:
            return self._command_cache[key]
        except KeyError:
            pass
        found = None
        for sid in (scope, BUS):
            table = self._commands.get(sid, {})
            found = next((table[t] for t in message_type.__mro__ if t in table), None)
            if found is not None:
                break
        self._command_cache[key] = found
        return found
