"""Sessions: scoped handlers, fallback to bus-wide ones, clean-up on exit."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError, HandlerError
from llmgine.actors import (
    Actor,
    ActorSystem,
    DeadLetterReason,
    Mailbox,
    MailboxFull,
    Overflow,
)
from llmgine.bus import (
    BusSession,
    Event,
    MessageBus,
    SessionEnded,
    SessionStarted,
)

from .conftest import Add, Boom, Ping


async def test_a_session_publishes_start_and_end_events(bus: MessageBus) -> None:
    seen: list[Event] = []
    bus.register_event_handler(Event, seen.append)  # one actor: FIFO
    async with bus.session() as session:
        assert isinstance(session, BusSession)
        assert len(session.session_id) == 32
        assert session.bus is bus
        assert session.active
        assert bus.statistics().sessions == 1
    await bus.wait_until_idle()
    assert [type(e) for e in seen] == [SessionStarted, SessionEnded]
    assert {e.session_id for e in seen} == {session.session_id}
    assert seen[1].error is None  # type: ignore[attr-defined]
    assert not session.active
    assert "ended" in repr(session)
    assert bus.statistics().sessions == 0


async def test_session_handlers_see_their_session_and_bus_handlers_see_all(
    bus: MessageBus,
) -> None:
    everywhere: list[str] = []
    bus.register_event_handler(Ping, lambda e: everywhere.append(e.session_id))
    async with bus.session("one") as one, bus.session("two") as two:
        mine: dict[str, list[str]] = {"one": [], "two": []}
        one.register_event_handler(Ping, lambda e: mine["one"].append(e.session_id))
        two.register_event_handler(Ping, lambda e: mine["two"].append(e.session_id))
        await one.publish(Ping())
        two.publish_nowait(Ping())
        await bus.publish(Ping())  # bus-wide: session handlers do not see it
        await bus.publish(Ping(session_id="elsewhere"))
        await bus.wait_until_idle()
        assert mine == {"one": ["one"], "two": ["two"]}
    assert sorted(everywhere) == ["BUS", "elsewhere", "one", "two"]


async def test_commands_prefer_the_session_handler_and_fall_back_to_the_bus(
    bus: MessageBus,
) -> None:
    bus.register_command_handler(Add, lambda c: f"bus:{c.session_id}")
    async with bus.session("s1") as s1, bus.session("s2") as s2:
        s1.register_command_handler(Add, lambda c: f"s1:{c.session_id}")
        assert (await s1.execute(Add(a=0, b=0))).result == "s1:s1"
        assert (await s2.execute(Add(a=0, b=0))).result == "bus:s2"
        result = await bus.execute(Add(a=0, b=0, session_id="s1"))
        assert (result.result, result.session_id) == ("s1:s1", "s1")
    assert (await bus.execute(Add(a=0, b=0, session_id="s1"))).result == "bus:s1"


async def test_leaving_a_session_removes_its_handlers_and_stops_their_actors(
    system: ActorSystem, bus: MessageBus
) -> None:
    handled: list[int] = []
    async with bus.session() as session:
        ref = session.register_event_handler(Ping, lambda e: handled.append(e.n))
        session.register_command_handler(Add, lambda c: 0)
        for n in range(20):
            await session.publish(Ping(n=n))
    assert handled == list(range(20))  # a clean exit lets them finish first
    assert system.lookup(ref.path) is None
    stats = bus.statistics()
    assert (stats.event_handlers, stats.command_handlers) == (0, 0)
    assert (
        await bus.execute(Add(a=0, b=0, session_id=session.session_id))
    ).success is False


async def test_an_error_in_the_block_stops_the_handlers_at_once(
    system: ActorSystem, bus: MessageBus, autojump_clock: trio.testing.MockClock
) -> None:
    gate = trio.Event()
    ended: list[SessionEnded] = []
    bus.register_event_handler(SessionEnded, ended.append)

    async def slow(event: Ping) -> None:
        await gate.wait()

    with pytest.raises(Boom):
        async with bus.session() as session:
            session.register_event_handler(Ping, slow)
            for n in range(3):
                await session.publish(Ping(n=n))
            await trio.testing.wait_all_tasks_blocked()
            raise Boom("bad turn")
    await bus.wait_until_idle()
    assert [e.error for e in ended] == ["Boom: bad turn"]
    # The queued events were not lost: they are dead letters.
    letters = system.dead_letters.list()
    assert sorted(letter.message.n for letter in letters) == [0, 1, 2]
    assert {letter.reason for letter in letters} == {DeadLetterReason.ACTOR_STOPPED}
    assert system.statistics().lost == 0


async def test_a_cancelled_session_still_cleans_up(
    system: ActorSystem, bus: MessageBus
) -> None:
    ended: list[SessionEnded] = []
    bus.register_event_handler(SessionEnded, ended.append)
    with trio.move_on_after(0) as scope:
        async with bus.session("doomed") as session:
            session.register_event_handler(Ping, lambda e: None)
            await trio.sleep_forever()
    assert scope.cancelled_caught
    await bus.wait_until_idle()
    assert [str(e.error).split(":")[0] for e in ended] == ["Cancelled"]
    assert bus.statistics().event_handlers == 1  # only the bus-wide one


async def test_a_clean_exit_waits_only_so_long_for_busy_handlers(
    system: ActorSystem, bus: MessageBus, autojump_clock: trio.testing.MockClock
) -> None:
    async def stuck(event: Ping) -> None:
        await trio.sleep_forever()

    start = trio.current_time()
    async with bus.session() as session:
        session.register_event_handler(Ping, stuck)
        await session.publish(Ping())
    # Drain for the shutdown timeout, then the actor gets as long again to stop.
    assert trio.current_time() - start == pytest.approx(2 * system.shutdown_timeout)
    [letter] = system.dead_letters.list()
    assert letter.reason is DeadLetterReason.ACTOR_STOPPED


async def test_session_ids_are_checked(bus: MessageBus) -> None:
    async with bus.session("taken"):
        with pytest.raises(ConfigurationError, match="already open"):
            async with bus.session("taken"):
                pass  # pragma: no cover
    with pytest.raises(ConfigurationError, match="other than 'BUS'"):
        async with bus.session("BUS"):
            pass  # pragma: no cover
    with pytest.raises(ConfigurationError, match="non-empty str"):
        async with bus.session(""):
            pass  # pragma: no cover


async def test_an_ended_session_refuses_work(bus: MessageBus) -> None:
    async with bus.session() as session:
        pass
    with pytest.raises(HandlerError, match="has ended"):
        session.register_event_handler(Ping, lambda e: None)
    with pytest.raises(HandlerError, match="has ended"):
        session.register_command_handler(Add, lambda c: None)
    with pytest.raises(HandlerError, match="has ended"):
        await session.publish(Ping())
    with pytest.raises(HandlerError, match="has ended"):
        session.publish_nowait(Ping())
    with pytest.raises(HandlerError, match="has ended"):
        await session.execute(Add(a=0, b=0))


async def test_no_registration_in_a_session_while_it_ends(bus: MessageBus) -> None:
    errors: list[Exception] = []

    async def register_late(event: Ping) -> None:
        try:
            bus.register_event_handler(Ping, lambda e: None, session_id="s")
        except HandlerError as exc:
            errors.append(exc)

    async with bus.session("s") as session:
        session.register_event_handler(Ping, register_late)
        await session.publish(Ping())
        session._active = False  # as while the block exits
        await session.wait_until_idle()
        session._active = True
    assert "is ending" in str(errors[0])


async def test_session_unregistering_and_waiting(bus: MessageBus) -> None:
    async with bus.session() as session:
        seen: list[int] = []

        def handler(event: Ping) -> None:
            seen.append(event.n)

        session.register_event_handler(Ping, handler)
        session.register_command_handler(Add, lambda c: 0)
        await session.publish(Ping(n=1))
        await session.wait_until_idle()
        session.unregister_event_handler(Ping, handler)
        session.unregister_command_handler(Add)
        await session.publish(Ping(n=2))
        await session.wait_until_idle()
        assert seen == [1]


async def test_the_failure_of_start_leaves_no_session(bus: MessageBus) -> None:
    gate = trio.Event()

    async def blocked(event: SessionStarted) -> None:
        await gate.wait()

    bus.register_event_handler(
        SessionStarted, blocked, mailbox=Mailbox(capacity=1, overflow=Overflow.REJECT)
    )
    async with bus.session():
        await trio.testing.wait_all_tasks_blocked()
        async with bus.session():  # fills the mailbox
            with pytest.raises(MailboxFull):
                async with bus.session("third"):
                    pass  # pragma: no cover
            assert "third" not in bus._sessions
    gate.set()


async def test_actor_ref_handlers_outlive_the_session(
    system: ActorSystem, bus: MessageBus
) -> None:
    seen: list[object] = []

    class Keeper(Actor):
        async def receive(self, message: object) -> object:
            seen.append(message)
            return "kept"

    ref = await system.spawn(Keeper, name="keeper")
    async with bus.session("s") as session:
        session.register_event_handler(Ping, ref)
        session.register_command_handler(Add, ref)
        await session.publish(Ping(session_id="s"))
        result = await session.execute(Add(a=1, b=1, session_id="s"))
        assert result.result == "kept"
    assert bus.statistics().event_handlers == 0
    assert system.lookup(ref.path) is ref  # the bus does not stop what it did not start
    assert (await ref.ask("still here")) == "kept"
