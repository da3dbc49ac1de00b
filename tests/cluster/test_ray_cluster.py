"""Remote refs on a real local Ray cluster: same semantics as local refs, nothing lost.

Every test here shares one local Ray cluster (``ray_session``); each opens its
own actor system and nodes. Waiting on another process is bounded with
``trio.fail_after``, never a fixed sleep.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from llmgine.actors import (
    ActorStopped,
    DeadLetterReason,
    Mailbox,
    MailboxFull,
    Overflow,
    RecordKind,
    SupervisionError,
    open_actor_system,
    traced,
)
from llmgine.cluster import NodeRef, RayCluster, RemoteRef

from . import actors
from .actors import Add, Boom, Broken, Counter, Get, Hold
from .recording import ListSink

pytestmark = pytest.mark.cluster

LIMIT = 60.0  # seconds any one test may wait on Ray


@pytest.fixture(autouse=True)
def _ray(ray_session: Any) -> None:
    # The test actors travel by value: Ray workers need not import this package.
    ray_session.cloudpickle.register_pickle_by_value(actors)


async def _wait_pid_change(node: NodeRef, old: int | None) -> None:
    while node.pid == old or not node.statistics().up:
        await trio.sleep(0.01)


async def test_tell_ask_statistics_and_traces_cross_the_wire() -> None:
    sink = ListSink()
    with trio.fail_after(LIMIT):
        async with open_actor_system(
            "app", tracer=sink, cluster=RayCluster(num_cpus=2)
        ) as system:
            node = await system.spawn_node("n1")
            assert isinstance(node.pid, int)
            assert node.pid != os.getpid()
            ref = await node.spawn(Counter, 5, name="c", mailbox=Mailbox(capacity=50))
            assert isinstance(ref, RemoteRef)
            assert ref.path == "/app/n1/c"
            for _ in range(500):
                await ref.tell(Add(1))
            with traced(RecordKind.CUSTOM, "request"):
                assert await ref.ask(Get(), timeout=LIMIT) == 505
            with pytest.raises(ValueError, match="boom"):
                await ref.ask(Boom())  # a Failure answers the asker
            ref.tell_nowait(Boom())  # a told Failure is a dead letter
            assert await ref.ask(Get()) == 505
            stats = ref.statistics()
            assert (stats.accepted, stats.processed, stats.queued) == (504, 503, 0)
            assert stats.dead_lettered == 1
            total = system.statistics()
            assert total.lost == 0
            assert total.accepted == 504
            (letter,) = system.dead_letters.list()
            assert letter.reason is DeadLetterReason.HANDLER_FAILED
            assert (letter.message, letter.recipient) == (Boom(), "/app/n1/c")
            request = next(r for r in sink.records if r.name == "request")
    remote = [
        r for r in sink.records if r.trace_id == request.trace_id and r is not request
    ]
    assert remote, "the node's records of the traced ask reached the driver's tracer"
    assert any(r.actor == "/n1/c" for r in remote)


async def test_a_full_remote_mailbox_pushes_back_end_to_end() -> None:
    with trio.fail_after(LIMIT):
        async with open_actor_system("bp", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1")
            slow = await node.spawn(Counter, name="slow", mailbox=Mailbox(capacity=3))
            await slow.tell(Hold(0.5))
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
            assert await slow.ask(Get()) == 3

            reject = await node.spawn(
                Counter, name="reject", mailbox=Mailbox(capacity=1, overflow="reject")
            )
            await reject.tell(Hold(0.5))
            with pytest.raises(MailboxFull):
                await reject.tell(Add(1))
            drop = await node.spawn(
                Counter,
                name="drop",
                mailbox=Mailbox(capacity=1, overflow=Overflow.DROP_NEWEST),
            )
            await drop.tell(Hold(0.5))
            await drop.tell(Add(1))  # accepted and dropped
            with pytest.raises(MailboxFull):
                await drop.ask(Get())  # an ask too: its asker hears why
            letters = system.dead_letters.list()
            assert [(x.message, x.reason) for x in letters] == [
                (Add(1), DeadLetterReason.MAILBOX_FULL),
                (Get(), DeadLetterReason.MAILBOX_FULL),
            ]
            while drop.statistics().queued:  # the hold ends on the node
                await trio.sleep(0.01)
            assert await drop.ask(Get()) == 0
            stats = system.statistics()
            assert stats.lost == 0
            assert stats.accepted == 5 + 1 + 4


async def test_unpicklable_is_refused_on_the_driver_and_stop_settles_all() -> None:
    lock = threading.Lock()
    with trio.fail_after(LIMIT):
        async with open_actor_system("pk", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1")
            with pytest.raises(Exception, match=r"factory functools\.partial") as info:
                await node.spawn(functools.partial(Counter, lock), name="x")
            assert type(info.value).__name__ == "ConfigurationError"
            ref = await node.spawn(Counter, name="c")
            with pytest.raises(Exception, match="message Add must pickle") as info:
                await ref.tell(Add(lock))  # type: ignore[arg-type]
            assert type(info.value).__name__ == "ConfigurationError"
            with pytest.raises(RuntimeError, match="no database"):
                await node.spawn(Broken, name="broken")  # the factory's own error
            assert await ref.ask(Get()) == 0
            assert system.statistics().accepted == 1

            # stopping: what is queued is dead-lettered on the node, then refused
            await ref.tell(Hold(0.3))
            await ref.tell(Add(1))
            await ref.stop()
            with pytest.raises(ActorStopped):
                await ref.tell(Add(1))
            assert [(x.message, x.reason) for x in system.dead_letters.list()] == [
                (Add(1), DeadLetterReason.ACTOR_STOPPED)
            ]
            other = await node.spawn(Counter, name="other")
            await node.stop()
            with pytest.raises(ActorStopped):
                await other.ask(Get())
            stats = system.statistics()
            assert (stats.accepted, stats.processed, stats.dead_lettered) == (3, 2, 1)
            assert stats.lost == 0
            assert stats.actors == 0
            assert not node.statistics().up


async def test_a_killed_node_restarts_refs_stay_valid_and_nothing_is_lost() -> None:
    with trio.fail_after(LIMIT):
        async with open_actor_system("kill", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1", heartbeat=0.5)
            ref = await node.spawn(Counter, name="c", mailbox=Mailbox(capacity=100))
            await ref.tell(Add(2))
            assert await ref.ask(Get()) == 2
            await ref.tell(Hold(30))  # the node is busy when it dies
            for _ in range(10):
                await ref.tell(Add(1))
            old = node.pid
            errors: list[BaseException] = []

            async def asker() -> None:
                try:
                    await ref.ask(Get())
                except ActorStopped as exc:
                    errors.append(exc)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(asker)
                # wait until the ask was shipped to the node
                while ref.statistics().queued < 12 or node._handle.outbox:
                    await trio.sleep(0.01)
                assert old is not None
                os.kill(old, signal.SIGKILL)
            assert len(errors) == 1  # the ask in flight ended with ActorStopped
            await _wait_pid_change(node, old)
            assert await ref.ask(Get()) == 0  # a fresh instance from its spec
            await ref.tell(Add(3))
            assert await ref.ask(Get()) == 3
            assert node.statistics().restarts == 1
            lost = system.dead_letters.list()
            assert {x.reason for x in lost} == {DeadLetterReason.NODE_LOST}
            assert [x.message for x in lost] == [Hold(30)] + [Add(1)] * 10 + [Get()]
            stats = system.statistics()
            assert stats.lost == 0
            assert stats.queued == 0
            assert stats.dead_lettered == 12
            assert stats.restarts == 1


async def test_a_node_dying_too_often_fails_the_system() -> None:
    with pytest.raises(SupervisionError, match="node /often/n1 died more than 0 times"):
        with trio.fail_after(LIMIT):
            async with open_actor_system("often", cluster=RayCluster()) as system:
                node = await system.spawn_node("n1", max_restarts=0)
                ref = await node.spawn(Counter, name="c")
                await ref.tell(Add(1))
                assert await ref.ask(Get()) == 1
                assert node.pid is not None
                os.kill(node.pid, signal.SIGKILL)
                await trio.sleep_forever()


async def test_a_hung_node_misses_its_heartbeats_and_is_replaced() -> None:
    with trio.fail_after(LIMIT):
        async with open_actor_system("hung", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1", heartbeat=0.2)
            ref = await node.spawn(Counter, name="c")
            await ref.tell(Add(1))
            assert await ref.ask(Get()) == 1
            old = node.pid
            assert old is not None
            os.kill(old, signal.SIGSTOP)  # alive to Ray, silent to the driver
            try:
                await _wait_pid_change(node, old)  # the driver had Ray kill it
            finally:
                # never SIGKILL a pid that may be gone (pids are reused):
                # a SIGCONT to a stranger is harmless
                with contextlib.suppress(ProcessLookupError):
                    os.kill(old, signal.SIGCONT)
            assert await ref.ask(Get()) == 0
            assert node.statistics().restarts == 1
            assert system.statistics().lost == 0


async def test_a_message_the_node_cannot_import_is_refused_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a class importable here and not on the node (pickled by reference)
    (tmp_path / "driver_only.py").write_text(
        "import attrs\n\n@attrs.frozen\nclass Ping:\n    n: int\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    from driver_only import Ping  # type: ignore[import-not-found]

    with trio.fail_after(LIMIT):
        async with open_actor_system("imp", cluster=RayCluster()) as system:
            node = await system.spawn_node("n1")
            ref = await node.spawn(Counter, name="c")
            await ref.tell(Add(1))
            await ref.tell(Ping(1))  # in the same batch as its neighbours
            await ref.tell(Add(2))
            with pytest.raises(Exception, match="could not take the message") as info:
                await ref.ask(Ping(2))
            assert type(info.value).__name__ == "ConfigurationError"
            assert await ref.ask(Get()) == 3
            (letter,) = system.dead_letters.list()
            assert letter.message == Ping(1)
            assert letter.reason is DeadLetterReason.HANDLER_FAILED
            assert system.statistics().lost == 0
            assert node.statistics().restarts == 0
