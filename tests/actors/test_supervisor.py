"""Supervision trees: strategies, restart types, intensity, backoff, escalation."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from llmgine._exceptions import ConfigurationError
from llmgine.actors import (
    Actor,
    ActorStopped,
    Backoff,
    Mailbox,
    OneForAll,
    OneForOne,
    Restart,
    RestForOne,
    SupervisionError,
    open_actor_system,
)


class Worker(Actor):
    """Crashes on "crash", exits normally on "exit", counts its incarnations."""

    incarnations: dict[str, int]

    def __init__(self, name: str, log: dict[str, int]) -> None:
        self.name = name
        self.log = log
        self.seen = 0

    async def on_start(self) -> None:
        self.log[self.name] = self.log.get(self.name, 0) + 1

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError(f"{self.name} crashed")
        if message == "exit":
            self.context.stop()
            return None
        self.seen += 1
        return self.seen


async def _tree(system: Any, strategy: Any, log: dict[str, int]) -> list[Any]:
    sup = await system.spawn_supervisor("sup", strategy=strategy)
    refs = [await sup.spawn(lambda n=n: Worker(n, log), name=n) for n in "abc"]
    await system.wait_until_idle()
    return refs


@pytest.mark.parametrize(
    ("strategy", "restarted"),
    [
        (OneForOne(), {"a": 1, "b": 2, "c": 1}),
        (OneForAll(), {"a": 2, "b": 2, "c": 2}),
        (RestForOne(), {"a": 1, "b": 2, "c": 2}),
    ],
)
async def test_strategies_restart_the_right_children(
    strategy: Any, restarted: dict[str, int]
) -> None:
    log: dict[str, int] = {}
    async with open_actor_system("app") as system:
        a, b, _c = await _tree(system, strategy, log)
        await a.tell(1)
        await b.tell("crash")
        await system.wait_until_idle()
        assert log == restarted
        # refs stay valid across restarts at every level
        assert await b.ask("x") == 1
        assert await a.ask("x") == (1 if restarted["a"] == 2 else 2)


async def test_restart_keeps_queued_messages() -> None:
    log: dict[str, int] = {}
    async with open_actor_system("app") as system:
        sup = await system.spawn_supervisor("sup")
        ref = await sup.spawn(lambda: Worker("w", log), name="w")
        await ref.tell("crash")
        for _ in range(5):
            await ref.tell("work")
        assert await ref.ask("work") == 6
        stats = ref.statistics()
        assert (stats.restarts, stats.processed, stats.dead_lettered) == (1, 6, 1)


async def test_restart_types() -> None:
    log: dict[str, int] = {}
    async with open_actor_system("app") as system:
        perm = await system.spawn(lambda: Worker("p", log), name="p")
        trans = await system.spawn(
            lambda: Worker("t", log), name="t", restart=Restart.TRANSIENT
        )
        temp = await system.spawn(
            lambda: Worker("x", log), name="x", restart=Restart.TEMPORARY
        )
        for ref in (perm, trans, temp):
            await ref.tell("exit")
        await system.wait_until_idle()
        # a normal exit restarts only a permanent child, as in OTP
        assert log == {"p": 2, "t": 1, "x": 1}
        assert await perm.ask("hi") == 1
        with pytest.raises(ActorStopped):
            await trans.tell("hi")
        # a transient child is restarted after an error; a temporary one never
        trans2 = await system.spawn(
            lambda: Worker("t2", log), name="t2", restart=Restart.TRANSIENT
        )
        temp2 = await system.spawn(
            lambda: Worker("x2", log), name="x2", restart=Restart.TEMPORARY
        )
        await trans2.tell("crash")
        await temp2.tell("crash")
        await system.wait_until_idle()
        assert await trans2.ask("hi") == 1
        with pytest.raises(ActorStopped):
            await temp2.tell("hi")


async def test_intensity_exhaustion_escalates_and_the_parent_restarts_the_subtree() -> (
    None
):
    log: dict[str, int] = {}
    async with open_actor_system("app") as system:
        sup = await system.spawn_supervisor(
            "sup", strategy=OneForOne(max_restarts=2, within=10.0)
        )
        a = await sup.spawn(lambda: Worker("a", log), name="a")
        b = await sup.spawn(lambda: Worker("b", log), name="b")
        await b.tell("work")
        for _ in range(3):
            await a.tell("crash")
        await system.wait_until_idle()
        # two restarts of a, then the third failure exhausted "sup": the root
        # restarted the whole subtree (b included), with the same refs
        assert log["a"] == 4
        assert log["b"] == 2
        assert sup.restarts == 1
        assert await b.ask("x") == 1


async def test_root_failure_leaves_the_system_with_a_supervision_error() -> None:
    log: dict[str, int] = {}
    with pytest.raises(SupervisionError, match="gave up") as info:
        async with open_actor_system(
            "app", strategy=OneForOne(max_restarts=1, within=10.0)
        ) as system:
            ref = await system.spawn(lambda: Worker("w", log), name="w")
            await ref.tell("crash")
            await ref.tell("crash")
            await trio.sleep_forever()
    assert isinstance(info.value.__cause__, RuntimeError)


async def test_escalation_through_nested_supervisors() -> None:
    log: dict[str, int] = {}
    with pytest.raises(SupervisionError) as info:
        async with open_actor_system(
            "app", strategy=OneForOne(max_restarts=0, within=1.0)
        ) as system:
            outer = await system.spawn_supervisor(
                "outer", strategy=OneForOne(max_restarts=0, within=1.0)
            )
            inner = await outer.spawn_supervisor(
                "inner", strategy=OneForOne(max_restarts=0, within=1.0)
            )
            assert inner.path == "/app/outer/inner"
            assert outer.children() == ["/app/outer/inner"]
            ref = await inner.spawn(lambda: Worker("w", log), name="w")
            assert system.lookup("/app/outer/inner/w") is ref
            await ref.tell("crash")
            await trio.sleep_forever()
    # the chain of causes leads back to the worker's own error
    cause: BaseException | None = info.value
    chain = []
    while cause is not None:
        chain.append(type(cause).__name__)
        cause = cause.__cause__
    assert chain == [
        "SupervisionError",
        "SupervisionError",
        "SupervisionError",
        "RuntimeError",
    ]


async def test_backoff_waits_between_restarts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: dict[str, int] = {}
    starts: list[float] = []

    class Timed(Worker):
        async def on_start(self) -> None:
            starts.append(trio.current_time())

    async with open_actor_system("app") as system:
        sup = await system.spawn_supervisor(
            "sup",
            strategy=OneForOne(
                max_restarts=5,
                within=100.0,
                backoff=Backoff(initial=1.0, maximum=3.0, multiplier=2.0),
            ),
        )
        ref = await sup.spawn(lambda: Timed("w", log), name="w")
        for _ in range(4):
            await ref.ask("x")
            with pytest.raises(RuntimeError):
                await ref.ask("crash")
        await ref.ask("x")
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(starts)]
    assert gaps == [1.0, 2.0, 3.0, 3.0]


def test_backoff_delay_formula() -> None:
    backoff = Backoff(initial=0.05, maximum=5.0)
    assert [backoff.delay(n) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert backoff.delay(100) == 5.0
    with pytest.raises(ConfigurationError, match="'initial' must be a number >= 0"):
        Backoff(initial=-1)


@given(
    initial=st.floats(0, 100),
    maximum=st.floats(0, 1e6),
    multiplier=st.floats(0, 1e3),
    attempt=st.integers(1, 10**7),
)
def test_a_backoff_delay_is_never_past_its_cap_however_many_restarts(
    initial: float, maximum: float, multiplier: float, attempt: int
) -> None:
    # a child restarted thousands of times must not overflow the supervisor
    delay = Backoff(initial=initial, maximum=maximum, multiplier=multiplier).delay(
        attempt
    )
    assert 0.0 <= delay <= maximum


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_restarts": -1}, "'max_restarts' must be an int >= 0"),
        ({"within": 0}, "'within' must be a positive number"),
    ],
)
def test_strategy_validation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        OneForOne(**kwargs)


async def test_names_are_unique_among_siblings_and_well_formed() -> None:
    log: dict[str, int] = {}
    async with open_actor_system("app") as system:
        await system.spawn(lambda: Worker("a", log), name="a")
        with pytest.raises(ConfigurationError, match="already has a child named 'a'"):
            await system.spawn(lambda: Worker("a", log), name="a")
        with pytest.raises(ConfigurationError, match="without '/'"):
            await system.spawn(lambda: Worker("a", log), name="a/b")
        with pytest.raises(ConfigurationError, match="callable"):
            await system.spawn(42, name="n")  # type: ignore[arg-type]
        sup = await system.spawn_supervisor("s")
        await sup.spawn(lambda: Worker("a", log), name="a")  # fine: other parent


async def test_a_factory_that_is_not_an_actor_fails_the_spawn() -> None:
    async with open_actor_system(
        "app", strategy=OneForOne(max_restarts=0, within=1.0)
    ) as system:
        with pytest.raises(ConfigurationError, match="must return an Actor"):
            await system.spawn(lambda: object(), name="bad")  # type: ignore[arg-type, return-value]
        # nothing was left behind: the name is free and nothing restarts
        assert system.lookup("/app/bad") is None
        ref = await system.spawn(lambda: Worker("bad", {}), name="bad")
        assert await ref.ask("x") == 1


async def test_stopping_a_supervisor_stops_its_subtree() -> None:
    log: dict[str, int] = {}
    async with open_actor_system("app") as system:
        sup = await system.spawn_supervisor("sup")
        ref = await sup.spawn(lambda: Worker("w", log), name="w")
        await ref.tell("work")
        await sup.stop()
        with pytest.raises(ActorStopped):
            await ref.tell("work")
        assert system.lookup("/app/sup") is None
        with pytest.raises(ConfigurationError, match="has stopped"):
            await sup.spawn(lambda: Worker("w", log), name="w2")


async def test_actor_children_are_supervised_by_the_actor() -> None:
    log: dict[str, int] = {}

    class Parent(Actor):
        async def on_start(self) -> None:
            self.child = await self.context.spawn(Worker, "kid", log, name="kid")

        async def receive(self, message: Any) -> Any:
            return await self.child.ask(message)

    async with open_actor_system("app") as system:
        parent = await system.spawn(Parent, name="parent")
        assert await parent.ask("x") == 1
        kid = system.lookup("/app/parent/kid")
        assert kid is not None
        await kid.tell("crash")  # type: ignore[union-attr]
        await system.wait_until_idle()
        assert log["kid"] == 2
        await parent.stop()
        with pytest.raises(ActorStopped):
            await kid.tell("x")  # type: ignore[union-attr]


@settings(max_examples=25, deadline=None)
@given(
    schedule=st.lists(st.sampled_from(["work", "crash"]), min_size=1, max_size=40),
    max_restarts=st.integers(0, 5),
    strategy=st.sampled_from([OneForOne, OneForAll, RestForOne]),
)
def test_random_crash_schedules_lose_nothing(
    schedule: list[str], max_restarts: int, strategy: Any
) -> None:
    """Whatever the crash schedule: every accepted message is processed or
    dead-lettered, and exceeding the intensity never passes silently."""
    log: dict[str, int] = {}
    crashes = schedule.count("crash")

    async def scenario() -> None:
        clock_free = trio.current_time()
        del clock_free
        try:
            async with open_actor_system(
                "app", strategy=OneForOne(max_restarts=0, within=1000.0)
            ) as system:
                sup = await system.spawn_supervisor(
                    "sup", strategy=strategy(max_restarts=max_restarts, within=1000.0)
                )
                refs = [
                    await sup.spawn(
                        lambda n=n: Worker(n, log), name=n, mailbox=Mailbox(capacity=100)
                    )
                    for n in "ab"
                ]
                for i, message in enumerate(schedule):
                    await refs[i % 2].tell(message)
                await system.wait_until_idle()
                stats = system.statistics()
                assert stats.lost == 0
                assert stats.accepted == len(schedule)
                assert stats.failed == crashes
                assert stats.restarts >= crashes  # one-for-all restarts siblings too
        except SupervisionError:
            assert crashes > max_restarts

    trio.run(scenario)


async def test_an_actor_that_spawns_children_in_on_start_can_be_restarted() -> None:
    log: dict[str, int] = {}

    class Parent(Actor):
        async def on_start(self) -> None:
            self.child = await self.context.spawn(lambda: Worker("kid", log), name="kid")

        async def receive(self, message: Any) -> Any:
            if message == "crash":
                raise RuntimeError("parent crashed")
            return await self.child.ask(message)

    async with open_actor_system("app") as system:
        parent = await system.spawn(Parent, name="parent")
        assert await parent.ask("x") == 1
        with pytest.raises(RuntimeError):
            await parent.ask("crash")
        # the restarted parent finds its running child again: state kept
        assert await parent.ask("x") == 2
        assert log == {"kid": 1}
