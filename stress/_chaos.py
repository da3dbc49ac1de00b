"""Fault scenarios: crashes under load, intensity exhaustion, breaker storms."""

from __future__ import annotations

from typing import Any

import trio

from llmgine.actors import (
    ActorRef,
    Backoff,
    BreakerState,
    CircuitBreaker,
    Mailbox,
    OneForOne,
    SupervisionError,
    SupervisorRef,
)
from llmgine.testing import FaultSchedule

from ._load import paced
from ._run import Run

__all__ = ["breaker_storm", "crashes", "escalation"]


async def crashes(run: Run) -> None:
    """Random actor crashes (1% of messages) under paced load, then recovery."""
    n = run.pick(6, 20, 100)
    group = run.pick(3, 10, 10)
    rate = run.pick(4_000, 30_000, 60_000)
    seconds = run.seconds(1.0, 2.5, 10.0)
    run.extra.update(actors=n)
    door = run.door
    schedule = FaultSchedule.between(0.25 * seconds, 0.6 * seconds)
    async with run.system("crashes") as system:
        supervisors = [
            await system.spawn_supervisor(
                f"g{k}", strategy=OneForOne(max_restarts=100_000, within=1.0)
            )
            for k in range((n + group - 1) // group)
        ]
        refs = [
            await run.spawn_worker(
                supervisors[i // group], f"w{i}", crash_rate=0.01, schedule=schedule
            )
            for i in range(n)
        ]
        run.start_faults(schedule)
        start = run.now()
        await paced(rate, seconds, lambda i: door.tell(refs[i % n]))
        await system.wait_until_idle()
        run.load_seconds = run.now() - start
        restarts = system.statistics().restarts
    crashed = run.crashes()
    run.extra["crashes"] = crashed
    run.expect(crashed > 0, "no crash was injected")
    run.expect(restarts == crashed, f"{crashed} crashes but {restarts} restarts")
    failed = run.ledger.dead_reasons["handler_failed"]
    run.expect(failed == crashed, f"{crashed} crashes but {failed} handler_failed")


async def escalation(run: Run) -> None:
    """Leaf supervisors exhaust their intensity and escalate; then a root gives up.

    Phase 1: leaves (3 restarts/s) under a middle supervisor that restarts them
    with backoff; crashes run hot enough that leaves give up repeatedly, and
    every queued message must survive the subtree restarts. Phase 2: a system
    whose root allows 2 restarts meets an actor that always crashes: the
    ``SupervisionError`` must leave ``open_actor_system``.
    """
    leaves = run.pick(2, 4, 10)
    per_leaf = run.pick(2, 5, 10)
    rate = run.pick(3_000, 20_000, 50_000)
    seconds = run.seconds(1.0, 2.5, 10.0)
    n = leaves * per_leaf
    run.extra.update(actors=n + 3)
    door = run.door
    # About 25 crashes a second per leaf: well past a leaf's 3 per second.
    crash_rate = min(25.0 * leaves / rate, 1.0)
    async with run.system("escalation") as system:
        middle = await system.spawn_supervisor(
            "middle",
            strategy=OneForOne(
                max_restarts=1000,
                within=1.0,
                backoff=Backoff(initial=0.002, maximum=0.02),
            ),
        )
        schedule = FaultSchedule.between(0.2 * seconds, 0.6 * seconds)
        leaf_refs: list[SupervisorRef] = []
        refs: list[ActorRef] = []
        for k in range(leaves):
            leaf = await middle.spawn_supervisor(
                f"leaf{k}", strategy=OneForOne(max_restarts=3, within=1.0)
            )
            leaf_refs.append(leaf)
            for j in range(per_leaf):
                refs.append(
                    await run.spawn_worker(
                        leaf, f"w{j}", crash_rate=crash_rate, schedule=schedule
                    )
                )
        run.start_faults(schedule)
        start = run.now()
        await paced(rate, seconds, lambda i: door.tell(refs[i % n]))
        await system.wait_until_idle()
        run.load_seconds = run.now() - start
        escalations = sum(leaf.restarts for leaf in leaf_refs)
        run.extra.update(escalations=escalations, middle_gave_up=middle.restarts)
    run.expect(escalations > 0, "no leaf supervisor ever gave up")
    run.expect(middle.restarts == 0, "the middle supervisor gave up")

    surfaced = await _root_gives_up(run)
    run.extra["surfaced"] = surfaced
    run.expect(surfaced, "the root's SupervisionError did not leave the system")


async def _root_gives_up(run: Run) -> bool:
    door = run.door
    strategy = OneForOne(max_restarts=2, within=10.0)
    try:
        async with run.system(
            "doomed", strategy=strategy, shutdown_timeout=0.5
        ) as system:
            targets = [
                await run.spawn_worker(system, "calm0"),
                await run.spawn_worker(system, "calm1"),
                await run.spawn_worker(system, "doomed", crash_rate=1.0),
            ]
            await paced(2_000, 5.0, lambda i: door.tell(targets[i % 3]))
    except SupervisionError:
        return True
    return False


class _ProviderError(Exception):
    """What the failing provider-like actors answer with."""


def _provider_error(fault: Any, message: Any) -> Exception:
    return _ProviderError(f"upstream {fault.value}")


async def breaker_storm(run: Run) -> None:
    """Clients hammer provider-like actors that start failing: breakers must trip,
    fail fast while open, and close again once the upstream is healthy.
    """
    providers = run.pick(2, 4, 10)
    clients = run.pick(8, 40, 200)
    rate = run.pick(4_000, 15_000, 30_000)
    seconds = run.seconds(1.0, 2.5, 8.0)
    run.extra.update(actors=providers, rate=rate)
    door = run.door
    breaker = CircuitBreaker(max_failures=5, reset_timeout=0.02, max_reset_timeout=0.2)
    strategy = OneForOne(max_restarts=1000, within=1.0)
    async with run.system("storm", strategy=strategy) as system:
        schedule = FaultSchedule.between(0.25 * seconds, 0.6 * seconds)
        refs = [
            await run.spawn_worker(
                system,
                f"p{i}",
                mailbox=Mailbox(capacity=1000),
                breaker=breaker,
                fail_rate=0.7,
                crash_rate=0.01,
                schedule=schedule,
                error=_provider_error,
            )
            for i in range(providers)
        ]
        run.start_faults(schedule)
        deadline = trio.current_time() + seconds

        async def client(c: int) -> None:
            # Paced, so healthy throughput is the offered rate whatever the CPU:
            # the breaker's effect (and the recovery) shows in the processed rate.
            ref = refs[c % providers]
            interval = clients / rate
            due = trio.current_time() + interval * c / clients
            k = 0
            while due < deadline:
                await trio.sleep_until(due)
                due += interval
                k += 1
                if k % 10 == 0:
                    await door.tell(ref)
                else:
                    await door.ask(ref, timeout=1.0)

        start = run.now()
        async with trio.open_nursery() as nursery:
            for c in range(clients):
                nursery.start_soon(client, c)
        # Faults are long over: a trial message per provider closes every breaker.
        await trio.sleep(breaker.max_reset_timeout)
        for ref in refs:
            for _ in range(3):
                ok, _answer = await door.ask(ref, timeout=1.0)
                if ok:
                    break
        await system.wait_until_idle()
        run.load_seconds = run.now() - start
        states = [ref.statistics().breaker for ref in refs]
    run.extra["open_refusals"] = door.asks_failed["CircuitOpenError"]
    run.expect(all(s is BreakerState.CLOSED for s in states), f"breakers left: {states}")
    run.expect(door.asks_failed["CircuitOpenError"] > 0, "no ask failed fast")
    run.expect(run.ledger.dead_reasons["circuit_open"] > 0, "no tell hit an open circuit")
