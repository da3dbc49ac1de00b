"""The public surface of llmgine.bus is exactly what is meant."""

from __future__ import annotations

import llmgine.bus


def test_public_names() -> None:
    assert sorted(llmgine.bus.__all__) == [
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
    public = {name for name in dir(llmgine.bus) if not name.startswith("_")}
    assert public == set(llmgine.bus.__all__)


def test_every_public_name_has_a_docstring() -> None:
    for name in llmgine.bus.__all__:
        value = getattr(llmgine.bus, name)
        if isinstance(value, type):
            assert value.__doc__, name
            for attr in dir(value):
                member = getattr(value, attr)
                if not attr.startswith("_") and callable(member):
                    assert member.__doc__, f"{name}.{attr}"
