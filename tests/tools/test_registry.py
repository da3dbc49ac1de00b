"""``ToolRegistry``: lookups, and execution that never raises for mistakes."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
import trio
import trio.testing

from llmgine._exceptions import ConfigurationError, ToolError
from llmgine.llm import ToolCallPart, ToolResultPart, ToolSpec
from llmgine.tools import Tool, ToolRegistry, tool
from llmgine.tracing import (
    RecordKind,
    TraceContext,
    TraceRecord,
    current_sink,
    current_trace,
)


@attrs.frozen
class Forecast:
    city: str
    celsius: float


@tool
async def forecast(city: str) -> Forecast:
    """Forecast the weather."""
    return Forecast(city=city, celsius=21.5)


@tool
def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


@tool
async def nap(seconds: float) -> str:
    await trio.sleep(seconds)
    return "rested"


@tool
def explode(kind: str) -> None:
    if kind == "value":
        raise ValueError("bad value")
    if kind == "bare":
        raise LookupError
    raise RuntimeError("x" * 5000)


def call(name: str, arguments: Any = None, id: str = "c1") -> ToolCallPart:
    return ToolCallPart(
        id=id, name=name, arguments={} if arguments is None else arguments
    )


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry([forecast, add, nap, explode])


class RecordingSink:
    """Keeps what ``traced`` emits."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self.open_spans = 0

    def emit(self, record: TraceRecord) -> None:
        self.records.append(record)


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    recording = RecordingSink()
    token = current_sink.set(recording)  # type: ignore[arg-type]
    try:
        yield recording
    finally:
        current_sink.reset(token)


# -- registration and lookup ---------------------------------------------------


def test_registration_lookup_and_iteration(registry: ToolRegistry) -> None:
    assert len(registry) == 4
    assert [t.name for t in registry] == ["forecast", "add", "nap", "explode"]
    assert registry.get("add") is add
    assert registry.get("missing") is None
    assert registry["add"] is add
    assert "add" in registry
    assert add in registry
    assert "missing" not in registry
    assert tool(add.function) not in registry  # same name, another tool
    assert registry.specs() == tuple(t.spec for t in registry)
    assert repr(registry) == "<ToolRegistry ['forecast', 'add', 'nap', 'explode']>"


def test_getitem_names_what_is_registered(registry: ToolRegistry) -> None:
    with pytest.raises(
        KeyError, match="no tool named 'nope'; available tools: 'forecast'"
    ):
        registry["nope"]


def test_register_takes_functions_and_works_as_a_decorator() -> None:
    registry = ToolRegistry()

    @registry.register
    def shout(text: str) -> str:
        return text.upper()

    assert isinstance(shout, Tool)
    assert shout("hi") == "HI"
    assert registry.get("shout") is shout


def test_a_name_can_be_registered_once() -> None:
    registry = ToolRegistry([add])
    with pytest.raises(ToolError, match="a tool named 'add' is already registered"):
        registry.register(tool(add.function))


@pytest.mark.parametrize("timeout", [0, -2.0, "1", True])
def test_bad_default_timeouts_are_configuration_errors(timeout: object) -> None:
    with pytest.raises(ConfigurationError, match="'timeout' must be a positive number"):
        ToolRegistry(timeout=timeout)  # type: ignore[arg-type]


def test_a_tools_own_timeout_wins_over_the_registry_default() -> None:
    registry = ToolRegistry([add], timeout=3)
    assert registry.timeout == 3.0
    assert registry.timeout_for(add) == 3.0
    assert registry.timeout_for(tool(timeout=1)(add.function)) == 1.0


# -- successful execution ------------------------------------------------------


async def test_results_carry_the_call_id_the_tool_name_and_text(
    registry: ToolRegistry,
) -> None:
    assert await registry.execute(call("add", {"a": 1}, id="c7")) == ToolResultPart(
        call_id="c7", content="3", is_error=False, name="add"
    )
    result = await registry.execute(call("forecast", {"city": "Oslo"}))
    assert json.loads(result.content) == {"city": "Oslo", "celsius": 21.5}
    assert not result.is_error


async def test_arguments_may_come_as_json_text(registry: ToolRegistry) -> None:
    result = await registry.execute(call("add", '{"a": 40, "b": 2}'))
    assert result.content == "42"


# -- mistakes become error results ----------------------------------------------


async def error(registry: ToolRegistry, part: ToolCallPart) -> str:
    result = await registry.execute(part)
    assert result.is_error
    assert result.call_id == part.id
    assert result.name == part.name
    return result.content


async def test_an_unknown_tool_is_an_error_result(registry: ToolRegistry) -> None:
    assert await error(registry, call("weather")) == (
        "unknown tool 'weather'; available tools: 'forecast', 'add', 'nap', 'explode'"
    )
    assert await error(ToolRegistry(), call("weather")) == (
        "unknown tool 'weather'; no tools are registered"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"a": "abc"}, "a: expected an integer, got string 'abc'"),
        ({"a": True}, "a: expected an integer, got boolean True"),
        ({}, "missing required argument 'a'"),
        ({"a": 1, "c": 3}, "unexpected argument 'c'"),
        ('{"a": 1', "arguments for tool 'add' are not valid JSON"),
        ("[1]", "arguments for tool 'add' must be a JSON object"),
    ],
)
async def test_arguments_that_do_not_validate_are_error_results(
    registry: ToolRegistry, arguments: object, message: str
) -> None:
    assert message in await error(registry, call("add", arguments))


async def test_an_exception_in_the_tool_is_reported_by_type_and_message(
    registry: ToolRegistry,
) -> None:
    assert await error(registry, call("explode", {"kind": "value"})) == (
        "ValueError: bad value"
    )
    assert await error(registry, call("explode", {"kind": "bare"})) == "LookupError"
    long = await error(registry, call("explode", {"kind": "long"}))
    assert long.startswith("RuntimeError: xxx")
    assert long.endswith("...")
    assert len(long) == 1000


async def test_a_result_that_cannot_be_encoded_is_an_error_result() -> None:
    @tool
    def odd_keys() -> dict[tuple[int, int], str]:
        return {(1, 2): "x"}

    content = await error(ToolRegistry([odd_keys]), call("odd_keys"))
    assert content.startswith("tool 'odd_keys' returned a value that cannot be sent: ")


# -- timeouts and cancellation ---------------------------------------------------


async def test_a_slow_async_tool_times_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    registry = ToolRegistry([tool(timeout=5)(nap.function)])
    start = trio.current_time()
    content = await error(registry, call("nap", {"seconds": 60}))
    assert content == "tool 'nap' timed out after 5 seconds"
    assert trio.current_time() - start == pytest.approx(5)


async def test_the_registry_default_timeout_applies_to_tools_without_one(
    autojump_clock: trio.testing.MockClock,
) -> None:
    registry = ToolRegistry([nap], timeout=2.5)
    assert await error(registry, call("nap", {"seconds": 60})) == (
        "tool 'nap' timed out after 2.5 seconds"
    )
    result = await registry.execute(call("nap", {"seconds": 1}))
    assert result.content == "rested"


async def test_an_infinite_tool_timeout_overrides_the_registry_default(
    autojump_clock: trio.testing.MockClock,
) -> None:
    registry = ToolRegistry([tool(timeout=math.inf)(nap.function)], timeout=1)
    result = await registry.execute(call("nap", {"seconds": 30}))
    assert result.content == "rested"


async def test_a_hanging_sync_tool_times_out_in_its_thread(
    autojump_clock: trio.testing.MockClock,
) -> None:
    release = threading.Event()
    finished = threading.Event()

    @tool(timeout=3)
    def hang() -> str:
        release.wait(10)
        finished.set()
        return "late"

    try:
        content = await error(ToolRegistry([hang]), call("hang"))
        assert content == "tool 'hang' timed out after 3 seconds"
        assert not finished.is_set()  # the thread was abandoned, not waited for
    finally:
        release.set()
    assert finished.wait(5)


async def test_the_callers_cancellation_is_never_turned_into_a_result(
    registry: ToolRegistry, autojump_clock: trio.testing.MockClock
) -> None:
    outcome: list[ToolResultPart] = []
    with trio.move_on_after(1) as scope:
        outcome.append(await registry.execute(call("nap", {"seconds": 60})))
    assert scope.cancelled_caught
    assert outcome == []


# -- concurrency -----------------------------------------------------------------


async def test_execute_all_runs_calls_concurrently_in_call_order(
    registry: ToolRegistry, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    results = await registry.execute_all(
        [
            call("nap", {"seconds": 3}, id="a"),
            call("missing", id="b"),
            call("nap", {"seconds": 1}, id="c"),
            call("add", {"a": 1}, id="d"),
        ]
    )
    assert trio.current_time() - start == pytest.approx(3)
    assert [r.call_id for r in results] == ["a", "b", "c", "d"]
    assert [r.is_error for r in results] == [False, True, False, False]
    assert results[3].content == "3"


async def test_sync_tools_run_concurrently_in_threads() -> None:
    barrier = threading.Barrier(3, timeout=10)

    @tool
    def meet(n: int) -> int:
        barrier.wait()  # passes only if all three calls run at the same time
        return n

    registry = ToolRegistry([meet])
    results = await registry.execute_all(
        [call("meet", {"n": n}, id=str(n)) for n in range(3)]
    )
    assert [r.content for r in results] == ["0", "1", "2"]


async def test_parallel_calls_in_a_nursery_do_not_disturb_each_other(
    registry: ToolRegistry, autojump_clock: trio.testing.MockClock
) -> None:
    results: dict[str, ToolResultPart] = {}

    async def run(part: ToolCallPart) -> None:
        results[part.id] = await registry.execute(part)

    async with trio.open_nursery() as nursery:
        for i in range(10):
            nursery.start_soon(run, call("nap", {"seconds": 10 - i}, id=str(i)))
        nursery.start_soon(run, call("explode", {"kind": "value"}, id="boom"))
    assert all(results[str(i)].content == "rested" for i in range(10))
    assert results["boom"].is_error


# -- tracing --------------------------------------------------------------------


async def test_each_execution_is_an_execute_tool_span(
    registry: ToolRegistry, sink: RecordingSink
) -> None:
    parent = TraceContext.new_root()
    token = current_trace.set(parent)
    try:
        await registry.execute(call("add", {"a": 1}, id="c1"))
    finally:
        current_trace.reset(token)
    (record,) = sink.records
    assert record.kind is RecordKind.TOOL_CALL
    assert record.name == "execute_tool add"
    assert record.ok
    assert record.trace_id == parent.trace_id
    assert record.parent_id == parent.span_id
    assert record.attributes == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": "c1",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Add two numbers.",
    }


@pytest.mark.parametrize(
    ("part", "error_type", "record_error_type"),
    [
        (call("missing"), "unknown_tool", "ToolError"),
        (call("add", {"a": "x"}), "invalid_arguments", "ToolError"),
        (call("explode", {"kind": "value"}), "ValueError", "ValueError"),
        (call("nap", {"seconds": 99}), "timeout", "TooSlowError"),
    ],
)
async def test_failed_executions_are_failed_spans_with_an_error_type(
    sink: RecordingSink,
    autojump_clock: trio.testing.MockClock,
    part: ToolCallPart,
    error_type: str,
    record_error_type: str,
) -> None:
    # Only the async tool gets a timeout: the mock clock may jump while a thread
    # runs a sync tool.
    registry = ToolRegistry([add, tool(timeout=1)(nap.function), explode])
    result = await registry.execute(part)
    assert result.is_error
    (record,) = sink.records
    assert record.attributes["error.type"] == error_type
    assert record.error_type == record_error_type
    assert not record.ok
    assert record.attributes["gen_ai.tool.name"] == part.name


async def test_arguments_nested_past_the_limit_are_an_error_result() -> None:
    @tool
    def echo(value: Any) -> str:
        """Echo."""
        return "ran"

    registry = ToolRegistry([echo])
    deep_text = '{"value":' + '{"a":' * 1000 + "1" + "}" * 1001
    deep_value: object = 1
    for _ in range(1000):
        deep_value = [deep_value]
    for arguments in (deep_text, {"value": deep_value}):
        result = await registry.execute(
            ToolCallPart(id="c", name="echo", arguments=arguments)
        )
        assert result.is_error
        assert "nested" in result.content


async def test_a_tool_like_whose_validate_slips_still_answers_an_error() -> None:
    class Sloppy:
        name = "sloppy"
        description = "validates badly"
        timeout = None
        spec = ToolSpec(name="sloppy", description="", parameters={"type": "object"})

        def validate(self, arguments: object) -> dict[str, object]:
            raise RecursionError("too deep for me")

        async def invoke(self, values: object) -> object:  # pragma: no cover
            return "never"

    registry = ToolRegistry([Sloppy()])
    result = await registry.execute(ToolCallPart(id="c", name="sloppy", arguments={}))
    assert result.is_error
    assert result.content == "invalid arguments for tool 'sloppy' (RecursionError)"
