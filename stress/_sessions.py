"""Many short-lived sessions: engine-like actors with tool children on chaotic providers.

Each session is a supervisor with one engine actor; the engine spawns its
tool actors as its own children. A turn asks a provider (retrying errors,
as an engine does), then asks its tools concurrently, like a tool-calling
chat loop. Providers fail, crash and slow down at random behind circuit
breakers; engines and tools crash now and then. When a session ends its
whole subtree stops, and no actor may outlive it.
"""

from __future__ import annotations

import functools
from typing import Any

import trio

from llmgine.actors import (
    Actor,
    ActorRef,
    CircuitBreaker,
    Failure,
    Mailbox,
    OneForOne,
)
from llmgine.testing import FaultInjector

from ._harness import Door, Job, Ledger
from ._run import Run, Worker

__all__ = ["Engine", "sessions"]


class EngineError(Exception):
    """A turn that could not reach a provider."""


class Engine(Actor):
    """An engine-like actor: provider calls with retries, then concurrent tool calls."""

    def __init__(
        self,
        door: Door,
        providers: list[ActorRef],
        injector: FaultInjector,
        *,
        tools: int,
        steps: int,
        tool_injector: FaultInjector,
    ) -> None:
        self.door = door
        self.ledger: Ledger = door.ledger
        self.providers = providers
        self.injector = injector
        self.tool_count = tools
        self.steps = steps
        self.tool_injector = tool_injector
        self.tools: list[ActorRef] = []

    async def on_start(self) -> None:
        factory = functools.partial(Worker, self.ledger, self.tool_injector)
        context = self.context
        for i in range(self.tool_count):
            # After a restart the tool children are still there: reuse them.
            ref = context.system.lookup(f"{context.path}/tool{i}")
            if not isinstance(ref, ActorRef):
                ref = await context.spawn(
                    factory, name=f"tool{i}", mailbox=Mailbox(capacity=64)
                )
            self.tools.append(ref)

    async def receive(self, message: Job) -> Any:
        failure = await self.injector.inject(message)
        if failure is not None:
            self.ledger.done(message)
            return failure
        provider = self.providers[message.seq % len(self.providers)]
        tool_errors = 0
        for _ in range(self.steps):
            for attempt in range(4):
                ok, _answer = await self.door.ask(provider, timeout=0.5)
                if ok:
                    break
                await trio.sleep(0.001 * 2**attempt)
            else:
                self.ledger.done(message)
                return Failure(EngineError("the provider kept failing"))
            results: list[bool] = []
            async with trio.open_nursery() as nursery:
                for tool in self.tools:
                    nursery.start_soon(self._call_tool, tool, results)
            tool_errors += results.count(False)
        self.ledger.done(message)
        return tool_errors

    async def _call_tool(self, tool: ActorRef, results: list[bool]) -> None:
        ok, _ = await self.door.ask(tool, timeout=0.5)
        results.append(ok)


async def sessions(run: Run) -> None:
    """Many short-lived sessions: 100 concurrent engines with tools, chaotic providers."""
    concurrency = run.pick(6, 30, 100)
    providers_n = run.pick(2, 4, 8)
    seconds = run.seconds(0.6, 2.5, 8.0)
    run.extra.update(actors=providers_n + concurrency * 3)
    door = run.door
    completed = failed = started = 0
    engine_faults = FaultInjector(crash_rate=0.01, seed=run.rng.randrange(2**32))
    tool_faults = FaultInjector(
        crash_rate=0.01, fail_rate=0.02, seed=run.rng.randrange(2**32)
    )
    async with run.system(
        "sessions", strategy=OneForOne(max_restarts=10_000, within=1.0)
    ) as system:
        pool = await system.spawn_supervisor(
            "providers", strategy=OneForOne(max_restarts=10_000, within=1.0)
        )
        providers = [
            await run.spawn_worker(
                pool,
                f"p{i}",
                mailbox=Mailbox(capacity=2000),
                breaker=CircuitBreaker(max_failures=20, reset_timeout=0.05),
                fail_rate=0.05,
                crash_rate=0.002,
                slow_rate=0.2,
                delay=0.001,
            )
            for i in range(providers_n)
        ]
        engine = functools.partial(
            Engine,
            door,
            providers,
            engine_faults,
            tools=2,
            steps=2,
            tool_injector=tool_faults,
        )
        deadline = trio.current_time() + seconds

        async def session_loop(slot: int) -> None:
            nonlocal completed, failed, started
            k = 0
            while trio.current_time() < deadline:
                k += 1
                started += 1
                session = await system.spawn_supervisor(
                    f"s{slot}-{k}", strategy=OneForOne(max_restarts=20, within=1.0)
                )
                ref = await session.spawn(engine, name="engine")
                for _turn in range(1 + (slot + k) % 3):
                    ok, _ = await door.ask(ref, timeout=5.0)
                    completed += ok
                    failed += not ok
                await session.stop()

        remaining = await run.run_sessions(system, concurrency, session_loop)
    run.extra.update(sessions=started, turns_ok=completed, turns_failed=failed)
    run.expect(completed > 0, "no turn completed")
    run.expect(
        remaining == providers_n,
        f"{remaining - providers_n} session actors outlived their sessions",
    )
