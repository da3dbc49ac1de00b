"""Liveness of supervision trees: every child of a running supervisor runs."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from llmgine.actors import Actor, OneForAll, OneForOne, open_actor_system


class Sleepy(Actor):
    """Crashes on "crash", sleeps a second on "busy", answers its name otherwise."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError(f"{self.name} crashed")
        if message == "busy":
            await trio.sleep(1.0)
        return self.name


async def test_a_leaf_giving_up_while_its_middle_restarts_it_leaves_no_child_down(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # mid (OneForAll) -> leaf (OneForAll, gives up at once): a, b
    #                 -> other (OneForOne, gives up at once): x
    # a crashes while b is busy: leaf gives up and its halt waits for b. x
    # crashes: other gives up and mid restarts both subtrees, its halt of leaf
    # waiting for b as well. When b ends, both halts go on in one scheduling
    # batch, in either order (hence the rounds); mid's goes on to start leaf
    # again without yielding. The leaf's own halt, superseded, must not then
    # stop the children mid has just started: nothing would start them again.
    for _ in range(20):
        async with open_actor_system(
            "app", strategy=OneForOne(max_restarts=1000)
        ) as system:
            mid = await system.spawn_supervisor(
                "mid", strategy=OneForAll(max_restarts=1000)
            )
            once = {"max_restarts": 0}
            leaf = await mid.spawn_supervisor("leaf", strategy=OneForAll(**once))
            other = await mid.spawn_supervisor("other", strategy=OneForOne(**once))
            a = await leaf.spawn(Sleepy, "a", name="a")
            b = await leaf.spawn(Sleepy, "b", name="b")
            x = await other.spawn(Sleepy, "x", name="x")
            await b.tell("busy")
            await trio.testing.wait_all_tasks_blocked()
            await a.tell("crash")  # leaf gives up: its halt waits for b
            await trio.testing.wait_all_tasks_blocked()
            await x.tell("crash")  # mid restarts leaf too: its halt waits for b
            await trio.testing.wait_all_tasks_blocked()
            await trio.sleep(2.0)  # b ends its message; both halts go on
            await trio.testing.wait_all_tasks_blocked()
            for ref in (a, b, x):
                assert ref.statistics().running, f"{ref.path} was left down"
                assert await ref.ask("hi", timeout=1.0) == ref.name
            await system.wait_until_idle()
