"""Routing: matching by type and scope, resolved once per concrete type."""

from __future__ import annotations

from llmgine.bus import BUS, Event, MessageBus

from .conftest import Add, LoudPing, Other, Ping


async def test_routes_are_cached_per_type_and_refreshed_on_changes(
    bus: MessageBus,
) -> None:
    routes = bus._routes
    bus.register_event_handler(Ping, lambda e: None)
    first = routes.events(LoudPing, BUS)
    assert routes.events(LoudPing, BUS) is first  # resolved once
    bus.register_event_handler(Event, lambda e: None)
    assert len(routes.events(LoudPing, BUS)) == 2  # a registration refreshes it
    assert len(routes.events(Other, BUS)) == 1


async def test_unknown_session_ids_route_as_bus_and_are_not_cached_apart(
    bus: MessageBus,
) -> None:
    routes = bus._routes
    bus.register_event_handler(Ping, lambda e: None)
    bus.register_command_handler(Add, lambda c: None)
    for n in range(100):
        assert len(routes.events(Ping, f"session-{n}")) == 1
        assert routes.command(Add, f"session-{n}") is not None
    assert len(routes._event_cache) == 0
    assert len(routes.bus_events) == 1
    assert len(routes._command_cache) == 1


async def test_scope_lists_a_session_s_handlers(bus: MessageBus) -> None:
    bus.register_event_handler(Ping, lambda e: None, session_id="s")
    bus.register_command_handler(Add, lambda c: None, session_id="s")
    bus.register_event_handler(Ping, lambda e: None)
    assert len(bus._routes.scope("s")) == 2
    assert bus._routes.count() == (1, 2)
