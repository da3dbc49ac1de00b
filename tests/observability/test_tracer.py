"""The Tracer: side channel, batching, drop counting, handler isolation."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError
from llmgine.observability import Tracer, TracerStatistics
from llmgine.tracing import (
    RecordKind,
    TraceRecord,
    current_sink,
    current_trace,
    traced,
)

from ._records import ListHandler, make_record


class FailingHandler:
    def __init__(self, *, on_close: bool = False) -> None:
        self.calls = 0
        self.on_close = on_close

    def handle(self, records: Sequence[TraceRecord]) -> None:
        self.calls += 1
        raise RuntimeError("handler broke")

    def close(self) -> None:
        if self.on_close:
            raise OSError("close broke")


def test_emit_then_flush_delivers_in_order(handler: ListHandler) -> None:
    tracer = Tracer([handler])
    records = [make_record(name=f"r{i}") for i in range(5)]
    for record in records:
        tracer.emit(record)
    assert handler.records == []  # emit only takes a copy
    tracer.flush()
    assert handler.records == records
    assert tracer.statistics() == TracerStatistics(
        received=5, handled=5, dropped=0, handler_errors=0, queued=0
    )


def test_full_tracer_drops_and_counts(handler: ListHandler) -> None:
    tracer = Tracer([handler], capacity=3)
    records = [make_record(name=f"r{i}") for i in range(5)]
    for record in records:
        tracer.emit(record)  # never raises, never waits
    stats = tracer.statistics()
    assert (stats.received, stats.queued, stats.dropped) == (5, 3, 2)
    tracer.flush()
    *kept, report = handler.records
    assert kept == records[:3]  # the newest are the ones dropped
    assert report.kind is RecordKind.TRACER_DROPPED  # and the loss is reported
    assert report.attributes["llmgine.tracer.dropped"] == 2
    stats = tracer.statistics()
    assert stats.received == stats.handled + stats.dropped + stats.queued


def test_batches_never_exceed_batch_size(handler: ListHandler) -> None:
    tracer = Tracer([handler], batch_size=4)
    for i in range(10):
        tracer.emit(make_record(name=f"r{i}"))
    tracer.flush()
    assert [len(batch) for batch in handler.batches] == [4, 4, 2]


def test_failing_handler_is_isolated_and_counted(
    handler: ListHandler, caplog: pytest.LogCaptureFixture
) -> None:
    broken = FailingHandler()
    tracer = Tracer([broken, handler], batch_size=2)
    for i in range(4):
        tracer.emit(make_record(name=f"r{i}"))
    with caplog.at_level(logging.ERROR, logger="llmgine.observability"):
        tracer.flush()
    assert len(handler.records) == 4  # the handler after the broken one still runs
    assert broken.calls == 2
    stats = tracer.statistics()
    assert stats.handler_errors == 2
    assert stats.handled == 4
    # logged once, then only counted
    assert len([r for r in caplog.records if "failed in handle()" in r.message]) == 1


async def test_aclose_delivers_everything_and_closes_handlers(
    handler: ListHandler,
) -> None:
    broken = FailingHandler(on_close=True)
    tracer = Tracer([handler, broken])
    tracer.emit(make_record())
    await tracer.aclose()
    assert len(handler.records) == 1
    assert handler.closed == 1
    assert tracer.statistics().handler_errors == 2  # one handle(), one close()
    tracer.emit(make_record())  # after close: counted, not held
    assert tracer.statistics().dropped == 1
    assert tracer.statistics().queued == 0
    await tracer.aclose()  # a second close does nothing
    assert handler.closed == 1


async def test_a_closed_tracer_cannot_serve_another_system(handler: ListHandler) -> None:
    tracer = Tracer([handler])
    tracer.start(object())
    await tracer.aclose()
    with pytest.raises(ConfigurationError, match="give each actor system a Tracer"):
        tracer.start(object())


async def test_aclose_delivers_inside_a_cancelled_scope(handler: ListHandler) -> None:
    tracer = Tracer([handler])
    tracer.emit(make_record())
    with trio.CancelScope() as scope:
        scope.cancel()
        await tracer.aclose()
    assert len(handler.records) == 1
    assert handler.closed == 1


async def test_run_delivers_after_flush_interval(
    handler: ListHandler, autojump_clock: trio.testing.MockClock
) -> None:
    tracer = Tracer([handler], flush_interval=0.5)
    async with trio.open_nursery() as nursery:
        tracer.start(object())
        nursery.start_soon(tracer.run)
        await trio.testing.wait_all_tasks_blocked()
        tracer.emit(make_record())
        await trio.sleep(0.49)
        assert handler.records == []  # one record does not wake the tracer
        await trio.sleep(0.02)
        assert len(handler.records) == 1  # the periodic tick delivered it
        nursery.cancel_scope.cancel()
    await tracer.aclose()


async def test_a_full_batch_wakes_the_tracer_at_once(
    handler: ListHandler, mock_clock: trio.testing.MockClock
) -> None:
    # time never moves: only a wake-up can deliver
    tracer = Tracer([handler], batch_size=8, flush_interval=60.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tracer.run)
        await trio.testing.wait_all_tasks_blocked()
        now = trio.current_time()
        for i in range(7):
            tracer.emit(make_record(name=f"r{i}"))
        await trio.testing.wait_all_tasks_blocked()
        assert handler.records == []
        tracer.emit(make_record(name="r7"))
        await trio.testing.wait_all_tasks_blocked()
        assert len(handler.records) == 8
        assert trio.current_time() == now
        nursery.cancel_scope.cancel()


async def test_records_held_before_run_are_delivered_at_once(
    handler: ListHandler, mock_clock: trio.testing.MockClock
) -> None:
    tracer = Tracer([handler], batch_size=2, flush_interval=60.0)
    tracer.start(object())
    for i in range(5):  # reaching a batch before run() starts wakes nobody
        tracer.emit(make_record(name=f"r{i}"))
    await trio.testing.wait_all_tasks_blocked()
    assert handler.records == []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tracer.run)
        await trio.testing.wait_all_tasks_blocked()
        assert len(handler.records) == 5
        nursery.cancel_scope.cancel()


async def test_emit_from_a_worker_thread(handler: ListHandler) -> None:
    tracer = Tracer([handler], batch_size=2, flush_interval=60.0)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(tracer.run)
        await trio.testing.wait_all_tasks_blocked()

        def work() -> None:
            tracer.emit(make_record(name="a"))
            tracer.emit(make_record(name="b"))

        await trio.to_thread.run_sync(work)
        await trio.testing.wait_all_tasks_blocked()
        assert [r.name for r in handler.records] == ["a", "b"]
        nursery.cancel_scope.cancel()


async def test_wake_after_the_run_ended_is_harmless(handler: ListHandler) -> None:
    tracer = Tracer([handler], batch_size=1)
    token: list[trio.lowlevel.TrioToken] = []

    async def main() -> None:
        tracer.start(object())
        token.append(trio.lowlevel.current_trio_token())

    await trio.to_thread.run_sync(trio.run, main)
    tracer.emit(make_record())  # the run that gave the token is over: no raise
    assert tracer.statistics().queued == 1


def test_traced_spans_reach_the_tracer(handler: ListHandler) -> None:
    tracer = Tracer([handler])
    with tracer.activate() as active:
        assert active is tracer
        assert current_sink.get() is tracer
        with traced(RecordKind.ENGINE_RUN, "invoke_agent helper"):
            with traced(RecordKind.LLM_CALL, "chat m", {"gen_ai.request.model": "m"}):
                pass
            with pytest.raises(KeyError), traced(RecordKind.TOOL_CALL, "execute_tool t"):
                raise KeyError("x")
    assert current_sink.get() is None
    with traced(RecordKind.CUSTOM, "not recorded"):
        pass
    tracer.flush()
    llm, tool, engine = handler.records
    assert engine.parent_id is None
    assert llm.parent_id == engine.span_id == tool.parent_id
    assert {llm.trace_id, tool.trace_id} == {engine.trace_id}
    assert tool.error_type == "KeyError"
    assert llm.attributes == {"gen_ai.request.model": "m"}


class TracingHandler(ListHandler):
    """A handler whose own work is traced: it must not feed the tracer."""

    def handle(self, records: Sequence[TraceRecord]) -> None:
        with traced(RecordKind.CUSTOM, "inside handler"):
            super().handle(records)

    def close(self) -> None:
        with traced(RecordKind.CUSTOM, "inside close"):
            super().close()


async def test_nothing_the_handlers_do_comes_back(handler: ListHandler) -> None:
    feeding = TracingHandler()
    tracer = Tracer([feeding], batch_size=1)
    sink_token = current_sink.set(tracer)
    trace_token = current_trace.set(None)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(tracer.run)  # inherits current_sink = tracer
            await trio.testing.wait_all_tasks_blocked()
            tracer.emit(make_record(name="one"))
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        tracer.emit(make_record(name="two"))
        tracer.flush()
        await tracer.aclose()
    finally:
        current_sink.reset(sink_token)
        current_trace.reset(trace_token)
    assert [r.name for r in feeding.records] == ["one", "two"]
    assert tracer.statistics().received == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0}, "'capacity' must be a positive int (got 0)"),
        ({"capacity": 1.5}, "'capacity' must be a positive int (got 1.5)"),
        ({"batch_size": -1}, "'batch_size' must be a positive int (got -1)"),
        ({"flush_interval": 0}, "'flush_interval' must be a positive number"),
        ({"flush_interval": float("inf")}, "'flush_interval' must be a positive number"),
        ({"flush_interval": True}, "'flush_interval' must be a positive number"),
        ({"sample_ratio": 1.5}, "'sample_ratio' must be a number from 0 to 1"),
        ({"sample_ratio": -0.1}, "'sample_ratio' must be a number from 0 to 1"),
        ({"sample_ratio": float("nan")}, "'sample_ratio' must be a number from 0 to 1"),
        ({"sample_ratio": "0.5"}, "'sample_ratio' must be a number from 0 to 1"),
    ],
)
def test_bad_settings_say_what_was_expected(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Tracer([], **kwargs)  # type: ignore[arg-type]


def test_a_handler_needs_a_handle_method() -> None:
    with pytest.raises(ConfigurationError, match="handle"):
        Tracer([object()])  # type: ignore[list-item]


def test_repr_and_handlers(handler: ListHandler) -> None:
    tracer = Tracer([handler])
    tracer.emit(make_record())
    assert tracer.handlers == (handler,)
    assert repr(tracer) == "<Tracer handlers=1 held=1 handled=0 dropped=0>"
    sampled = Tracer([handler], sample_ratio=0.25)
    assert repr(sampled) == (
        "<Tracer handlers=1 sample_ratio=0.25 held=0 handled=0 dropped=0>"
    )
