"""``ToolLike``: a registry runs tools defined elsewhere (an MCP server's) too."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import trio

from llmgine._exceptions import ToolError
from llmgine.actors import open_actor_system
from llmgine.llm import ToolCallPart, ToolResultPart, ToolSpec
from llmgine.tools import ToolLike, ToolRegistry, spawn_tool_actor, tool
from llmgine.tracing import TraceRecord, current_sink


class Remote:
    """A tool whose values another process would check and compute."""

    def __init__(self, name: str, timeout: float | None = None) -> None:
        self._spec = ToolSpec(name=name, description=f"The remote {name}.")
        self._timeout = timeout
        self.received: list[dict[str, Any]] = []

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def description(self) -> str:
        return self._spec.description

    @property
    def spec(self) -> ToolSpec:
        return self._spec

    @property
    def timeout(self) -> float | None:
        return self._timeout

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        if not isinstance(arguments, str):
            return dict(arguments)
        try:
            parsed: dict[str, Any] = json.loads(arguments)
        except ValueError:
            raise ToolError(f"arguments for {self.name!r} are not JSON") from None
        return parsed

    async def invoke(self, values: Mapping[str, Any]) -> Any:
        self.received.append(dict(values))
        await trio.lowlevel.checkpoint()
        match values.get("answer"):
            case "value":
                return {"sum": 3}
            case "error":
                return ToolResultPart(
                    call_id="", content="the server says no", is_error=True
                )
            case "sleep":
                await trio.sleep(10)
        return ToolResultPart(call_id="", content="fine")


@tool
def local(x: int) -> int:
    """A local tool."""
    return x


class Recording:
    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self.open_spans = 0

    def emit(self, record: TraceRecord) -> None:
        self.records.append(record)


@pytest.fixture
def sink() -> Iterator[Recording]:
    recording = Recording()
    token = current_sink.set(recording)  # type: ignore[arg-type]
    try:
        yield recording
    finally:
        current_sink.reset(token)


def call(arguments: Any, name: str = "remote") -> ToolCallPart:
    return ToolCallPart(id="c9", name=name, arguments=arguments)


def test_a_tool_like_is_registered_as_it_is() -> None:
    remote = Remote("remote")
    assert isinstance(remote, ToolLike)
    assert not isinstance(lambda: None, ToolLike)
    registry = ToolRegistry([local])
    assert registry.register(remote) is remote
    assert registry.get("remote") is remote
    assert remote in registry
    assert Remote("remote") not in registry  # same name, another tool
    assert registry.specs() == (local.spec, remote.spec)
    with pytest.raises(ToolError, match="already registered"):
        registry.register(Remote("remote"))


async def test_its_answers_become_results(sink: Recording) -> None:
    remote = Remote("remote")
    registry = ToolRegistry([remote])

    result = await registry.execute(call({"answer": "value"}))
    assert result == ToolResultPart(call_id="c9", content='{"sum": 3}', name="remote")

    result = await registry.execute(call('{"answer": "fine"}'))
    assert result == ToolResultPart(call_id="c9", content="fine", name="remote")
    assert remote.received[-1] == {"answer": "fine"}

    # A result the tool marks as an error is sent as it is, and traced as failed.
    result = await registry.execute(call({"answer": "error"}))
    assert result == ToolResultPart(
        call_id="c9", content="the server says no", is_error=True, name="remote"
    )
    record = sink.records[-1]
    assert not record.ok
    assert record.attributes["error.type"] == "tool_error"
    assert record.attributes["gen_ai.tool.description"] == "The remote remote."

    result = await registry.execute(call("{oops"))
    assert result.is_error
    assert result.content == "arguments for 'remote' are not JSON"
    assert sink.records[-1].attributes["error.type"] == "invalid_arguments"


async def test_its_own_timeout_applies(autojump_clock: trio.abc.Clock) -> None:
    registry = ToolRegistry([Remote("remote", timeout=2)], timeout=60)
    result = await registry.execute(call({"answer": "sleep"}))
    assert result.is_error
    assert result.content == "tool 'remote' timed out after 2 seconds"


async def test_a_tool_actor_runs_it_too() -> None:
    async with open_actor_system("app") as system:
        tools = await spawn_tool_actor(system, ToolRegistry([local, Remote("remote")]))
        results = await tools.execute_all(
            [call({"answer": "value"}), call({"x": 1}, name="local")]
        )
        assert [r.content for r in results] == ['{"sum": 3}', "1"]
