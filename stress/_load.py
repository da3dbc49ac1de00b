"""Load scenarios: steady load, a burst to 10x capacity, slow consumers, shutdown."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from llmgine.actors import ActorRef, Mailbox, Overflow

from ._run import Run

__all__ = ["burst", "paced", "shutdown", "slow_consumers", "steady"]


async def paced(
    rate: float, seconds: float, send: Callable[[int], Awaitable[Any]]
) -> int:
    """Call ``send(i)`` ``rate`` times a second for ``seconds``; return the count.

    Paced by trio.sleep in ~1 ms ticks: each tick sends what is due, so
    messages leave in small bursts (latencies include queueing within a burst).
    """
    start = trio.current_time()
    deadline = start + seconds
    sent = 0
    while (now := trio.current_time()) < deadline:
        due = int((now - start) * rate)
        while sent < due and (sent % 64 or trio.current_time() < deadline):
            await send(sent)
            sent += 1
        await trio.sleep(0.001)
    return sent


async def _workers(run: Run, system: Any, n: int, *, capacity: int) -> list[ActorRef]:
    mailbox = Mailbox(capacity=capacity)
    return [await run.spawn_worker(system, f"w{i}", mailbox=mailbox) for i in range(n)]


async def steady(run: Run) -> None:
    """Steady paced load over many actors: the baseline every other scenario bends."""
    n = run.pick(8, 20, 100)
    rate = run.pick(5_000, 40_000, 100_000)
    seconds = run.seconds(0.4, 1.5, 10.0)
    run.extra.update(actors=n, rate=rate)
    door = run.door
    async with run.system("steady") as system:
        refs = await _workers(run, system, n, capacity=1000)
        start = run.now()
        await paced(rate, seconds, lambda i: door.tell(refs[i % n]))
        await system.wait_until_idle()
        run.load_seconds = run.now() - start
    run.expect(not door.refusals, f"backpressure tells were refused: {door.refusals}")


async def burst(run: Run) -> None:
    """A steady trickle, then every actor gets 10x its mailbox capacity at once.

    Burst senders try ``tell_nowait`` first; a refusal is counted and the job
    is sent again (as a new job) with a waiting ``tell``. The trickle goes on
    for a while after the burst is in, so the recovery can be seen.
    """
    n = run.pick(4, 10, 50)
    capacity = run.pick(50, 100, 500)
    rate = run.pick(2_000, 10_000, 20_000)
    seconds = run.seconds(0.6, 1.5, 8.0)
    run.extra.update(actors=n, capacity=capacity, burst=10 * capacity * n)
    door = run.door

    async def burst_one(ref: ActorRef) -> None:
        for _ in range(10 * capacity):
            if not door.tell_nowait(ref):
                await door.tell(ref)

    async with run.system("burst") as system:
        refs = await _workers(run, system, n, capacity=capacity)
        start = run.now()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(paced, rate, math.inf, lambda i: door.tell(refs[i % n]))
            await trio.sleep(0.3 * seconds)
            burst_start = run.now()
            async with trio.open_nursery() as bursts:
                for ref in refs:
                    bursts.start_soon(burst_one, ref)
            run.fault_window(burst_start, run.now())
            await trio.sleep(
                max(0.7 * seconds - (run.now() - burst_start), 0.3 * seconds)
            )
            nursery.cancel_scope.cancel()
        await system.wait_until_idle()
        run.load_seconds = run.now() - start
    run.expect(door.refusals["MailboxFull"] > 0, "the burst never filled a mailbox")


POLICIES = (
    Overflow.BACKPRESSURE,
    Overflow.DROP_NEWEST,
    Overflow.DROP_OLDEST,
    Overflow.REJECT,
)


async def slow_consumers(run: Run) -> None:
    """Consumers 3x slower than their producers, under each overflow policy."""
    per_policy = run.pick(1, 3, 5)
    capacity = run.pick(20, 100, 200)
    delay = 0.001
    seconds = run.seconds(0.5, 1.5, 6.0)
    run.extra.update(actors=per_policy * len(POLICIES), capacity=capacity)
    door = run.door
    peak_queue: dict[str, int] = {}

    async def produce(ref: ActorRef, policy: Overflow, rate: float) -> None:
        if policy is Overflow.BACKPRESSURE:
            await paced(
                rate,
                seconds,
                lambda i: door.tell(ref) if i % 2 else _nowait(door.tell_nowait(ref)),
            )
        else:
            await paced(rate, seconds, lambda i: door.tell(ref))

    async def watch(refs: list[ActorRef]) -> None:
        while True:
            for ref in refs:
                queued = ref.statistics().queued
                peak_queue[ref.name] = max(peak_queue.get(ref.name, 0), queued)
            await trio.sleep(0.01)

    async with run.system("slow") as system:
        refs: list[tuple[ActorRef, Overflow]] = []
        for policy in POLICIES:
            for k in range(per_policy):
                ref = await run.spawn_worker(
                    system,
                    f"{policy.value}-{k}",
                    mailbox=Mailbox(capacity=capacity, overflow=policy),
                    slow_rate=1.0,
                    delay=delay,
                )
                refs.append((ref, policy))
        start = run.now()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch, [ref for ref, _ in refs])
            async with trio.open_nursery() as producers:
                for ref, policy in refs:
                    producers.start_soon(produce, ref, policy, 3.0 / delay)
            await system.wait_until_idle()
            nursery.cancel_scope.cancel()
        run.load_seconds = run.now() - start
    _check_policies(run, refs, capacity, peak_queue)


async def _nowait(accepted: bool) -> bool:
    return accepted


def _check_policies(
    run: Run,
    refs: list[tuple[ActorRef, Overflow]],
    capacity: int,
    peak_queue: dict[str, int],
) -> None:
    dead = run.ledger.dead_at
    refused = run.door.refused_at
    for policy in POLICIES:
        names = [ref.name for ref, p in refs if p is policy]
        full = sum(dead[name, "mailbox_full"] for name in names)
        oldest = sum(dead[name, "dropped_oldest"] for name in names)
        refusals = sum(refused[name] for name in names)
        run.extra[policy.value] = f"refused={refusals} full={full} oldest={oldest}"
        worst = max(peak_queue.get(name, 0) for name in names)
        run.expect(worst <= capacity, f"{policy.value}: {worst} queued > {capacity}")
        if policy is Overflow.BACKPRESSURE:
            run.expect(full == oldest == 0, "backpressure dead-lettered on overflow")
            run.expect(refusals > 0, "backpressure: tell_nowait was never refused")
        elif policy is Overflow.DROP_NEWEST:
            run.expect(full > 0 and oldest == 0, "drop_newest: no mailbox_full letters")
            run.expect(refusals == 0, "drop_newest refused a tell")
        elif policy is Overflow.DROP_OLDEST:
            run.expect(oldest > 0, "drop_oldest: no dropped_oldest letters")
            run.expect(refusals == 0, "drop_oldest refused a tell")
        else:
            run.expect(refusals > 0 and full == oldest == 0, "reject: nothing refused")


async def shutdown(run: Run) -> None:
    """Stop systems under full load: gracefully (leaving the block), then by cancel.

    Some actors hang on a message, so the graceful stop has to turn brutal
    after ``shutdown_timeout``. Producers keep sending until the door says
    ``ActorStopped``; every job must end processed, dead-lettered or refused.
    """
    n = run.pick(6, 20, 100)
    hung = run.pick(1, 2, 3)
    timeout = run.pick(0.05, 0.1, 0.2)
    seconds = run.seconds(0.4, 1.5, 6.0)
    run.extra.update(actors=2 * n)
    door = run.door

    async def produce(ref: ActorRef, asks: bool) -> None:
        while True:
            if asks:
                ok, error = await door.ask(ref, timeout=0.5)
                if not ok and type(error).__name__ == "ActorStopped":
                    return
            elif not await door.tell(ref):
                return

    async def spawn_all(system: Any) -> list[ActorRef]:
        return [
            await run.spawn_worker(
                system,
                f"w{i}",
                mailbox=Mailbox(capacity=500),
                hang_rate=0.002 if i < hung else 0.0,
                slow_rate=0.05,
                delay=0.0005,
            )
            for i in range(n)
        ]

    start = run.now()
    async with trio.open_nursery() as outside:
        async with run.system("graceful", shutdown_timeout=timeout) as system:
            for i, ref in enumerate(await spawn_all(system)):
                outside.start_soon(produce, ref, i % 4 == 0)
            await trio.sleep(seconds / 2)
            leaving = run.now()
        run.extra["graceful_stop_s"] = round(run.now() - leaving, 3)
    limit = (hung + 1) * timeout + 5.0
    run.expect(run.now() - leaving < limit, f"graceful stop took over {limit:.1f}s")

    with trio.move_on_after(seconds / 2):
        async with (
            run.system("cancelled", shutdown_timeout=timeout) as system,
            trio.open_nursery() as inside,
        ):
            for i, ref in enumerate(await spawn_all(system)):
                inside.start_soon(produce, ref, i % 4 == 0)
    run.load_seconds = run.now() - start
    run.expect(door.refusals["ActorStopped"] > 0, "no sender saw ActorStopped")
