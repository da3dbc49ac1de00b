"""Fixtures and messages shared by the bus tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import attrs
import pytest

from llmgine.actors import Actor, ActorSystem, TraceRecord, open_actor_system
from llmgine.bus import Command, Event, MessageBus


@attrs.frozen(kw_only=True)
class Ping(Event):
    n: int = 0


@attrs.frozen(kw_only=True)
class LoudPing(Ping):
    volume: int = 11


@attrs.frozen(kw_only=True)
class Other(Event):
    pass


@attrs.frozen(kw_only=True)
class Add(Command):
    a: int
    b: int


@attrs.frozen(kw_only=True)
class Fail(Command):
    reason: str = "boom"


class Boom(Exception):
    """What failing test handlers raise."""


class Recorder(Actor):
    """An actor used as a handler: keeps what it receives, answers commands."""

    def __init__(self, seen: list[Any]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        self.seen.append(message)
        match message:
            case Add(a=a, b=b):
                return a + b
            case Fail(reason=reason):
                raise Boom(reason)
        return None


class RecordingSink:
    """A TraceSink that keeps every record it is handed."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self.open_spans = 0

    def emit(self, record: TraceRecord) -> None:
        self.records.append(record)

    def start(self, system: object) -> None:
        pass

    async def run(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def named(self, prefix: str) -> Sequence[TraceRecord]:
        return [r for r in self.records if r.name.startswith(prefix)]


@pytest.fixture
async def system() -> AsyncIterator[ActorSystem]:
    async with open_actor_system("app", tracer=None) as system:
        yield system


@pytest.fixture
async def bus(system: ActorSystem) -> MessageBus:
    return MessageBus(system)
