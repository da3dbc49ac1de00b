"""Faulty actors: wrap any actor so it crashes, fails, hangs or slows down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ..actors import Actor
from ._faults import Fault, FaultInjector
from ._schedule import FaultSchedule

__all__ = ["FaultyActor", "FaultyFactory", "faulty"]


class FaultyActor(Actor):
    """An actor that passes each message through a :class:`FaultInjector` first.

    Messages the injector lets through go to ``inner``; with no inner actor, a
    message is answered with itself (an echo), which is all a load test needs.
    The inner actor's hooks run, and it sees the same context, as if spawned
    on its own.
    """

    def __init__(self, injector: FaultInjector, inner: Actor | None = None) -> None:
        self.injector = injector
        self.inner = inner

    async def on_start(self) -> None:
        """Give the inner actor this actor's context, then start it."""
        if self.inner is not None:
            self.inner._context = self.context
            await self.inner.on_start()

    async def on_stop(self) -> None:
        """Stop the inner actor."""
        if self.inner is not None:
            await self.inner.on_stop()

    async def receive(self, message: Any) -> Any:
        """Inject the chosen fault, or hand the message to the inner actor."""
        failure = await self.injector.inject(message)
        if failure is not None:
            return failure
        if self.inner is None:
            return message
        return await self.inner.receive(message)


@attrs.frozen(kw_only=True)
class FaultyFactory:
    """A spawnable factory: every call wraps a fresh inner actor in a FaultyActor.

    All incarnations share one injector, so restarts continue its seeded
    sequence and its statistics count the actor's whole life.
    """

    injector: FaultInjector
    inner: Callable[[], Actor] | None = None

    def __call__(self) -> FaultyActor:
        """Make one incarnation."""
        return FaultyActor(self.injector, None if self.inner is None else self.inner())


def faulty(
    factory: Callable[[], Actor] | None = None,
    /,
    *,
    crash_rate: float = 0.0,
    fail_rate: float = 0.0,
    hang_rate: float = 0.0,
    slow_rate: float = 0.0,
    delay: float = 0.01,
    crash_on: Callable[[Any], bool] | None = None,
    fail_on: Callable[[Any], bool] | None = None,
    schedule: FaultSchedule | None = None,
    error: Callable[[Fault, Any], Exception] | None = None,
    seed: int | None = 0,
) -> FaultyFactory:
    """Wrap an actor factory so its actors misbehave at the given rates.

    ``await system.spawn(faulty(Counter, crash_rate=0.01, seed=7), name="c")``
    spawns a ``Counter`` that crashes on about 1% of its messages; the returned
    factory's ``injector.statistics()`` says what was injected. With no
    ``factory``, the actor echoes every message it lets through.
    """
    injector = FaultInjector(
        crash_rate=crash_rate,
        fail_rate=fail_rate,
        hang_rate=hang_rate,
        slow_rate=slow_rate,
        delay=delay,
        crash_on=crash_on,
        fail_on=fail_on,
        schedule=schedule,
        error=error,
        seed=seed,
    )
    return FaultyFactory(injector=injector, inner=factory)
