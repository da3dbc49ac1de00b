"""tell, ask and stop as a caller uses them."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
import trio.testing

from llmgine.actors import (
    Actor,
    ActorStopped,
    AskTimeout,
    DeadLetterReason,
    Failure,
    Mailbox,
    MailboxFull,
    Overflow,
    open_actor_system,
)


@attrs.frozen
class Incr:
    by: int


@attrs.frozen
class Get:
    pass


@attrs.frozen
class Boom:
    pass


@attrs.frozen
class Refuse:
    pass


@attrs.frozen
class Hang:
    pass


class Counter(Actor):
    starts = 0

    def __init__(self, start: int = 0) -> None:
        self.n = start

    async def on_start(self) -> None:
        Counter.starts += 1

    async def receive(self, message: Any) -> Any:
        match message:
            case Incr(by=by):
                self.n += by
            case Get():
                return self.n
            case Boom():
                raise ValueError("boom")
            case Refuse():
                return Failure(PermissionError("no"))
            case Hang():
                await trio.sleep_forever()
        return None


async def test_ask_returns_what_receive_returned() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Counter, name="counter")
        await ref.tell(Incr(by=2))
        ref.tell_nowait(Incr(by=3))
        assert await ref.ask(Get(), timeout=1.0) == 5
        assert ref.path == "/app/counter"
        assert ref.name == "counter"
        assert repr(ref) == "<ActorRef /app/counter>"


async def test_handler_error_is_raised_in_the_asker_and_the_actor_restarts() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(lambda: Counter(10), name="counter")
        await ref.tell(Incr(by=1))
        with pytest.raises(ValueError, match="boom"):
            await ref.ask(Boom())
        # a restart calls the factory again: fresh state
        assert await ref.ask(Get()) == 10
        stats = ref.statistics()
        assert stats.restarts == 1
        assert stats.failed == 1
        [letter] = system.dead_letters.list()
        assert letter.message == Boom()
        assert letter.reason is DeadLetterReason.HANDLER_FAILED
        assert isinstance(letter.error, ValueError)


async def test_failure_reply_keeps_state_and_does_not_restart() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Counter, name="counter")
        await ref.tell(Incr(by=4))
        with pytest.raises(PermissionError, match="no"):
            await ref.ask(Refuse())
        assert await ref.ask(Get()) == 4
        stats = ref.statistics()
        assert (stats.restarts, stats.processed, stats.failed) == (0, 3, 0)
        assert len(system.dead_letters) == 0


async def test_ask_timeout(autojump_clock: trio.testing.MockClock) -> None:
    async with open_actor_system("app", shutdown_timeout=0.5) as system:
        ref = await system.spawn(Counter, name="counter")
        start = trio.current_time()
        with pytest.raises(AskTimeout, match=r"did not answer within 2\.0s"):
            await ref.ask(Hang(), timeout=2.0)
        assert trio.current_time() - start == pytest.approx(2.0)
        assert isinstance(AskTimeout("x"), TimeoutError)


async def test_ask_waits_for_room_within_its_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_actor_system("app", shutdown_timeout=0.5) as system:
        ref = await system.spawn(Counter, name="c", mailbox=Mailbox(capacity=1))
        await ref.tell(Hang())
        await trio.testing.wait_all_tasks_blocked()
        await ref.tell(Incr(by=1))
        with pytest.raises(AskTimeout, match="no room"):
            await ref.ask(Get(), timeout=1.0)


async def test_ask_on_a_dropping_full_mailbox_raises_mailbox_full() -> None:
    async with open_actor_system("app", shutdown_timeout=0.5) as system:
        ref = await system.spawn(
            Counter, name="c", mailbox=Mailbox(capacity=1, overflow=Overflow.DROP_NEWEST)
        )
        await ref.tell(Hang())
        await trio.testing.wait_all_tasks_blocked()
        await ref.tell(Incr(by=1))
        with pytest.raises(MailboxFull):
            await ref.ask(Get())
        with trio.CancelScope() as scope:
            scope.cancel()


async def test_stop_dead_letters_queued_messages_and_refuses_new_ones() -> None:
    stopped = []

    class Recorder(Counter):
        async def on_stop(self) -> None:
            stopped.append(self.n)

    async with open_actor_system("app") as system:
        ref = await system.spawn(Recorder, name="r")
        await ref.tell(Incr(by=1))
        await system.wait_until_idle()
        await ref.stop()
        assert stopped == [1]
        with pytest.raises(ActorStopped):
            await ref.tell(Incr(by=1))
        with pytest.raises(ActorStopped):
            await ref.ask(Get())
        assert system.lookup("/app/r") is None
        await ref.stop()  # idempotent
        stats = system.statistics()
        assert stats.accepted == stats.processed + stats.dead_lettered + stats.queued


async def test_ask_of_a_message_still_queued_at_stop_gets_actor_stopped() -> None:
    async with open_actor_system("app", shutdown_timeout=0.5) as system:
        gate = trio.Event()

        class Slow(Actor):
            async def receive(self, message: Any) -> Any:
                await gate.wait()
                return message

        ref = await system.spawn(Slow, name="slow")
        await ref.tell("first")
        await trio.testing.wait_all_tasks_blocked()
        errors: list[BaseException] = []

        async def asker() -> None:
            try:
                await ref.ask("second")
            except ActorStopped as exc:
                errors.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(asker)
            await trio.testing.wait_all_tasks_blocked()
            gate.set()
            await ref.stop()
        assert len(errors) == 1


async def test_an_actor_may_stop_itself() -> None:
    class Once(Actor):
        async def receive(self, message: Any) -> Any:
            await self.context.ref.stop()
            return "bye"

    async with open_actor_system("app") as system:
        ref = await system.spawn(Once, name="once")
        assert await ref.ask("hi") == "bye"
        await system.wait_until_idle()
        with pytest.raises(ActorStopped):
            await ref.tell("again")


async def test_statistics_snapshot() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Counter, name="c", mailbox=Mailbox(capacity=7))
        for _ in range(5):
            await ref.tell(Incr(by=1))
        await ref.ask(Get())
        stats = ref.statistics()
        assert stats.capacity == 7
        assert (stats.accepted, stats.processed, stats.queued) == (6, 6, 0)
        assert stats.breaker is None
        assert stats.running


async def test_many_tells_interleave_fairly_with_other_tasks() -> None:
    """A sender never starves other tasks: it checkpoints every few dozen tells."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with open_actor_system("app") as system:
        ref = await system.spawn(Counter, name="c", mailbox=Mailbox(capacity=100_000))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            for _ in range(5000):
                await ref.tell(Incr(by=1))
            nursery.cancel_scope.cancel()
        assert ticks > 10
        assert await ref.ask(Get()) == 5000
