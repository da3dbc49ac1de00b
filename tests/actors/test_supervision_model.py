"""Supervision against a small model of OTP semantics, on random trees and crashes.

Tree: root → middle (random strategy) → leaves (random strategy and
intensity) → workers. Workers crash one at a time; the model says how many
times each worker must have started, given OTP's rules: a supervisor applies
its strategy until more than ``max_restarts`` restarts, then stops its
children and fails to its parent, which applies its own strategy to it; a
restarted supervisor starts every child again and forgets its restart count.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from llmgine.actors import Actor, OneForAll, OneForOne, RestForOne, open_actor_system

STRATEGIES = {"one": OneForOne, "all": OneForAll, "rest": RestForOne}


class Worker(Actor):
    def __init__(self, name: str, starts: dict[str, int]) -> None:
        self.name = name
        self.starts = starts

    async def on_start(self) -> None:
        self.starts[self.name] = self.starts.get(self.name, 0) + 1

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError(self.name)
        return self.name


def affected(strategy: str, names: list[Any], failed: Any) -> list[Any]:
    if strategy == "all":
        return list(names)
    if strategy == "rest":
        return names[names.index(failed) :]
    return [failed]


def model(
    middle: str, leaves: list[tuple[str, int, int]], crashes: list[tuple[int, int]]
) -> dict[str, int]:
    starts = {f"{i}.{j}": 1 for i, (_, _, n) in enumerate(leaves) for j in range(n)}
    counts = [0] * len(leaves)

    def restart_leaf(i: int) -> None:
        counts[i] = 0
        for j in range(leaves[i][2]):
            starts[f"{i}.{j}"] += 1

    for i, j in crashes:
        strategy, max_restarts, n = leaves[i]
        counts[i] += 1
        if counts[i] > max_restarts:  # the leaf gives up: the middle decides
            for k in affected(middle, list(range(len(leaves))), i):
                restart_leaf(k)
            continue
        for k in affected(strategy, list(range(n)), j):
            starts[f"{i}.{k}"] += 1
    return starts


leaf_shapes = st.tuples(
    st.sampled_from(list(STRATEGIES)), st.integers(0, 3), st.integers(1, 3)
)


@st.composite
def trees(draw: Any) -> tuple[str, list[tuple[str, int, int]], list[tuple[int, int]]]:
    middle = draw(st.sampled_from(list(STRATEGIES)))
    leaves = draw(st.lists(leaf_shapes, min_size=1, max_size=3))
    crash = st.integers(0, len(leaves) - 1).flatmap(
        lambda i: st.tuples(st.just(i), st.integers(0, leaves[i][2] - 1))
    )
    return middle, leaves, draw(st.lists(crash, max_size=12))


async def actual(
    middle: str, leaves: list[tuple[str, int, int]], crashes: list[tuple[int, int]]
) -> dict[str, int]:
    starts: dict[str, int] = {}
    async with open_actor_system(
        "app", strategy=OneForOne(max_restarts=10**6, within=1e6)
    ) as system:
        mid = await system.spawn_supervisor(
            "middle", strategy=STRATEGIES[middle](max_restarts=10**6, within=1e6)
        )
        refs = []
        for i, (strategy, max_restarts, n) in enumerate(leaves):
            leaf = await mid.spawn_supervisor(
                f"l{i}",
                strategy=STRATEGIES[strategy](max_restarts=max_restarts, within=1e6),
            )
            refs.append(
                [
                    await leaf.spawn(
                        lambda name=f"{i}.{j}": Worker(name, starts), name=f"w{j}"
                    )
                    for j in range(n)
                ]
            )
        for i, j in crashes:
            await refs[i][j].tell("crash")
            await system.wait_until_idle()
        for row in refs:  # every actor answers afterwards
            for ref in row:
                assert await ref.ask("ping", timeout=5) is not None
    return starts


@settings(max_examples=40, deadline=None)
@given(trees())
def test_supervision_follows_the_otp_model(tree: Any) -> None:
    middle, leaves, crashes = tree
    got = trio.run(
        actual,
        middle,
        leaves,
        crashes,
        clock=trio.testing.MockClock(autojump_threshold=0),
    )
    assert got == model(middle, leaves, crashes)
