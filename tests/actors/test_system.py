"""The actor system inside a user's trio program: embedding, cancellation, tracing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError
from llmgine.actors import (
    Actor,
    RecordKind,
    TraceRecord,
    current_system,
    current_trace,
    open_actor_system,
    traced,
)


class Echo(Actor):
    async def receive(self, message: Any) -> Any:
        return message


class Forward(Actor):
    """Asks the next actor and answers with its reply."""

    def __init__(self, target: Any) -> None:
        self.target = target

    async def receive(self, message: Any) -> Any:
        return await self.target.ask(message)


class ListSink:
    """A minimal tracer: keeps every record."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self.open_spans = 0
        self.started = False
        self.closed = False

    def emit(self, record: TraceRecord) -> None:
        self.records.append(record)

    def start(self, system: object) -> None:
        self.started = True

    async def run(self) -> None:
        await trio.sleep_forever()

    async def aclose(self) -> None:
        self.closed = True

    def kinds(self) -> list[RecordKind]:
        return [r.kind for r in self.records]


def _task_count() -> int:
    def walk(task: trio.lowlevel.Task) -> Iterator[trio.lowlevel.Task]:
        yield task
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                yield from walk(child)

    return sum(1 for _ in walk(trio.lowlevel.current_root_task()))


async def test_embedding_in_a_user_nursery_and_cancelling_from_outside() -> None:
    before = _task_count()
    stopped: list[str] = []

    class Worker(Actor):
        async def on_stop(self) -> None:
            stopped.append("worker")

        async def receive(self, message: Any) -> Any:
            return message

    async def app(task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with open_actor_system("embedded") as system:
            ref = await system.spawn(Worker, name="w")
            task_status.started(ref)
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        ref = await nursery.start(app)
        assert await ref.ask("hi") == "hi"
        nursery.cancel_scope.cancel()
    assert _task_count() == before  # nothing leaked
    assert current_system() is None


async def test_leaving_the_block_stops_actors_in_reverse_start_order() -> None:
    order: list[str] = []

    class Named(Actor):
        def __init__(self, name: str) -> None:
            self.name = name

        async def on_stop(self) -> None:
            order.append(self.name)

        async def receive(self, message: Any) -> Any:
            return None

    async with open_actor_system("app") as system:
        for name in ("first", "second", "third"):
            await system.spawn(lambda name=name: Named(name), name=name)
        sup = await system.spawn_supervisor("sup")
        await sup.spawn(lambda: Named("nested"), name="nested")
        await system.wait_until_idle()
    assert order == ["nested", "third", "second", "first"]


async def test_a_hanging_actor_is_cancelled_after_the_shutdown_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Hang(Actor):
        async def receive(self, message: Any) -> Any:
            await trio.sleep_forever()

    start = trio.current_time()
    async with open_actor_system("app", shutdown_timeout=3.0) as system:
        ref = await system.spawn(Hang, name="h")
        await ref.tell("x")
        await trio.testing.wait_all_tasks_blocked()
    assert trio.current_time() - start == pytest.approx(3.0)
    stats = system.statistics()
    assert stats.lost == 0
    assert stats.dead_lettered == 1


async def test_an_error_in_the_body_propagates_unwrapped() -> None:
    with pytest.raises(KeyError, match="mine"):
        async with open_actor_system("app") as system:
            await system.spawn(Echo, name="e")
            raise KeyError("mine")


async def test_system_name_validation() -> None:
    with pytest.raises(ConfigurationError, match="'name' must be a non-empty str"):
        async with open_actor_system(""):
            pass  # pragma: no cover


async def test_statistics_and_lookup() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Echo, name="e")
        for i in range(10):
            await ref.tell(i)
        await system.wait_until_idle()
        stats = system.statistics()
        assert (stats.actors, stats.accepted, stats.processed, stats.lost) == (
            1,
            10,
            10,
            0,
        )
        assert system.lookup("/app/e") is ref
        assert system.lookup("/app/missing") is None
        assert system.path == "/app"
        assert repr(system) == "<ActorSystem app>"
        await ref.stop()
        # counters of stopped actors are kept
        assert system.statistics().processed == 10


async def test_context_gives_the_actor_its_ref_system_and_path() -> None:
    seen: dict[str, Any] = {}

    class Introspect(Actor):
        async def receive(self, message: Any) -> Any:
            seen["ref"] = self.context.ref
            seen["system"] = self.context.system
            seen["path"] = self.context.path
            seen["current"] = current_system()

    async with open_actor_system("app") as system:
        ref = await system.spawn(Introspect, name="i")
        await ref.ask("x")
        assert seen == {"ref": ref, "system": system, "path": "/app/i", "current": system}

    with pytest.raises(ConfigurationError, match="only once the actor is spawned"):
        _ = Introspect().context


async def test_base_actor_must_implement_receive() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Actor, name="bare")
        with pytest.raises(NotImplementedError, match="must implement receive"):
            await ref.ask("x")


async def test_on_stop_errors_are_traced_not_raised() -> None:
    sink = ListSink()

    class BadStop(Actor):
        async def on_stop(self) -> None:
            raise RuntimeError("on_stop broke")

        async def receive(self, message: Any) -> Any:
            return None

    async with open_actor_system("app", tracer=sink) as system:
        await system.spawn(BadStop, name="b")
        await system.wait_until_idle()
    failed = [r for r in sink.records if r.kind is RecordKind.ACTOR_FAILED]
    assert failed
    assert failed[0].error == "RuntimeError: on_stop broke"
    assert sink.started
    assert sink.closed


async def test_runtime_hands_lifecycle_and_message_records_to_the_tracer() -> None:
    sink = ListSink()
    async with open_actor_system("app", tracer=sink) as system:
        b = await system.spawn(Echo, name="b")
        a = await system.spawn(lambda: Forward(b), name="a")
        with traced(RecordKind.CUSTOM, "request") as span:
            assert span.recording
            assert current_trace.get() is not None
            assert await a.ask("hi") == "hi"
        await b.tell("untraced")  # plain tell from untraced code: no span
        await system.wait_until_idle()
    kinds = sink.kinds()
    assert kinds.count(RecordKind.ACTOR_SPAWNED) == 2
    assert kinds.count(RecordKind.ACTOR_STARTED) == 2
    assert kinds.count(RecordKind.ACTOR_STOPPED) == 2
    messages = [r for r in sink.records if r.kind is RecordKind.MESSAGE]
    request = next(r for r in sink.records if r.kind is RecordKind.CUSTOM)
    on_a = next(r for r in messages if r.actor == "/app/a")
    on_b = next(r for r in messages if r.actor == "/app/b")
    # causality survives the actor hops: request -> a's handling -> b's handling
    assert on_a.parent_id == request.span_id
    assert on_b.parent_id == on_a.span_id
    assert {on_a.trace_id, on_b.trace_id} == {request.trace_id}
    assert on_a.name == "receive str"
    assert len(messages) == 2


async def test_failures_and_restarts_are_traced() -> None:
    sink = ListSink()

    class Crash(Actor):
        async def receive(self, message: Any) -> Any:
            raise ValueError("bad")

    async with open_actor_system("app", tracer=sink) as system:
        ref = await system.spawn(Crash, name="c")
        with pytest.raises(ValueError):
            await ref.ask("x")
        await system.wait_until_idle()
    failed = next(r for r in sink.records if r.kind is RecordKind.ACTOR_FAILED)
    assert failed.error_type == "ValueError"
    assert not failed.ok
    assert RecordKind.ACTOR_RESTARTED in sink.kinds()
    message = next(r for r in sink.records if r.kind is RecordKind.MESSAGE)
    assert message.error == "ValueError: bad"


async def test_traced_is_a_no_op_without_a_tracer() -> None:
    with traced(RecordKind.CUSTOM, "nothing") as span:
        span.set("a", 1)
        span.update({"b": 2})
        assert not span.recording
        assert current_trace.get() is None
    with traced(RecordKind.CUSTOM, "still nothing", {"x": 1}) as span:
        assert span.attributes == {}


async def test_a_cancelled_system_forgets_its_actors_but_keeps_their_counts() -> None:
    class Slow(Actor):
        async def receive(self, message: Any) -> Any:
            await trio.sleep_forever()

    with trio.CancelScope() as scope:
        async with open_actor_system("app") as system:
            ref = await system.spawn(Slow, name="s")
            for i in range(3):
                await ref.tell(i)
            await trio.testing.wait_all_tasks_blocked()
            scope.cancel()
            await trio.sleep_forever()
    stats = system.statistics()
    assert (stats.actors, stats.accepted, stats.dead_lettered, stats.lost) == (0, 3, 3, 0)
    assert system.lookup("/app/s") is None


async def test_a_tell_inside_a_span_is_traced_and_one_outside_is_not() -> None:
    sink = ListSink()
    async with open_actor_system("app", tracer=sink) as system:
        ref = await system.spawn(Echo, name="e")
        with traced(RecordKind.CUSTOM, "outer") as span:
            assert sink.open_spans == 1
            await ref.tell("inside")
        assert sink.open_spans == 0
        await ref.tell("outside")
        await system.wait_until_idle()
    [message] = [r for r in sink.records if r.kind is RecordKind.MESSAGE]
    assert message.parent_id == span.context.span_id  # type: ignore[union-attr]


class Slow(Actor):
    """Sleeps on every message (time is a MockClock's)."""

    async def receive(self, message: Any) -> Any:
        await trio.sleep(1.0)
        return message


async def test_several_tasks_wait_until_idle_together(autojump_clock: Any) -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Slow, name="slow")
        for n in range(3):
            await ref.tell(n)
        woke: list[float] = []

        async def waiter() -> None:
            await system.wait_until_idle()
            woke.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(waiter)
            nursery.start_soon(waiter)
        assert woke == [3.0, 3.0]
        assert ref.statistics().processed == 3
