"""Whatever is published and however handlers fail, no event is ever lost."""

from __future__ import annotations

from collections import Counter

import attrs
import trio
import trio.testing
from hypothesis import event, given, settings
from hypothesis import strategies as st

from llmgine.actors import (
    DeadLetterReason,
    Mailbox,
    MailboxFull,
    Overflow,
    Priority,
    open_actor_system,
)
from llmgine.bus import Event, MessageBus


@attrs.frozen(kw_only=True)
class Job(Event):
    n: int
    fails_for: frozenset[int] = frozenset()


class Failed(Exception):
    pass


handler_configs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=4),  # mailbox capacity
        st.sampled_from(
            [Overflow.BACKPRESSURE, Overflow.DROP_NEWEST, Overflow.DROP_OLDEST]
        ),
        st.booleans(),  # async handler that yields while it works
    ),
    min_size=1,
    max_size=3,
)
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("publish"),
            st.frozensets(st.integers(min_value=0, max_value=2), max_size=3),
            st.sampled_from([None, Priority.HIGH, Priority.NORMAL, Priority.LOW]),
            st.booleans(),  # publish_nowait
        ),
        st.just(("settle",)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(configs=handler_configs, ops=operations)
def test_every_event_is_handled_or_dead_lettered(
    configs: list[tuple[int, Overflow, bool]], ops: list[tuple[object, ...]]
) -> None:
    async def scenario() -> None:
        async with open_actor_system("app", tracer=None) as system:
            bus = MessageBus(system)
            handled: list[list[int]] = [[] for _ in configs]
            refs = []
            for i, (capacity, overflow, yields) in enumerate(configs):

                async def handler(event: Job, i: int = i, yields: bool = yields) -> None:
                    if yields:
                        await trio.lowlevel.checkpoint()
                    if i in event.fails_for:
                        raise Failed(event.n)
                    handled[i].append(event.n)

                refs.append(
                    bus.register_event_handler(
                        Job,
                        handler,
                        mailbox=Mailbox(capacity=capacity, overflow=overflow),
                    )
                )
            accepted: list[Job] = []
            for n, op in enumerate(ops):
                if op[0] == "settle":
                    await trio.testing.wait_all_tasks_blocked()
                    continue
                _, fails_for, priority, nowait = op
                job = Job(n=n, fails_for=fails_for, priority=priority)  # type: ignore[arg-type]
                if nowait:
                    try:
                        bus.publish_nowait(job)
                    except MailboxFull:
                        event("publish_nowait refused")
                        continue  # refused by all: never accepted
                else:
                    await bus.publish(job)
                accepted.append(job)
            await bus.wait_until_idle()

            stats = system.statistics()
            assert stats.queued == 0
            assert stats.accepted == stats.processed + stats.dead_lettered
            assert stats.accepted == len(accepted) * len(configs)
            assert stats.dead_lettered == system.dead_letters.count
            letters = system.dead_letters.list()
            for i, ref in enumerate(refs):
                mine = [letter for letter in letters if letter.recipient == ref.path]
                dead = Counter(letter.message.n for letter in mine)
                done = Counter(handled[i])
                # Every accepted event exactly once: handled or dead-lettered.
                assert done + dead == Counter(job.n for job in accepted)
                assert not set(done) & set(dead)
                failed = {
                    letter.message.n
                    for letter in mine
                    if letter.reason is DeadLetterReason.HANDLER_FAILED
                }
                dropped = {
                    letter.message.n
                    for letter in mine
                    if letter.reason is not DeadLetterReason.HANDLER_FAILED
                }
                expected_failures = {
                    job.n for job in accepted if i in job.fails_for
                } - dropped
                assert failed == expected_failures
                assert ref.statistics().failed == len(failed)
            reasons = Counter(letter.reason for letter in letters)
            failures = reasons[DeadLetterReason.HANDLER_FAILED]
            assert bus.statistics().event_failures == failures
            for reason in reasons:
                event(f"dead letters: {reason.value}")
            assert stats.restarts == 0

    trio.run(scenario)
