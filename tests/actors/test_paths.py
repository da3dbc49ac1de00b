"""The inlined fast paths of tell, ask and dispatch equal the reference paths.

``ActorSystem.reference_paths`` makes every actor admit and settle through
:meth:`Cell.offer` and :meth:`Cell.settle` only; any sequence of sends must
then give the same answers, errors, counters and dead letters as the fast paths.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from llmgine.actors import (
    Actor,
    Failure,
    Mailbox,
    OneForOne,
    Overflow,
    Priority,
    open_actor_system,
)


class Mixed(Actor):
    """Answers by the message: fail, crash, defer, block, or echo."""

    async def receive(self, message: Any) -> Any:
        if message == "block":
            await trio.sleep(1.1)  # never when an ask times out (multiples of 0.25)
            return message
        if message % 7 == 0:
            raise ValueError(f"crash {message}")
        if message % 5 == 0:
            return Failure(KeyError(message))
        if message % 3 == 0:
            deferred = self.context.defer()
            deferred.resolve(message if message % 2 else Failure(KeyError(message)))
            return deferred
        return message


ops = st.lists(
    st.tuples(
        st.sampled_from(["tell", "tell_nowait", "ask", "ask_timeout", "idle"]),
        st.integers(1, 60),
        st.sampled_from([Priority.HIGH, Priority.NORMAL, Priority.LOW]),
    ),
    max_size=40,
)


async def transcript(
    reference: bool, capacity: int, overflow: Overflow, steps: list[Any]
) -> list[Any]:
    seen: list[Any] = []
    async with open_actor_system("app", strategy=OneForOne(max_restarts=10**6)) as system:
        system.reference_paths = reference
        ref = await system.spawn(
            Mixed, name="m", mailbox=Mailbox(capacity=capacity, overflow=overflow)
        )
        await ref.tell("block")  # the first messages queue up behind it
        for op, message, priority in steps:
            try:
                if op == "tell":
                    await ref.tell(message, priority=priority)
                    seen.append("ok")
                elif op == "tell_nowait":
                    ref.tell_nowait(message, priority=priority)
                    seen.append("ok")
                elif op == "ask":
                    seen.append(await ref.ask(message, priority=priority))
                elif op == "ask_timeout":
                    seen.append(await ref.ask(message, timeout=0.25, priority=priority))
                else:
                    await system.wait_until_idle()
                    seen.append("idle")
            except Exception as exc:
                seen.append(type(exc).__name__)
        await system.wait_until_idle()
        stats = ref.statistics()
        seen.append(attrs_tuple(stats))
        seen.append([(x.message, x.reason) for x in system.dead_letters.list()])
    return seen


def attrs_tuple(stats: Any) -> tuple[int, ...]:
    return (
        stats.accepted,
        stats.processed,
        stats.cancelled,
        stats.failed,
        stats.dead_lettered,
        stats.queued,
        stats.restarts,
    )


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 4),
    overflow=st.sampled_from(list(Overflow)),
    steps=ops,
)
def test_fast_paths_equal_the_reference(
    capacity: int, overflow: Overflow, steps: list[Any]
) -> None:
    def run(reference: bool) -> list[Any]:
        return trio.run(
            transcript,
            reference,
            capacity,
            overflow,
            steps,
            clock=trio.testing.MockClock(autojump_threshold=0),
        )

    fast = run(False)
    assert fast == run(True)
    *_, stats, _letters = fast
    accepted, processed, _, _, dead, queued, _ = stats
    assert accepted == processed + dead + queued
