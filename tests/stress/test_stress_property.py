"""Property: under random crash schedules and overflow policies, nothing accepted
is lost, and restart intensity is never silently exceeded.
"""

from __future__ import annotations

import functools
from typing import Any

import trio
import trio.testing
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from llmgine.actors import (
    Mailbox,
    OneForOne,
    Overflow,
    SupervisionError,
    open_actor_system,
)
from llmgine.testing import Fault, FaultInjector, InjectedFault
from stress._harness import Door, Job, Ledger
from stress._run import Worker

Event = tuple[bool, float, str, int]  # crash?, gap before, operation, target

events_strategy = st.lists(
    st.tuples(
        st.booleans(),
        st.sampled_from([0.0, 0.0, 0.125, 0.25, 1.0]),
        st.sampled_from(["tell", "nowait", "ask"]),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=30,
)


class Recording(Worker):
    """A worker that notes the virtual time of each (re)start."""

    def __init__(self, ledger: Ledger, injector: FaultInjector, starts: list[float]):
        super().__init__(ledger, injector)
        self.starts = starts

    async def on_start(self) -> None:
        self.starts.append(trio.current_time())


def over_intensity(times: list[float], max_restarts: int, within: float) -> bool:
    """Whether some restart saw more than ``max_restarts`` within ``within`` seconds
    (the runtime's own rule: keep times no more than ``within`` before now)."""
    times = sorted(times)
    return any(
        sum(1 for earlier in times[: i + 1] if now - earlier <= within) > max_restarts
        for i, now in enumerate(times)
    )


async def scenario(
    events: list[Event],
    policy: Overflow,
    capacity: int,
    max_restarts: int,
    within: float,
    actors: int,
) -> tuple[Ledger, Any, bool, list[float], list[list[float]]]:
    ledger = Ledger()
    door = Door(ledger)
    crashes: list[float] = []
    starts: list[list[float]] = [[] for _ in range(actors)]

    def crash_error(fault: Fault, message: object) -> Exception:
        crashes.append(trio.current_time())
        return InjectedFault(fault, message)

    surfaced = False
    holder: list[Any] = []
    try:
        async with open_actor_system(
            "p",
            strategy=OneForOne(max_restarts=max_restarts, within=within),
            shutdown_timeout=0.5,
        ) as system:
            holder.append(system)
            refs = []
            for i in range(actors):
                injector = FaultInjector(
                    crash_on=lambda job: job.payload is True,
                    slow_rate=1.0,
                    delay=0.1,
                    error=crash_error,
                )
                refs.append(
                    await system.spawn(
                        functools.partial(Recording, ledger, injector, starts[i]),
                        name=f"a{i}",
                        mailbox=Mailbox(capacity=capacity, overflow=policy),
                    )
                )
            async with trio.open_nursery() as nursery:
                for crash, gap, op, target in events:
                    if gap:
                        await trio.sleep(gap)
                    ref = refs[target % actors]
                    if op == "tell":
                        await door.tell(ref, crash)
                    elif op == "nowait":
                        door.tell_nowait(ref, crash)
                    else:
                        nursery.start_soon(
                            functools.partial(door.ask, ref, crash, timeout=1.0)
                        )
            await system.wait_until_idle()
    except SupervisionError:
        surfaced = True
    system = holder[0]
    await ledger.collect(system)
    return ledger, system.statistics(), surfaced, crashes, starts


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    events=events_strategy,
    policy=st.sampled_from(list(Overflow)),
    capacity=st.integers(1, 6),
    max_restarts=st.integers(0, 4),
    within=st.sampled_from([0.5, 1.0, 2.0]),
    actors=st.integers(1, 3),
)
def test_nothing_lost_and_intensity_respected(
    events: list[Event],
    policy: Overflow,
    capacity: int,
    max_restarts: int,
    within: float,
    actors: int,
) -> None:
    ledger, stats, surfaced, crashes, starts = trio.run(
        scenario,
        events,
        policy,
        capacity,
        max_restarts,
        within,
        actors,
        clock=trio.testing.MockClock(autojump_threshold=0),
    )
    audit = ledger.audit()
    event(f"surfaced={surfaced}")
    event(f"dead letters: {bool(audit.dead)}, refused: {bool(audit.refused)}")
    assert stats.lost == 0
    assert stats.queued == 0
    assert audit.lost == 0
    assert audit.twice == 0
    assert audit.contradictions == 0
    assert audit.accepted == stats.accepted
    assert audit.processed == stats.processed
    assert sum(1 for e in events if e[0]) >= len(crashes)
    # Intensity: exceeded exactly when the supervisor says so, never silently.
    assert surfaced == over_intensity(crashes, max_restarts, within)
    restarts = [t for per_actor in starts for t in per_actor[1:]]
    if not surfaced:
        assert len(restarts) == len(crashes) == stats.restarts
        assert not over_intensity(restarts, max_restarts, within)


def test_over_intensity_model() -> None:
    assert not over_intensity([], 0, 1.0)
    assert over_intensity([0.0], 0, 1.0)
    assert not over_intensity([0.0, 2.0], 1, 1.0)
    assert over_intensity([0.0, 1.0], 1, 1.0)  # exactly `within` apart still counts
    assert not over_intensity([0.0, 1.5, 3.0], 1, 1.0)


def test_jobs_carry_their_payload() -> None:
    assert Job(1, 0.0, True).payload is True
