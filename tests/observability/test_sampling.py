"""Head sampling: a trace is recorded whole or not at all, across actors."""

from __future__ import annotations

import functools
from typing import Any

import attrs

from llmgine.actors import (
    Actor,
    ActorRef,
    BreakerState,
    CircuitBreaker,
    DeadLetterReason,
    Failure,
    open_actor_system,
)
from llmgine.observability import RecordKind, Tracer, traced
from llmgine.tracing import (
    SAMPLE_ALL,
    TraceContext,
    TraceRecord,
    current_trace,
    make_context,
    make_record,
    start_context,
)

from ._records import ListHandler


@attrs.frozen
class Work:
    n: int


@attrs.frozen
class Fail:
    pass


class Back(Actor):
    """Answers inside a span of its own; fails on request."""

    async def receive(self, message: Any) -> Any:
        match message:
            case Work(n=n):
                with traced(RecordKind.LLM_CALL, "chat m"):
                    return n + 1
            case Fail():
                raise ValueError("no")


class Front(Actor):
    """Passes work on to Back: one hop more for the trace to cross."""

    def __init__(self, back: ActorRef) -> None:
        self.back = back

    async def receive(self, message: Any) -> Any:
        return await self.back.ask(message)


async def _requests(tracer: Tracer, count: int) -> list[TraceRecord]:
    handler = tracer.handlers[0]
    assert isinstance(handler, ListHandler)
    async with open_actor_system("app", tracer=tracer) as system:
        back = await system.spawn(Back, name="back")
        front = await system.spawn(functools.partial(Front, back), name="front")
        for n in range(count):
            with traced(RecordKind.CUSTOM, "request"):
                assert await front.ask(Work(n)) == n + 1
                await front.tell(Work(n))
            await system.wait_until_idle()
    return handler.records


async def test_every_trace_is_recorded_by_default() -> None:
    records = await _requests(Tracer([ListHandler()]), 20)
    spans = [r for r in records if r.duration is not None]
    assert len([r for r in spans if r.name == "request"]) == 20
    # per request: the request, two message spans per hop (ask, tell), two LLM spans
    assert len(spans) == 20 * (1 + 4 + 2)


async def test_a_ratio_of_zero_records_no_span_and_every_point_event() -> None:
    records = await _requests(Tracer([ListHandler()], sample_ratio=0.0), 20)
    assert [r for r in records if r.duration is not None] == []
    started = [r for r in records if r.kind is RecordKind.ACTOR_STARTED]
    assert {r.actor for r in started} == {"/app/back", "/app/front"}


async def test_a_sampled_trace_is_whole_and_an_unsampled_one_is_absent() -> None:
    records = await _requests(Tracer([ListHandler()], sample_ratio=0.5), 200)
    spans = [r for r in records if r.duration is not None]
    by_trace: dict[str, list[TraceRecord]] = {}
    for record in spans:
        by_trace.setdefault(record.trace_id, []).append(record)
    # about half the requests, never a fragment: each trace holds its request
    # and everything under it, across both actors
    assert 60 < len(by_trace) < 140
    for trace in by_trace.values():
        names = sorted(r.name for r in trace)
        assert names == ["chat m"] * 2 + ["receive Work"] * 4 + ["request"]
        ids = {r.span_id for r in trace}
        assert all(r.parent_id in ids for r in trace if r.name != "request")


async def test_failures_in_an_unsampled_trace_are_still_dead_lettered_and_traced() -> (
    None
):
    handler = ListHandler()
    async with open_actor_system(
        "app", tracer=Tracer([handler], sample_ratio=0.0)
    ) as system:
        back = await system.spawn(Back, name="back")
        with traced(RecordKind.CUSTOM, "request"):
            await back.tell(Fail())
        await system.wait_until_idle()
        assert len(system.dead_letters) == 1
    dead = [r for r in handler.records if r.kind is RecordKind.DEAD_LETTER]
    assert len(dead) == 1
    assert dead[0].parent_id is None  # a trace of its own, not a dangling parent
    assert [r for r in handler.records if r.duration is not None] == []


def test_the_decision_follows_the_trace_id_as_opentelemetry_does() -> None:
    # TraceIdRatioBased: sampled when the low 64 bits are below ratio * 2**64
    tracer = Tracer([], sample_ratio=0.25)
    assert tracer.sample_bound == SAMPLE_ALL // 4
    with tracer.activate():
        for _ in range(200):
            started = start_context(tracer)
            assert started is not None
            context, parent_id = started
            assert parent_id is None
            low = int(context.trace_id, 16) & (SAMPLE_ALL - 1)
            assert context.sampled == (low < SAMPLE_ALL // 4)


def test_inside_an_unsampled_trace_no_span_starts() -> None:
    tracer = Tracer([ListHandler()])
    unsampled = TraceContext("ab" * 16, "cd" * 8, sampled=False)
    with tracer.activate():
        token = current_trace.set(unsampled)
        try:
            assert start_context(tracer) is None
            with traced(RecordKind.CUSTOM, "quiet") as span:
                assert not span.recording
                assert current_trace.get() is unsampled
        finally:
            current_trace.reset(token)
        tracer.flush()
    assert tracer.statistics().received == 0


def test_children_keep_the_sampling_decision() -> None:
    root = TraceContext.new_root(0)
    assert not root.sampled
    assert not root.child().sampled
    assert root.child().trace_id == root.trace_id
    assert TraceContext.new_root().sampled


def test_fast_constructors_build_equal_objects() -> None:
    assert make_context("a" * 32, "b" * 16) == TraceContext("a" * 32, "b" * 16)
    assert make_context("a" * 32, "b" * 16, False) == TraceContext(
        "a" * 32, "b" * 16, sampled=False
    )
    fields = {
        "kind": RecordKind.MESSAGE,
        "name": "receive Work",
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "parent_id": "c" * 16,
        "at": 1.5,
        "duration": 0.25,
        "actor": "/app/back",
        "error": "ValueError: no",
        "error_type": "ValueError",
        "attributes": {"llmgine.ask": True},
    }
    built = make_record(*fields.values())  # type: ignore[arg-type]
    assert built == TraceRecord(**fields)  # type: ignore[arg-type]
    assert attrs.asdict(built) == attrs.asdict(TraceRecord(**fields))  # type: ignore[arg-type]


class Picky(Actor):
    """Told work: handled, answered with a Failure, or a crash; counts them."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    async def receive(self, message: Any) -> Any:
        self.seen.append(f"{message!r} in {current_trace.get() is not None}")
        match message:
            case Work(n=0):
                return Failure(ValueError("zero"))
            case Fail():
                raise ValueError("no")
        return None


async def test_tells_in_an_unsampled_trace_carry_its_context_and_are_accounted() -> None:
    seen: list[str] = []
    handler = ListHandler()
    breaker = CircuitBreaker(max_failures=5, reset_timeout=1.0)
    async with open_actor_system(
        "app", tracer=Tracer([handler], sample_ratio=0.0)
    ) as system:
        ref = await system.spawn(
            functools.partial(Picky, seen), name="picky", breaker=breaker
        )
        with traced(RecordKind.CUSTOM, "request"):
            for message in (Work(1), Work(0), Fail(), Work(2)):
                await ref.tell(message)
        await system.wait_until_idle()
        stats = ref.statistics()
        # the handler saw the trace's context every time, even unsampled
        assert seen == [f"{m!r} in True" for m in (Work(1), Work(0), Fail(), Work(2))]
        assert (stats.processed, stats.failed, stats.dead_lettered) == (2, 2, 2)
        assert stats.restarts == 1
        assert stats.breaker is BreakerState.CLOSED  # the last success closed the run
        reasons = [letter.reason for letter in system.dead_letters.list()]
        assert reasons == [DeadLetterReason.HANDLER_FAILED] * 2
    assert [r for r in handler.records if r.duration is not None] == []
