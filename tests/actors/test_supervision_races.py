"""Supervision trees under overlapping failures: every actor runs afterwards.

``test_supervision_model`` checks OTP's restart arithmetic one crash at a
time. Here crashes come while other workers are busy in slow handlers and
while supervisors are still stopping or restarting children, so a leaf's give
up, its parent's restart of it and its siblings' restarts overlap. Checked
afterwards: every actor answers, no actor ever had two live
incarnations, and every incarnation started was stopped or is the live one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from llmgine.actors import (
    Actor,
    Backoff,
    OneForAll,
    OneForOne,
    RestForOne,
    open_actor_system,
)

STRATEGIES: dict[str, type[OneForOne | OneForAll | RestForOne]] = {
    "one": OneForOne,
    "all": OneForAll,
    "rest": RestForOne,
}


class Tally:
    def __init__(self) -> None:
        self.live: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.starts: Counter[str] = Counter()
        self.stops: Counter[str] = Counter()


class Worker(Actor):
    """Crashes on "crash", works ``seconds`` on a float, answers its name."""

    def __init__(self, name: str, tally: Tally) -> None:
        self.name = name
        self.tally = tally

    async def on_start(self) -> None:
        tally = self.tally
        tally.starts[self.name] += 1
        tally.live[self.name] += 1
        tally.most[self.name] = max(tally.most[self.name], tally.live[self.name])

    async def on_stop(self) -> None:
        self.tally.stops[self.name] += 1
        self.tally.live[self.name] -= 1

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError(self.name)
        if isinstance(message, float):
            await trio.sleep(message)
        return self.name


Shape = tuple[str, list[tuple[str, int, int]]]
Step = tuple[int, int, str, float]

leaf_shapes = st.tuples(
    st.sampled_from(list(STRATEGIES)), st.integers(0, 2), st.integers(1, 3)
)


@st.composite
def scenarios(draw: Any) -> tuple[Shape, list[Step]]:
    middle = draw(st.sampled_from(list(STRATEGIES)))
    leaves = draw(st.lists(leaf_shapes, min_size=2, max_size=3))
    step = st.integers(0, len(leaves) - 1).flatmap(
        lambda i: st.tuples(
            st.just(i),
            st.integers(0, leaves[i][2] - 1),
            st.sampled_from(["crash", "crash", "busy"]),
            st.sampled_from([0.0, 0.0, 0.001]),
        )
    )
    return (middle, leaves), draw(st.lists(step, min_size=1, max_size=14))


async def run(shape: Shape, steps: list[Step]) -> Tally:
    middle, leaves = shape
    tally = Tally()
    async with open_actor_system(
        "app", strategy=OneForOne(max_restarts=10**6, within=1e6)
    ) as system:
        mid = await system.spawn_supervisor(
            "middle",
            strategy=STRATEGIES[middle](
                max_restarts=10**6,
                within=1e6,
                backoff=Backoff(initial=0.001, maximum=0.004),
            ),
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
                        lambda name=f"{i}.{j}": Worker(name, tally), name=f"w{j}"
                    )
                    for j in range(n)
                ]
            )
        for i, j, what, pause in steps:
            ref = refs[i][j]
            ref.tell_nowait("crash" if what == "crash" else 0.05)
            await trio.sleep(pause)
        await trio.sleep(1.0)  # past every backoff and slow handler
        await system.wait_until_idle()
        for row in refs:
            for ref in row:
                assert ref.statistics().running, f"{ref.path} was left down"
                assert await ref.ask("ping", timeout=5) is not None, ref.path
    return tally


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_overlapping_failures_leave_every_actor_running(
    scenario: tuple[Shape, list[Step]],
) -> None:
    shape, steps = scenario
    tally = trio.run(
        run, shape, steps, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    assert all(n == 1 for n in tally.most.values()), "two live incarnations at once"
    assert tally.starts == tally.stops, "an incarnation started and never stopped"
