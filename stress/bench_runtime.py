"""Benchmark of the actor runtime: tell→receive and ask, against same-run baselines.

Run: ``python -m stress.bench_runtime [--quick]``. Every figure is printed next to
the baseline measured in the same process, as the median of the ratios taken
round by round (``stress/_paired.py``). Rates are per second of
this process's CPU time (everything runs on one thread), so that other load on
the machine disturbs the ratios less.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import resource
import sys
import time
import tracemalloc
from functools import partial
from typing import Any

import attrs
import trio

from llmgine.actors import Actor, Mailbox, OneForOne, Overflow, open_actor_system

from ._paired import Rounds


@attrs.frozen
class Tick:
    """The benchmark's message."""

    n: int


class Sink(Actor):
    """Counts what it receives; answers asks with the count."""

    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


def bare_loop(n: int) -> float:
    """Build a message and drive a receive coroutine to completion, n times."""
    sink = Sink()
    start = time.process_time()
    for i in range(n):
        coro = sink.receive(Tick(i))
        with contextlib.suppress(StopIteration):
            coro.send(None)
    return n / (time.process_time() - start)


async def channel_tell(n: int) -> float:
    """A sender and a receiver task over a trio memory channel."""
    send, recv = trio.open_memory_channel[Tick](1000)
    sink = Sink()

    async def consumer() -> None:
        async for message in recv:
            await sink.receive(message)

    start = time.process_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(consumer)
        async with send:
            for i in range(n):
                await send.send(Tick(i))
    return n / (time.process_time() - start)


async def llmgine_tell(n: int) -> float:
    """tell → receive through an actor with a 1000-message backpressure mailbox."""
    async with open_actor_system("bench", tracer=None) as system:
        ref = await system.spawn(Sink, name="sink", mailbox=Mailbox(capacity=1000))
        start = time.process_time()
        for i in range(n):
            await ref.tell(Tick(i))
        await ref.ask(Tick(-1))
        elapsed = time.process_time() - start
    return n / elapsed


async def channel_ping_pong(n: int) -> float:
    """Request/reply between two tasks over two memory channels."""
    req_send, req_recv = trio.open_memory_channel[Tick](0)
    rep_send, rep_recv = trio.open_memory_channel[int](0)
    sink = Sink()

    async def server() -> None:
        async for message in req_recv:
            await rep_send.send(await sink.receive(message))

    start = time.process_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        for i in range(n):
            await req_send.send(Tick(i))
            await rep_recv.receive()
        nursery.cancel_scope.cancel()
    return n / (time.process_time() - start)


async def llmgine_ask(n: int) -> float:
    """ask round trips to one actor."""
    async with open_actor_system("bench", tracer=None) as system:
        ref = await system.spawn(Sink, name="sink")
        start = time.process_time()
        for i in range(n):
            await ref.ask(Tick(i))
        elapsed = time.process_time() - start
    return n / elapsed


async def llmgine_ask_timeout(n: int) -> float:
    """ask round trips to one actor, each with a timeout (as every README example)."""
    async with open_actor_system("bench", tracer=None) as system:
        ref = await system.spawn(Sink, name="sink")
        start = time.process_time()
        for i in range(n):
            await ref.ask(Tick(i), timeout=60)
        elapsed = time.process_time() - start
    return n / elapsed


async def spawn_rates(total: int, window: int) -> tuple[float, float]:
    """Spawn ``total`` actors under one supervisor: rates of the first and last window."""
    async with open_actor_system(
        "bench", tracer=None, strategy=OneForOne(max_restarts=10**9)
    ) as system:
        rates = []
        for i in range(total):
            if i % window == 0:
                start = time.process_time()
            await system.spawn(Sink, name=f"a{i}", mailbox=Mailbox(capacity=10))
            if i % window == window - 1:
                rates.append(window / (time.process_time() - start))
    return rates[0], rates[-1]


async def idle_actor_bytes(n: int, *, served: bool = False) -> float:
    """Bytes allocated per idle actor (tracemalloc): cell, ref, mailbox, task, scopes.

    With ``served`` each actor has handled one message (its mailbox's deque,
    made on first use, is then counted too).
    """
    async with open_actor_system("bench", tracer=None) as system:
        for i in range(100):
            await system.spawn(Sink, name=f"warm{i}")
        await system.wait_until_idle()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for i in range(n):
            ref = await system.spawn(Sink, name=f"a{i}")
            if served:
                await ref.tell(i)
        await system.wait_until_idle()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / n


class Stuck(Actor):
    """Handles a message every millisecond: a consumer ten times too slow."""

    async def receive(self, message: Any) -> Any:
        await trio.sleep(0.001)
        return None


async def overload_rss(overflow: Overflow, seconds: float) -> tuple[float, float]:
    """10x what a consumer handles for ``seconds``: RSS (MiB) after warm-up, at end."""
    async with open_actor_system("bench", tracer=None) as system:
        ref = await system.spawn(
            Stuck, name="stuck", mailbox=Mailbox(capacity=1000, overflow=overflow)
        )
        deadline = trio.current_time() + seconds
        warm = trio.current_time() + seconds / 3
        early = 0.0
        while trio.current_time() < deadline:
            for i in range(10):
                with contextlib.suppress(Exception):
                    if overflow is Overflow.BACKPRESSURE:
                        await ref.tell(Tick(i))
                    else:
                        ref.tell_nowait(Tick(i))
            await trio.sleep(0.001)
            if not early and trio.current_time() >= warm:
                early = _rss_now()
        return early, _rss_now()


def _rss_now() -> float:
    """The current resident set size in MiB (Linux; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its table; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages")
    parser.add_argument(
        "--overload",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also measure RSS growth under 10x overload, per overflow policy",
    )
    args = parser.parse_args(argv)
    n = 30_000 if args.quick else 100_000
    asks = 4_000 if args.quick else 10_000
    runs = 12 if args.quick else 16

    # Many short rounds interleave the measurements (A B C D E, A B C D E, ...)
    # so that a change of machine load hits baselines and llmgine alike; each
    # ratio is taken within a round and the median over rounds is the figure
    # (stress/_paired.py), each rate is the best of its rounds.
    rounds = Rounds()
    for _ in range(runs):
        rounds.add("loop", bare_loop(n))
        rounds.add("channel", trio.run(channel_tell, n))
        rounds.add("tell", trio.run(llmgine_tell, n))
        rounds.add("pingpong", trio.run(channel_ping_pong, asks))
        rounds.add("ask", trio.run(llmgine_ask, asks))
        rounds.add("ask_timeout", trio.run(llmgine_ask_timeout, asks))
    loop, channel, tell, pingpong, ask, ask_timeout = (
        rounds.best(label)
        for label in ("loop", "channel", "tell", "pingpong", "ask", "ask_timeout")
    )
    tell_ratio = rounds.ratio("tell", "loop")
    ask_ratio = rounds.ratio("ask", "pingpong")
    timeout_ratio = rounds.ratio("ask_timeout", "ask")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total, window = (20_000, 2_000) if args.quick else (100_000, 10_000)
    first, last = trio.run(spawn_rates, total, window)
    per_actor = trio.run(idle_actor_bytes, 2_000)
    per_served = trio.run(partial(idle_actor_bytes, served=True), 2_000)
    overload = {}
    if args.overload:
        for overflow in Overflow:
            early, end = trio.run(overload_rss, overflow, args.overload)
            overload[overflow.value] = end - early

    rows = [
        ("bare loop (build message + drive receive)", loop, "baseline"),
        (
            "trio memory channel, tell→receive",
            channel,
            f"{rounds.ratio('channel', 'loop'):.2f}x loop",
        ),
        ("llmgine tell→receive", tell, f"{tell_ratio:.2f}x loop (target >= 0.60x)"),
        ("trio channel ping-pong (request/reply)", pingpong, "baseline"),
        (
            "llmgine ask round trip",
            ask,
            f"{ask_ratio:.2f}x ping-pong (target >= 1.6x)",
        ),
        (
            "llmgine ask round trip, timeout=60",
            ask_timeout,
            f"{timeout_ratio:.2f}x ask without timeout (target >= 0.9x)",
        ),
        (f"spawn, first {window:,} actors", first, "baseline"),
        (
            f"spawn, last {window:,} of {total:,} under one supervisor",
            last,
            f"{last / first:.2f}x first (target >= 0.8x)",
        ),
    ]
    versions = f"python {sys.version.split()[0]}, trio {trio.__version__}"
    print(f"llmgine runtime benchmark  ({versions})")
    for label, rate, ratio in rows:
        print(f"  {label:<44} {rate:>12,.0f} msg/s   {ratio}")
    print(f"  memory per idle actor {per_actor:,.0f} bytes (target < 4096)")
    print(f"  memory per idle actor after one message {per_served:,.0f} bytes")
    for policy, grown in overload.items():
        print(
            f"  RSS growth under {args.overload:.0f}s of 10x overload, {policy}:"
            f" {grown:+.1f} MiB"
        )
    print(f"  peak RSS {rss_mb:,.0f} MiB")
    figures = {
        "tell_vs_loop": tell_ratio,
        "ask_vs_pingpong": ask_ratio,
        "ask_timeout_vs_ask": timeout_ratio,
        "spawn_last_vs_first": last / first,
        "idle_actor_bytes": per_actor,
        "served_actor_bytes": per_served,
        "tell_per_s": tell,
        "ask_per_s": ask,
        "peak_rss_mib": rss_mb,
    }
    for policy, grown in overload.items():
        figures[f"overload_rss_growth_{policy}_mib"] = grown
    return figures


if __name__ == "__main__":
    main()
