"""Actors and messages the cluster tests send to nodes (importable by Ray workers)."""

from __future__ import annotations

from typing import Any

import attrs
import trio

from llmgine.actors import Actor, Failure


@attrs.frozen
class Add:
    n: int


@attrs.frozen
class Get:
    pass


@attrs.frozen
class Hold:
    """Keep the actor busy for ``seconds`` (a slow consumer)."""

    seconds: float


@attrs.frozen
class Boom:
    pass


class Counter(Actor):
    """Counts what it is told; answers ``Get`` with the count."""

    def __init__(self, start: int = 0) -> None:
        self.n = start

    async def receive(self, message: Any) -> Any:
        match message:
            case Add(n=n):
                self.n += n
            case Get():
                return self.n
            case Hold(seconds=seconds):
                await trio.sleep(seconds)
            case Boom():
                return Failure(ValueError("boom"))
        return None


class Broken(Actor):
    """Cannot start."""

    async def on_start(self) -> None:
        raise RuntimeError("no database")

    async def receive(self, message: Any) -> Any:
        return None  # pragma: no cover - never starts
