"""One incarnation at a time, however supervisors nest and failures race."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Any

import pytest
import trio
import trio.testing

from llmgine.actors import (
    Actor,
    Mailbox,
    OneForAll,
    OneForOne,
    RestForOne,
    SupervisionError,
    open_actor_system,
)


class Lives:
    """Counts live instances and hook calls per actor name."""

    def __init__(self) -> None:
        self.live: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.starts: Counter[str] = Counter()
        self.stops: Counter[str] = Counter()

    def check(self) -> None:
        assert all(n <= 1 for n in self.most.values()), dict(self.most)
        assert all(n >= 0 for n in self.live.values()), dict(self.live)


class Tracked(Actor):
    """Crashes on "crash", sleeps on ("sleep", s), answers anything else."""

    def __init__(self, name: str, lives: Lives, busy: float = 0.0) -> None:
        self.name = name
        self.lives = lives
        self.busy = busy

    async def on_start(self) -> None:
        lives = self.lives
        lives.starts[self.name] += 1
        lives.live[self.name] += 1
        lives.most[self.name] = max(lives.most[self.name], lives.live[self.name])
        # Incarnations alternate strictly: a start follows a stop.
        assert lives.starts[self.name] == lives.stops[self.name] + 1

    async def on_stop(self) -> None:
        self.lives.stops[self.name] += 1
        self.lives.live[self.name] -= 1

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError(f"{self.name} crashed")
        if message == "busy":
            await trio.sleep(self.busy)
        return self.name


async def test_racing_restarts_in_a_nested_tree_keep_one_incarnation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # root -> mid (OneForAll) -> [esc (OneForOne, 0 restarts): e0;
    #                             slow: s0 busy 0.6 s; busy (OneForAll): b0, b1, b2]
    lives = Lives()
    async with open_actor_system("app") as system:
        mid = await system.spawn_supervisor("mid", strategy=OneForAll())
        esc = await mid.spawn_supervisor("esc", strategy=OneForOne(max_restarts=0))
        slow = await mid.spawn_supervisor("slow")
        busy = await mid.spawn_supervisor("busy", strategy=OneForAll())
        e0 = await esc.spawn(lambda: Tracked("e0", lives), name="e0")
        s0 = await slow.spawn(lambda: Tracked("s0", lives, 0.6), name="s0")
        b = [
            await busy.spawn(
                lambda n=n: Tracked(f"b{n}", lives, 0.0 if n == 0 else 0.3),
                name=f"b{n}",
            )
            for n in range(3)
        ]
        await s0.tell("busy")
        await b[1].tell("busy")
        await b[2].tell("busy")
        await trio.testing.wait_all_tasks_blocked()
        # Both crash at the same moment: busy restarts its children (waiting
        # for b1/b2) while esc gives up and mid restarts everything.
        b[0].tell_nowait("crash")
        e0.tell_nowait("crash")
        await system.wait_until_idle()
        lives.check()
        for ref in [e0, s0, *b]:
            assert await ref.ask("hi", timeout=5) == ref.name
        # A later subtree restart completes too.
        await b[0].tell("crash")
        await system.wait_until_idle()
        for ref in [e0, s0, *b]:
            assert await ref.ask("hi", timeout=5) == ref.name
        lives.check()
    lives.check()
    # Every incarnation that started was stopped.
    assert lives.starts == lives.stops


async def test_escalating_leaves_under_one_for_all_middles_never_hang(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lives = Lives()
    leaves = []
    async with open_actor_system(
        "app", strategy=OneForOne(max_restarts=1000, within=1.0)
    ) as system:
        for m in range(2):
            mid = await system.spawn_supervisor(
                f"m{m}", strategy=OneForAll(max_restarts=1000, within=1.0)
            )
            for k, strategy in enumerate((OneForAll, RestForOne)):
                leaf = await mid.spawn_supervisor(
                    f"l{k}", strategy=strategy(max_restarts=3, within=1.0)
                )
                for i in range(3):
                    name = f"m{m}l{k}a{i}"
                    leaves.append(
                        await leaf.spawn(
                            lambda name=name: Tracked(name, lives, 0.05),
                            name=f"a{i}",
                            mailbox=Mailbox(capacity=4),
                        )
                    )

        async def sender(seed: int) -> None:
            for step in range(150):
                ref = leaves[(seed * 7 + step * 13) % len(leaves)]
                kind = (seed + step) % 50
                message = "crash" if kind == 0 else "busy" if kind < 3 else "x"
                if step % 2:
                    await ref.tell(message)
                else:
                    with contextlib.suppress(RuntimeError):
                        await ref.ask(message)

        async with trio.open_nursery() as nursery:
            for seed in range(4):
                nursery.start_soon(sender, seed)
        await system.wait_until_idle()
        lives.check()
        for ref in leaves:  # every actor answers afterwards
            m, leaf, name = ref.path.split("/")[2:]
            assert await ref.ask("x", timeout=5) == f"{m}{leaf}{name}"
        stats = system.statistics()
        assert stats.lost == 0
    assert lives.starts == lives.stops
    lives.check()


async def test_a_subtree_that_gives_up_escalates_to_the_root(
    autojump_clock: trio.testing.MockClock,
) -> None:
    lives = Lives()
    with pytest.raises(SupervisionError, match="gave up"):
        async with open_actor_system("app", strategy=OneForOne(max_restarts=0)) as system:
            mid = await system.spawn_supervisor("mid", strategy=OneForAll(max_restarts=0))
            leaf = await mid.spawn_supervisor("leaf", strategy=RestForOne(max_restarts=0))
            a = await leaf.spawn(lambda: Tracked("a", lives), name="a")
            await leaf.spawn(lambda: Tracked("b", lives, 1.0), name="b")
            await a.tell("crash")
            await trio.sleep_forever()
    assert lives.starts == lives.stops
    lives.check()


class Armed(Actor):
    """On "arm", starts background work that fails when ``fire`` is set."""

    def __init__(self, fire: trio.Event, handled: list[object]) -> None:
        self.fire = fire
        self.handled = handled

    async def receive(self, message: Any) -> Any:
        if message == "arm":
            self.context.start_soon(self._fail)
        else:
            self.handled.append(message)
        return None

    async def _fail(self) -> None:
        await self.fire.wait()
        raise RuntimeError("background work failed")


async def test_a_parked_actor_cancelled_and_told_in_one_tick_is_woken_once() -> None:
    # Background work fails (cancelling the parked message loop) and a sender
    # pushes to the same mailbox in the same scheduling batch, in either order:
    # the loop is rescheduled once, restarts, and the message is handled.
    for round_ in range(20):
        fire = trio.Event()
        handled: list[object] = []
        async with open_actor_system("app") as system:
            ref = await system.spawn(Armed, fire, handled, name="armed")
            await ref.ask("arm")
            await trio.testing.wait_all_tasks_blocked()

            async def tell_on_fire(fire: trio.Event, ref: Any, message: int) -> None:
                await fire.wait()
                ref.tell_nowait(message)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(tell_on_fire, fire, ref, round_)
                await trio.testing.wait_all_tasks_blocked()
                fire.set()
            await system.wait_until_idle()
            assert handled == [round_]
            stats = ref.statistics()
            assert (stats.restarts, stats.accepted, stats.processed) == (1, 2, 2)
