"""Nodes in this process: the driver's books and the node's host, without Ray.

``fake_ray`` stands in for Ray: a node is a real ``NodeServer`` (its actor
system on trio in a thread of its own), each remote call runs in a thread
with its arguments and result pickled, and a kill fails what is in flight.
"""

from __future__ import annotations

import pickle
import sys
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from llmgine import (
    ActorStopped,
    AskTimeout,
    ConfigurationError,
    LLMgineError,
    MailboxFull,
    SupervisionError,
)
from llmgine.actors import (
    Actor,
    Backoff,
    DeadLetterReason,
    Mailbox,
    Overflow,
    Priority,
    open_actor_system,
)
from llmgine.cluster import RayCluster
from llmgine.cluster._host import ASK, CANCEL, TELL, Host, NodeServer
from llmgine.tracing import RecordKind, traced

from .actors import Add, Boom, Broken, Counter, Get
from .fake_ray import FakeRay
from .recording import ListSink

LIMIT = 20.0  # seconds any one test may wait on the node's thread

#: Gates a node's actor waits on (by name: messages cross by pickle).
GATES: dict[str, threading.Event] = {}


@attrs.frozen
class Block:
    """Keep the actor busy until the gate ``key`` opens."""

    key: str


@attrs.frozen
class Signal:
    """Open the gate ``key`` (the test learns the node got this far)."""

    key: str


@attrs.frozen
class Unloadable:
    """Pickles on the driver, cannot be unpickled on the node."""

    n: int

    def __reduce__(self) -> Any:
        return (_refuse_load, (self.n,))


def _refuse_load(n: int) -> Any:
    raise ImportError(f"no module for Unloadable({n})")


class Gated(Counter):
    async def receive(self, message: Any) -> Any:
        if isinstance(message, Block):
            gate = GATES.setdefault(message.key, threading.Event())
            await trio.to_thread.run_sync(gate.wait, abandon_on_cancel=True)
            return None
        if isinstance(message, Signal):
            _open(message.key)
            return None
        return await super().receive(message)


class Unpicklable(Actor):
    """Answers with something that cannot travel back to the driver."""

    async def receive(self, message: Any) -> Any:
        if message == "lock":
            return threading.Lock()
        raise TypeError(threading.Lock())  # an error carrying a lock


@pytest.fixture
def ray(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRay]:
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    yield fake
    for gate in GATES.values():
        gate.set()
    GATES.clear()
    fake.join()


def _open(key: str) -> None:
    GATES.setdefault(key, threading.Event()).set()


async def test_tells_and_asks_are_handled_once_and_the_books_add_up(
    ray: FakeRay,
) -> None:
    sink = ListSink()
    with trio.fail_after(LIMIT):
        async with open_actor_system("app", tracer=sink, cluster=RayCluster()) as system:
            node = await system.spawn_node("n1")
            assert repr(node) == f"<NodeRef /app/n1 pid={node.pid}>"
            ref = await node.spawn(Counter, 5, name="c", mailbox=Mailbox(capacity=50))
            assert repr(ref) == "<RemoteRef /app/n1/c>"
            for _ in range(300):
                await ref.tell(Add(1))
            await ref.tell(Add(1), priority=Priority.HIGH)
            with traced(RecordKind.CUSTOM, "request"):
                assert await ref.ask(Get(), timeout=LIMIT) == 306
            with pytest.raises(ValueError, match="boom"):
                await ref.ask(Boom())  # a Failure answers the asker
            ref.tell_nowait(Boom())  # a told Failure is a dead letter
            assert await ref.ask(Get()) == 306
            stats = ref.statistics()
            assert (stats.accepted, stats.processed, stats.queued) == (305, 304, 0)
            assert (stats.dead_lettered, stats.failed, stats.running) == (1, 1, True)
            total = system.statistics()
            assert (total.lost, total.accepted, total.actors) == (0, 305, 1)
            (letter,) = system.dead_letters.list()
            assert letter.reason is DeadLetterReason.HANDLER_FAILED
            assert (letter.message, letter.recipient) == (Boom(), "/app/n1/c")
            assert isinstance(letter.error, ValueError)
            nstats = node.statistics()
            assert (nstats.name, nstats.up, nstats.actors, nstats.restarts) == (
                "n1",
                True,
                1,
                0,
            )
            request = next(r for r in sink.records if r.name == "request")
    remote = [r for r in sink.records if r.trace_id == request.trace_id]
    assert any(r.actor == "/n1/c" for r in remote), "node records reach the tracer"
    assert {c[0] for c in ray.calls} == {"kill"}  # stopped, then killed: no init


async def test_spawn_and_node_options_are_checked_with_typed_errors(
    ray: FakeRay,
) -> None:
    with trio.fail_after(LIMIT):
        async with open_actor_system("cfg", cluster=RayCluster()) as system:
            for bad in [
                {"name": ""},
                {"name": "n1", "max_restarts": -1},
                {"name": "n1", "max_restarts": True},
                {"name": "n1", "within": 0},
                {"name": "n1", "heartbeat": "1"},
            ]:
                name = bad.pop("name")
                with pytest.raises(ConfigurationError):
                    await system.spawn_node(name, **bad)
            node = await system.spawn_node("n1", num_gpus=0)
            assert ray.handles[0].options["num_gpus"] == 0
            assert ray.handles[0].options["max_restarts"] == 0  # the driver restarts
            with pytest.raises(ConfigurationError, match="already running"):
                await system.spawn_node("n1")
            with pytest.raises(ConfigurationError, match="non-empty str"):
                await node.spawn(Counter, name="a/b")
            with pytest.raises(ConfigurationError, match="must pickle"):
                await node.spawn(Counter, threading.Lock(), name="x")
            with pytest.raises(RuntimeError, match="no database"):
                await node.spawn(Broken, name="broken")  # the factory's own error
            with pytest.raises(ConfigurationError, match="could not take factory"):
                await node.spawn(Counter, Unloadable(1), name="u")  # not on the node
            ref = await node.spawn(Counter, name="c")
            with pytest.raises(ConfigurationError, match="already running"):
                await node.spawn(Counter, name="c")
            with pytest.raises(ConfigurationError, match="message Add must pickle"):
                await ref.tell(Add(threading.Lock()))  # type: ignore[arg-type]
            assert await ref.ask(Get()) == 0
            assert system.statistics().accepted == 1
            await node.stop()
            await node.stop()  # twice is harmless
            with pytest.raises(ActorStopped):
                await node.spawn(Counter, name="late")


async def test_a_full_remote_mailbox_pushes_back_and_credit_returns(
    ray: FakeRay,
) -> None:
    with trio.fail_after(LIMIT):
        async with open_actor_system("bp", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1")
            slow = await node.spawn(Gated, name="slow", mailbox=Mailbox(capacity=3))
            await slow.tell(Block("bp"))
            for _ in range(2):
                await slow.tell(Add(1))
            with pytest.raises(MailboxFull):
                slow.tell_nowait(Add(1))  # refused at the door: not accepted
            done = trio.Event()

            async def sender() -> None:
                await slow.tell(Add(1))  # waits for credit
                done.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(sender)
                await trio.testing.wait_all_tasks_blocked()
                assert not done.is_set()
                assert slow.statistics().queued == 3
                _open("bp")
            assert await slow.ask(Get()) == 3
            assert slow.statistics().queued == 0

            reject = await node.spawn(
                Gated, name="reject", mailbox=Mailbox(capacity=1, overflow="reject")
            )
            await reject.tell(Block("rj"))
            with pytest.raises(MailboxFull):
                await reject.tell(Add(1))
            _open("rj")

            drop = await node.spawn(
                Gated,
                name="drop",
                mailbox=Mailbox(capacity=1, overflow=Overflow.DROP_NEWEST),
            )
            await drop.tell(Block("dn"))
            await drop.tell(Add(1))  # accepted and dropped
            with pytest.raises(MailboxFull):
                await drop.ask(Get())  # an ask too: its asker hears why
            letters = system.dead_letters.list()
            assert [(x.message, x.reason) for x in letters] == [
                (Add(1), DeadLetterReason.MAILBOX_FULL),
                (Get(), DeadLetterReason.MAILBOX_FULL),
            ]
            _open("dn")

            oldest = await node.spawn(
                Gated,
                name="oldest",
                mailbox=Mailbox(capacity=2, overflow=Overflow.DROP_OLDEST),
            )
            oldest.tell_nowait(Add(1))
            oldest.tell_nowait(Add(2))
            oldest.tell_nowait(Add(4))  # the oldest unsent one makes room
            assert await oldest.ask(Get()) == 4  # and again for the ask
            assert [(x.message, x.reason) for x in system.dead_letters.list()[-2:]] == [
                (Add(1), DeadLetterReason.DROPPED_OLDEST),
                (Add(2), DeadLetterReason.DROPPED_OLDEST),
            ]
            stats = system.statistics()
            assert stats.lost == 0


async def test_a_message_the_node_cannot_load_is_refused_alone(ray: FakeRay) -> None:
    with trio.fail_after(LIMIT):
        async with open_actor_system("imp", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1")
            ref = await node.spawn(Counter, name="c")
            ref.tell_nowait(Add(1))
            ref.tell_nowait(Unloadable(1))  # in the same batch as its neighbours
            ref.tell_nowait(Add(2))
            with pytest.raises(ConfigurationError, match="could not take the message"):
                await ref.ask(Unloadable(2))
            assert await ref.ask(Get()) == 3
            (letter,) = system.dead_letters.list()
            assert letter.message == Unloadable(1)
            assert letter.reason is DeadLetterReason.HANDLER_FAILED
            stats = system.statistics()
            assert (stats.lost, stats.accepted, stats.processed) == (0, 4, 3)
            assert node.statistics().restarts == 0


async def test_stopping_an_actor_dead_letters_its_queue_then_refuses(
    ray: FakeRay,
) -> None:
    with trio.fail_after(LIMIT):
        async with open_actor_system("stop", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1")
            ref = await node.spawn(Gated, name="c")
            await ref.tell(Block("st"))
            await ref.tell(Add(1))
            with pytest.raises(AskTimeout):
                await ref.ask(Get(), timeout=0.01)  # skipped on the node

            async def release() -> None:
                await trio.testing.wait_all_tasks_blocked()
                _open("st")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(release)
                await ref.stop()
            await ref.stop()  # twice is harmless
            with pytest.raises(ActorStopped):
                await ref.tell(Add(1))
            with pytest.raises(ActorStopped):
                ref.tell_nowait(Add(1))
            other = await node.spawn(Counter, name="c")  # the name is free again
            assert await other.ask(Get()) == 0
            await node.stop()
            with pytest.raises(ActorStopped):
                await other.ask(Get())
            stats = system.statistics()
            assert stats.lost == 0
            assert stats.actors == 0
            assert not node.statistics().up


async def test_an_ask_given_up_is_cancelled_on_the_node(ray: FakeRay) -> None:
    # As a local ask: the handling in progress is cancelled (the gate never
    # opens, yet the actor answers the next ask), a queued one is skipped, and
    # both are counted cancelled.
    with trio.fail_after(LIMIT):
        async with open_actor_system("cancel", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1")
            ref = await node.spawn(Gated, name="c")
            with pytest.raises(AskTimeout):
                await ref.ask(Block("never"), timeout=0.05)
            assert await ref.ask(Get()) == 0
            await ref.tell(Block("later"))
            with trio.move_on_after(0.05):  # the asker's own scope gives up
                await ref.ask(Add(5))
            await ref._node.flush()  # the cancel has reached the node
            _open("later")
            assert await ref.ask(Get()) == 0  # Add(5) was skipped
            stats = ref.statistics()
            assert (stats.cancelled, stats.processed, stats.queued) == (2, 5, 0)
            assert (stats.accepted, stats.dead_lettered) == (5, 0)
            assert system.statistics().lost == 0


async def test_a_killed_node_restarts_and_loses_nothing(ray: FakeRay) -> None:
    with trio.fail_after(LIMIT):
        async with open_actor_system("kill", cluster=RayCluster()) as system:
            node = await system.spawn_node(
                "n1", heartbeat=5, backoff=Backoff(initial=0.001)
            )
            ref = await node.spawn(Gated, name="c", mailbox=Mailbox(capacity=100))
            witness = await node.spawn(Gated, name="w")
            await ref.tell(Add(2))
            assert await ref.ask(Get()) == 2
            await ref.tell(Block("never"))  # the node is busy when it dies
            for _ in range(3):
                await ref.tell(Add(1))
            errors: list[BaseException] = []

            async def asker() -> None:
                try:
                    await ref.ask(Get())
                except ActorStopped as exc:
                    errors.append(exc)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(asker)
                await trio.testing.wait_all_tasks_blocked()  # the ask was sent
                await witness.tell(Signal("shipped"))  # after it, to the same node
                shipped = GATES.setdefault("shipped", threading.Event())
                await trio.to_thread.run_sync(shipped.wait, LIMIT)
                ray.handles[0].kill()
            assert len(errors) == 1  # the ask in flight ended with ActorStopped
            assert await ref.ask(Get()) == 0  # a fresh instance from its spec
            await ref.tell(Add(3))
            assert await ref.ask(Get()) == 3
            nstats = node.statistics()
            assert (nstats.restarts, nstats.up) == (1, True)
            assert nstats.last_restart_s is not None
            lost = system.dead_letters.list()
            assert {x.reason for x in lost} == {DeadLetterReason.NODE_LOST}
            mine = [x.message for x in lost if x.recipient == "/kill/n1/c"]
            assert mine == [Block("never")] + [Add(1)] * 3 + [Get()]
            # the witness's signal, handled but not yet reported, may be lost too
            assert len(lost) - len(mine) in (0, 1)
            stats = system.statistics()
            assert (stats.lost, stats.queued, stats.dead_lettered) == (0, 0, len(lost))
            assert stats.restarts == 2  # the node restart, counted by each actor
            # the lost tells go again to the restarted actor, on its node
            adds = [x for x in lost if x.message == Add(1)]
            assert await system.dead_letters.redeliver(adds) == 3
            assert await ref.ask(Get()) == 6
            assert Add(1) not in [x.message for x in system.dead_letters.list()]
            assert system.recipient("/kill/n1/c") is ref
            assert system.recipient("/kill/n1/nobody") is None


async def test_a_hung_node_misses_its_heartbeats_and_is_replaced(
    ray: FakeRay,
) -> None:
    with trio.fail_after(LIMIT):
        async with open_actor_system("hung", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1", heartbeat=0.05)
            ref = await node.spawn(Counter, name="c")
            await ref.tell(Add(1))
            assert await ref.ask(Get()) == 1
            ray.handles[0].hang = True  # alive to Ray, silent to the driver
            with pytest.raises(ActorStopped):
                await ref.ask(Get())  # in flight when the driver gives the node up
            assert await ref.ask(Get()) == 0  # a new node, a fresh instance
            assert node.statistics().restarts == 1
            assert ray.handles[0].dead
            assert system.statistics().lost == 0


async def test_a_node_dying_too_often_fails_the_system(ray: FakeRay) -> None:
    letters: list[Any] = []
    with pytest.raises(SupervisionError, match="node /often/n1 died more than 0 times"):
        with trio.fail_after(LIMIT):
            async with open_actor_system("often", cluster=RayCluster()) as system:
                node = await system.spawn_node("n1", max_restarts=0)
                ref = await node.spawn(Gated, name="c")
                assert await ref.ask(Get()) == 0
                await ref.tell(Block("never"))
                await trio.testing.wait_all_tasks_blocked()
                ray.handles[0].kill()
                with pytest.raises(ActorStopped):
                    await ref.ask(Get())  # the node gave up
                letters = system.dead_letters.list()
                await trio.sleep_forever()
    assert [x.reason for x in letters] == [DeadLetterReason.NODE_LOST] * 2


async def test_a_cluster_started_here_is_shut_down_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeRay(initialized=False)
    monkeypatch.setitem(sys.modules, "ray", fake)
    cluster = RayCluster(address="auto", num_cpus=2, namespace="x")
    assert repr(cluster) == "RayCluster(address='auto', num_cpus=2)"
    with trio.fail_after(LIMIT):
        async with open_actor_system("own", cluster=cluster):
            assert fake.calls == [
                (
                    "init",
                    {
                        "include_dashboard": False,
                        "log_to_driver": False,
                        "namespace": "x",
                        "address": "auto",
                        "num_cpus": 2,
                    },
                )
            ]
    assert fake.calls[-1] == ("shutdown", None)
    with pytest.raises(KeyError):
        async with open_actor_system("own", cluster=RayCluster()):
            raise KeyError("bug")  # a failing body asks Ray to shut down too
    failing = FakeRay(initialized=False, init_error=OSError("no room"))
    monkeypatch.setitem(sys.modules, "ray", failing)
    with pytest.raises(OSError, match="no room"):
        async with open_actor_system("own", cluster=RayCluster()):
            pass  # pragma: no cover - never entered
    with pytest.raises(ConfigurationError, match="num_cpus"):
        RayCluster(num_cpus=0)


# -- the node's host, driven directly ---------------------------------------------


def test_the_host_refuses_unknown_actors_and_answers_what_cannot_travel() -> None:
    server = NodeServer("h", None)
    try:
        assert server.spawn(1, Unpicklable, (), {"name": "u"}) is None
        error = server.spawn(2, Broken, (), {"name": "b"})
        assert isinstance(error, RuntimeError)
        # an ask to an actor the node does not run is refused, typed
        refused = (server.deliver([(ASK, 9, 1, 2, "x", None)]) or server.poll(LIMIT))[3]
        (row,) = refused
        assert row[:3] == (9, 1, True)
        assert isinstance(row[3], ActorStopped)
        # a cancel for an ask already answered, or never seen, is no message:
        # nothing is refused, nothing counted
        late = [(CANCEL, 9, 1, 0, None, None), (CANCEL, 1, 99, 0, None, None)]
        assert server.deliver(late) is None
        assert server.poll(0.01)[3] == []
        snap = server.deliver([(ASK, 1, 2, 2, "lock", None), (ASK, 1, 3, 2, "err", None)])
        assert snap is not None
        answers = list(snap[1])
        while len(answers) < 2:
            answers += server.poll(LIMIT)[1]
        by_seq = {seq: (ok, value) for _, seq, ok, value in answers}
        assert isinstance(by_seq[2][1], ConfigurationError)  # does not pickle
        assert by_seq[3][0] is False
        assert isinstance(by_seq[3][1], LLMgineError)
        assert "TypeError" in str(by_seq[3][1])
        pickle.dumps(answers)  # all of it travels back
        # a mailbox full on the node refuses at the door, tells and asks alike
        options = {"name": "g", "mailbox": Mailbox(capacity=1, overflow="reject")}
        assert server.spawn(3, Gated, (), options) is None
        batch = [
            (TELL, 3, 5, 2, Block("host"), None),
            (TELL, 3, 6, 2, Add(1), None),
            (ASK, 3, 7, 2, Get(), None),
        ]
        assert server.deliver(batch) is None  # no ask got in: nothing to wait for
        refused = server.poll(LIMIT)[3]
        assert [(r[0], r[1], r[2]) for r in refused] == [(3, 6, False), (3, 7, True)]
        assert all(isinstance(r[3], MailboxFull) for r in refused)
        _open("host")
        counts = server.stop_actor(1)[0]
        assert counts[0] == (1, 0, 1, 1, 1, 1, 0)  # the raising ask failed once
        assert server.stop_actor(7)[0][0] == counts[0]  # unknown: nothing to stop
        server.deliver([(TELL, 1, 4, 2, "late", None)])
        refused = server.poll(LIMIT)[3]
        assert [(r[0], r[1], r[2]) for r in refused] == [(1, 4, False)]
        assert isinstance(refused[0][3], ActorStopped)
    finally:
        final = server.shutdown(LIMIT)
    assert final is not None
    assert server.finished.is_set()


async def test_the_host_forwards_traces_and_drops_past_its_capacity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llmgine.cluster import _host

    monkeypatch.setattr(_host, "_TRACE_CAPACITY", 2)
    host = Host("t", 1 << 64)
    assert host.sink is not None
    ready = threading.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(host.main, ready)
        await trio.testing.wait_all_tasks_blocked()
        assert ready.is_set()
        assert await host.spawn(1, Counter, (), {"name": "c"}) is None
        for n in range(3):
            host.sink.emit(f"record {n}")  # type: ignore[arg-type]
        assert host.sink.dropped >= 1  # the oldest went
        assert host.snapshot()[4] == ["record 1", "record 2"]
        snap = await host.deliver([(TELL, 1, 1, 2, Add(1), None)])
        assert snap is None  # tells do not wait for answers
        snap = await host.poll(LIMIT)
        assert snap[0] == [(1, 1, 1, 0, 0, 0, 0)]
        host.close()
    assert host.snapshot()[0][0][1] == 1
