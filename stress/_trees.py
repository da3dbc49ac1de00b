"""The ``trees`` scenario: mixed-strategy supervision trees under racing failures."""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import trio

from llmgine.actors import (
    ActorRef,
    Backoff,
    Mailbox,
    OneForAll,
    OneForOne,
    Overflow,
    RestForOne,
)
from llmgine.testing import FaultInjector

from ._harness import Job, Ledger
from ._run import Run, Worker

__all__ = ["trees"]


class Incarnations:
    """Live instances and hook calls per actor path."""

    def __init__(self) -> None:
        self.live: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.starts: Counter[str] = Counter()
        self.stops: Counter[str] = Counter()


class Counted(Worker):
    """A worker that counts its incarnations (``on_start``/``on_stop``)."""

    def __init__(
        self, ledger: Ledger, injector: FaultInjector, tally: Incarnations, path: str
    ) -> None:
        super().__init__(ledger, injector)
        self.tally = tally
        self.path = path

    async def on_start(self) -> None:
        tally = self.tally
        tally.starts[self.path] += 1
        tally.live[self.path] += 1
        tally.most[self.path] = max(tally.most[self.path], tally.live[self.path])

    async def on_stop(self) -> None:
        self.tally.stops[self.path] += 1
        self.tally.live[self.path] -= 1

    async def receive(self, message: Job) -> Any:
        if message.payload == "ping":
            self.ledger.done(message)
            return "pong"
        return await super().receive(message)


async def trees(run: Run) -> None:
    """Three-level trees: OneForAll middles over OneForAll/RestForOne leaves.

    Leaves allow 3 restarts a second, so they escalate often and their middle
    restarts whole subtrees while leaves are still restarting their own
    children. Workers crash and slow down; mailboxes use every overflow
    policy; senders tell and ask, and some askers give up at random moments.
    Checked: at most one live instance per actor, every ``on_start`` matched
    by an ``on_stop``, every ask ended, every actor answers afterwards.
    """
    middles = run.pick(2, 2, 4)
    per_leaf = run.pick(2, 3, 4)
    seconds = run.seconds(0.6, 2.0, 8.0)
    senders = 4
    tally = Incarnations()
    policies = list(Overflow)
    refs: list[ActorRef] = []
    run.extra.update(actors=middles * 2 * per_leaf)
    door = run.door
    async with run.system(
        "trees", strategy=OneForOne(max_restarts=10**6, within=1.0)
    ) as system:
        for m in range(middles):
            middle = await system.spawn_supervisor(
                f"m{m}",
                strategy=OneForAll(
                    max_restarts=10**6,
                    within=1.0,
                    backoff=Backoff(initial=0.001, maximum=0.01),
                ),
            )
            for k, strategy in enumerate((OneForAll, RestForOne)):
                leaf = await middle.spawn_supervisor(
                    f"l{k}", strategy=strategy(max_restarts=3, within=1.0)
                )
                for j in range(per_leaf):
                    injector = FaultInjector(
                        seed=run.rng.randrange(2**32),
                        crash_rate=0.01,
                        slow_rate=0.02,
                        delay=0.005,
                    )
                    run.injectors.append(injector)
                    path = f"m{m}/l{k}/w{j}"
                    refs.append(
                        await leaf.spawn(
                            functools.partial(Counted, run.ledger, injector, tally, path),
                            name=f"w{j}",
                            mailbox=Mailbox(
                                capacity=8,
                                overflow=policies[len(refs) % len(policies)],
                            ),
                        )
                    )

        asks_ended = 0
        asks_started = 0

        async def sender(seed: int) -> None:
            nonlocal asks_ended, asks_started
            rng = run.rng
            deadline = run.now() + seconds
            step = 0
            while run.now() < deadline:
                ref = refs[(seed * 7 + step * 13) % len(refs)]
                step += 1
                if step % 3:
                    await door.tell(ref)
                    continue
                asks_started += 1
                with trio.move_on_after(rng.uniform(0.0, 0.02)):
                    await door.ask(ref, timeout=1.0 if step % 2 else None)
                asks_ended += 1

        start = run.now()
        with trio.move_on_after(seconds + 30) as guard:
            async with trio.open_nursery() as nursery:
                for seed in range(senders):
                    nursery.start_soon(sender, seed)
            await system.wait_until_idle()
        run.expect(not guard.cancelled_caught, "senders or asks never ended")
        run.load_seconds = run.now() - start
        run.expect(asks_ended == asks_started, "an ask never ended")
        silent = 0
        for ref in refs:
            ok, answer = await door.ask(ref, "ping", timeout=5.0)
            silent += not (ok and answer == "pong")
        run.expect(silent == 0, f"{silent} actors did not answer afterwards")
        twice = sum(1 for n in tally.most.values() if n > 1)
        run.expect(twice == 0, f"{twice} actors had two live instances at once")
        restarts = system.statistics().restarts
    unmatched = sum(1 for path in tally.starts if tally.starts[path] != tally.stops[path])
    run.expect(unmatched == 0, f"{unmatched} actors started without stopping")
    run.extra.update(
        incarnations=sum(tally.starts.values()), restarts=restarts, asks=asks_started
    )
