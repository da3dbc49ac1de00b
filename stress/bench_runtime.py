"""Benchmark of the actor runtime: tell→receive and ask, against same-run baselines.

Run: ``python stress/bench_runtime.py [--quick]``. Every figure is printed next to
the baseline measured in the same process, as a ratio. Rates are per second of
this process's CPU time (everything runs on one thread), so that other load on
the machine disturbs the ratios less.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import time
from typing import Any

import attrs
import trio

from llmgine.actors import Actor, Mailbox, open_actor_system


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


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its table; return the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages")
    args = parser.parse_args(argv)
    n = 30_000 if args.quick else 100_000
    asks = 4_000 if args.quick else 10_000
    runs = 8 if args.quick else 16

    # Many short rounds interleave the measurements (A B C D E, A B C D E, ...)
    # so that a change of machine load hits baselines and llmgine alike, and
    # each figure is the best of its rounds: the run least disturbed.
    loop = channel = tell = pingpong = ask = 0.0
    for _ in range(runs):
        loop = max(loop, bare_loop(n))
        channel = max(channel, trio.run(channel_tell, n))
        tell = max(tell, trio.run(llmgine_tell, n))
        pingpong = max(pingpong, trio.run(channel_ping_pong, asks))
        ask = max(ask, trio.run(llmgine_ask, asks))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows = [
        ("bare loop (build message + drive receive)", loop, "baseline"),
        ("trio memory channel, tell→receive", channel, f"{channel / loop:.2f}x loop"),
        ("llmgine tell→receive", tell, f"{tell / loop:.2f}x loop (target >= 0.60x)"),
        ("trio channel ping-pong (request/reply)", pingpong, "baseline"),
        (
            "llmgine ask round trip",
            ask,
            f"{ask / pingpong:.2f}x ping-pong (target >= 1.6x)",
        ),
    ]
    versions = f"python {sys.version.split()[0]}, trio {trio.__version__}"
    print(f"llmgine runtime benchmark  ({versions})")
    for label, rate, ratio in rows:
        print(f"  {label:<44} {rate:>12,.0f} msg/s   {ratio}")
    print(f"  peak RSS {rss_mb:,.0f} MiB")
    return {
        "tell_vs_loop": tell / loop,
        "ask_vs_pingpong": ask / pingpong,
        "tell_per_s": tell,
        "ask_per_s": ask,
        "peak_rss_mib": rss_mb,
    }


if __name__ == "__main__":
    main()
