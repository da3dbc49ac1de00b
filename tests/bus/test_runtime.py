"""The bus's seam into the runtime: what it relies on below the public API."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError
from llmgine.actors import (
    Actor,
    ActorStopped,
    ActorSystem,
    DeadLetterReason,
    Failure,
    Mailbox,
    MailboxFull,
    Overflow,
    open_actor_system,
)
from llmgine.bus._runtime import pending, refusal


class Swallow(Actor):
    """Answers every told message with Failure, the way the bus's handler actors do."""

    async def receive(self, message: Any) -> Failure:
        return Failure(ValueError(message))


async def test_spawn_nowait_runs_an_actor_before_any_checkpoint(
    system: ActorSystem,
) -> None:
    supervisor = system.spawn_supervisor_nowait("sup")
    ref = supervisor.spawn_nowait(Swallow, name="a", mailbox=Mailbox(capacity=3))
    assert ref.path == "/app/sup/a"
    assert system.lookup(ref.path) is ref
    assert supervisor.children() == [ref.path]
    ref.tell_nowait("x")
    assert pending(ref) == 1
    await system.wait_until_idle()
    assert pending(ref) == 0


async def test_a_told_failure_counts_like_a_failure_without_a_restart(
    system: ActorSystem,
) -> None:
    ref = system.spawn_supervisor_nowait("sup").spawn_nowait(
        Swallow, name="a", mailbox=Mailbox()
    )
    for n in range(3):
        await ref.tell(str(n))
    await system.wait_until_idle()
    stats = ref.statistics()
    assert (stats.accepted, stats.processed, stats.failed, stats.dead_lettered) == (
        3,
        0,
        3,
        3,
    )
    assert stats.restarts == 0
    letters = system.dead_letters.list()
    assert [letter.message for letter in letters] == ["0", "1", "2"]
    assert {letter.reason for letter in letters} == {DeadLetterReason.HANDLER_FAILED}


async def test_refusal_says_what_tell_nowait_would_raise(system: ActorSystem) -> None:
    gate = trio.Event()

    class Blocked(Actor):
        async def receive(self, message: Any) -> None:
            await gate.wait()

    sup = system.spawn_supervisor_nowait("sup")
    refs = {
        overflow: sup.spawn_nowait(
            Blocked,
            name=overflow.value,
            mailbox=Mailbox(capacity=1, overflow=overflow),
        )
        for overflow in Overflow
    }
    for ref in refs.values():
        ref.tell_nowait("busy")
    await trio.testing.wait_all_tasks_blocked()
    for ref in refs.values():
        assert refusal(ref) is None
        ref.tell_nowait("queued")
    assert isinstance(refusal(refs[Overflow.BACKPRESSURE]), MailboxFull)
    assert isinstance(refusal(refs[Overflow.REJECT]), MailboxFull)
    assert refusal(refs[Overflow.DROP_NEWEST]) is None
    assert refusal(refs[Overflow.DROP_OLDEST]) is None
    gate.set()
    await refs[Overflow.REJECT].stop()
    assert isinstance(refusal(refs[Overflow.REJECT]), ActorStopped)


async def test_spawn_nowait_needs_a_running_system() -> None:
    async with open_actor_system("app", tracer=None) as system:
        supervisor = system.spawn_supervisor_nowait("sup")
    with pytest.raises(ConfigurationError, match="not running"):
        supervisor.spawn_nowait(Swallow, name="late", mailbox=Mailbox())
    assert supervisor.children() == []
