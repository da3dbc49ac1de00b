"""One scenario run: its settings, systems, monitor and checks."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from llmgine.actors import (
    Actor,
    ActorRef,
    ActorSystem,
    CircuitBreaker,
    Mailbox,
    open_actor_system,
)
from llmgine.testing import FaultInjector, FaultSchedule

from ._harness import Door, Job, Ledger
from ._metrics import count_tasks, rss_mib

__all__ = ["PROFILES", "Run", "Worker"]

PROFILES = ("tiny", "quick", "full")
TICK = 0.05


class Worker(Actor):
    """Handles jobs: injects the configured faults, then records the job as done.

    A crash raises before the job is recorded (the runtime dead-letters it).
    An injected ``Failure`` answers an ask (processed, as the runtime says) but
    dead-letters a tell (nobody would hear the error), so the worker records
    it as done only when it was asked.
    """

    def __init__(self, ledger: Ledger, injector: FaultInjector | None = None) -> None:
        self.ledger = ledger
        self.injector = injector

    async def receive(self, message: Job) -> Any:
        failure = None if self.injector is None else await self.injector.inject(message)
        if failure is None or self.context.asked:
            self.ledger.done(message)
        return message.seq if failure is None else failure


class Run:
    """The state of one scenario run: what it sends, opens, measures and checks."""

    def __init__(
        self,
        name: str,
        *,
        profile: str = "quick",
        seed: int = 0,
        duration: float | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> None:
        if profile not in PROFILES:
            raise ValueError(f"'profile' must be one of {PROFILES} (got {profile!r})")
        self.name = name
        self.profile = profile
        self.seed = seed
        self.rng = random.Random(seed)
        self.duration_override = duration
        self.on_progress = on_progress
        self.ledger = Ledger()
        self.door = Door(self.ledger)
        self.systems: list[ActorSystem] = []
        self.clean: list[ActorSystem] = []  # systems whose block ended normally
        self.live: list[ActorSystem] = []
        self.breakers: list[ActorRef] = []
        self.injectors: list[FaultInjector] = []
        self.failures: list[str] = []
        self.extra: dict[str, Any] = {}
        self.samples: list[tuple[float, int, int]] = []
        self.faults: tuple[float, float] | None = None
        self.door_checks = True  # every message goes through the door
        self.expected_duration = 1.0
        self.load_seconds: float | None = None
        self.peak_rss = 0.0
        self.leaked_tasks = 0
        self.started = time.perf_counter()
        self.wall = 0.0

    # -- settings ---------------------------------------------------------------
    def pick(self, tiny: Any, quick: Any, full: Any) -> Any:
        """The value for this run's profile."""
        return {"tiny": tiny, "quick": quick, "full": full}[self.profile]

    def seconds(self, tiny: float, quick: float, full: float) -> float:
        """The load duration: the override if one was given, else the profile's."""
        value = self.duration_override or float(self.pick(tiny, quick, full))
        self.expected_duration = value
        return value

    def now(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.started

    def expect(self, condition: bool, text: str) -> None:
        """Record a failed invariant unless ``condition`` holds."""
        if not condition:
            self.failures.append(text)

    def fault_window(self, start: float, end: float) -> None:
        """Declare when (run seconds) the injected faults were on."""
        self.faults = (start, end)

    def track_breaker(self, ref: ActorRef) -> None:
        """Count this actor's breaker trips in the result."""
        self.breakers.append(ref)

    async def spawn_worker(
        self,
        spawner: Any,
        name: str,
        *,
        mailbox: Mailbox | None = None,
        breaker: CircuitBreaker | None = None,
        **faults: Any,
    ) -> ActorRef:
        """Spawn a :class:`Worker` under ``spawner`` (a system, supervisor or context).

        ``faults`` are :class:`FaultInjector` options; the injector is seeded from
        the run, so the whole scenario replays from its seed.
        """
        injector = None
        if faults:
            injector = FaultInjector(seed=self.rng.randrange(2**32), **faults)
            self.injectors.append(injector)
        factory = functools.partial(Worker, self.ledger, injector)
        ref: ActorRef = await spawner.spawn(
            factory, name=name, mailbox=mailbox, breaker=breaker
        )
        if breaker is not None:
            self.track_breaker(ref)
        return ref

    def start_faults(self, schedule: FaultSchedule) -> None:
        """Anchor ``schedule`` now and report its windows as the fault window."""
        schedule.anchor()
        now = self.now()
        first = min((w.start for w in schedule.windows), default=0.0)
        self.fault_window(now + first, now + schedule.ends)

    def crashes(self) -> int:
        """Crashes injected so far by the workers' injectors."""
        return sum(injector.statistics().crashes for injector in self.injectors)

    # -- systems ----------------------------------------------------------------
    @asynccontextmanager
    async def system(self, name: str, **options: Any) -> AsyncIterator[ActorSystem]:
        """Open an actor system the monitor watches and the final audit covers."""
        opened: list[ActorSystem] = []
        # The ledger must see every dead letter: hold them all between two
        # drains (a stop dead-letters every queued message at once), and check
        # below that none was evicted unseen.
        options.setdefault("dead_letter_capacity", 1_000_000)
        try:
            async with open_actor_system(name, tracer=None, **options) as system:
                opened.append(system)
                self.systems.append(system)
                self.live.append(system)
                yield system
            self.clean.extend(opened)
        finally:
            for system in opened:
                self.live.remove(system)
                with trio.CancelScope(shield=True):  # also when left by cancellation
                    await self.ledger.collect(system)
                evicted = system.dead_letters.evicted
                self.expect(evicted == 0, f"{evicted} dead letters evicted unseen")

    # -- monitoring -------------------------------------------------------------
    async def monitor(self) -> None:
        """Sample throughput, backlog and RSS; drain dead letters; report progress."""
        while True:
            backlog = 0
            for system in self.live:
                backlog += system.statistics().queued
                await self.ledger.collect(system)
            self.samples.append((self.now(), self.ledger.processed, backlog))
            self.peak_rss = max(self.peak_rss, rss_mib())
            if self.on_progress is not None:
                self.on_progress(min(self.now() / self.expected_duration, 1.0))
            await trio.sleep(TICK)

    async def run_sessions(
        self, system: ActorSystem, loops: int, loop: Callable[[int], Awaitable[None]]
    ) -> int:
        """Run ``loop(slot)`` for every slot at once, wait for quiet, time the load.

        Returns how many actors are left in ``system`` once every session ended.
        """
        start = self.now()
        async with trio.open_nursery() as nursery:
            for slot in range(loops):
                nursery.start_soon(loop, slot)
        await system.wait_until_idle()
        self.load_seconds = self.now() - start
        return system.statistics().actors

    async def execute(self, body: Callable[[Run], Awaitable[None]]) -> None:
        """Run a scenario body under the monitor and count leaked tasks."""
        before = count_tasks()
        self.started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.monitor)
            try:
                await body(self)
            finally:
                nursery.cancel_scope.cancel()
        self.wall = self.now()
        self.peak_rss = max(self.peak_rss, rss_mib())
        self.leaked_tasks = count_tasks() - before
