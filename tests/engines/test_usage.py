"""What a turn spent: its LLM calls, what its tools spent on models, and the span."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import trio

from llmgine._exceptions import ProviderUnavailable, UsageLimitExceeded
from llmgine.actors import RecordKind, open_actor_system
from llmgine.engines import (
    ChatEngine,
    Conversation,
    ResumeTurn,
    SQLiteConversationStore,
    UsageLimits,
    UserInput,
)
from llmgine.llm import ScriptedProvider, ToolResultPart, ToolSpec, Usage
from llmgine.tools import ToolRegistry

from .conftest import RecordingSink, answer, call, calls, registry, spawn_chat, tokens


class Spender:
    """A tool that spends tokens of its own (as an engine run as a tool does)."""

    name = "research"
    description = "Research a topic."
    spec = ToolSpec(name="research", description="Research a topic.")
    timeout = None

    def __init__(self, usage: Usage, *, gate: trio.Event | None = None) -> None:
        self.usage = usage
        self.gate = gate
        self.runs = 0

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        return {}

    async def invoke(self, values: Mapping[str, Any]) -> ToolResultPart:
        self.runs += 1
        if self.gate is not None:
            await self.gate.wait()
        return ToolResultPart(call_id="", content="found it", usage=self.usage)


async def test_a_tool_results_usage_is_added_to_the_turn() -> None:
    spender = Spender(tokens(100, 40))
    provider = ScriptedProvider(
        [
            calls(call("r1", "research"), usage=tokens(10, 2)),
            answer("Done.", tokens(5, 1)),
        ]
    )
    async with open_actor_system("app") as system:
        engine = await spawn_chat(
            system, provider=provider, tools=ToolRegistry([spender])
        )
        result = await engine.ask(UserInput("Research it."))
    assert result.usage == tokens(115, 43)
    assert result.messages[2].parts[0].usage == tokens(100, 40)
    # the usage never reaches the model
    assert "usage" not in str(provider.requests[1].messages[-1].parts[0].content)


async def test_a_tools_usage_counts_toward_the_limits() -> None:
    provider = ScriptedProvider([calls(call("r1", "research")), "never"])
    async with open_actor_system("app") as system:
        engine = await spawn_chat(
            system,
            provider=provider,
            tools=ToolRegistry([Spender(tokens(600, 0))]),
            usage_limits=UsageLimits(max_input_tokens=500),
        )
        with pytest.raises(UsageLimitExceeded, match="used 600 tokens"):
            await engine.ask(UserInput("Research it."))
    assert len(provider.requests) == 1  # stopped before the next LLM call


async def test_an_error_result_keeps_its_usage() -> None:
    class Failing(Spender):
        async def invoke(self, values: Mapping[str, Any]) -> ToolResultPart:
            return ToolResultPart(
                call_id="", content="child failed", is_error=True, usage=self.usage
            )

    provider = ScriptedProvider([calls(call("r1", "research")), answer("Sorry.")])
    async with open_actor_system("app") as system:
        engine = await spawn_chat(
            system, provider=provider, tools=ToolRegistry([Failing(tokens(7, 3))])
        )
        result = await engine.ask(UserInput("Research it."))
    assert result.usage == tokens(7, 3)
    assert result.messages[2].parts[0].is_error


async def test_a_resumed_turn_counts_the_usage_of_journalled_results(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chat.sqlite3"
    spender = Spender(tokens(100, 40))

    async def engine_on(system: Any, provider: ScriptedProvider) -> Any:
        return await system.spawn(
            functools.partial(
                ChatEngine,
                provider=provider,
                model="m",
                tools=ToolRegistry([spender]),
                conversation=Conversation("c1", store=SQLiteConversationStore(path)),
                durable=True,
            ),
            name="chat",
        )

    first = ScriptedProvider(
        [calls(call("r1", "research"), usage=tokens(10, 2)), ProviderUnavailable]
    )
    async with open_actor_system("one") as system:
        engine = await engine_on(system, first)
        with pytest.raises(ProviderUnavailable):
            await engine.ask(UserInput("Research it."))
    async with open_actor_system("two") as system:
        engine = await engine_on(
            system, ScriptedProvider([answer("Done.", tokens(5, 1))])
        )
        result = await engine.ask(ResumeTurn())
    assert spender.runs == 1
    assert result.usage == tokens(115, 43)


# -- the invoke_agent span of a failed turn -----------------------------------------


def run_span(sink: RecordingSink) -> Mapping[str, object]:
    [run] = [r for r in sink.records if r.kind is RecordKind.ENGINE_RUN]
    assert not run.ok
    return dict(run.attributes)


async def test_a_turn_that_failed_before_any_reply_records_no_usage() -> None:
    sink = RecordingSink()
    async with open_actor_system("app", tracer=sink) as system:
        engine = await spawn_chat(
            system, provider=ScriptedProvider([ProviderUnavailable])
        )
        with pytest.raises(ProviderUnavailable):
            await engine.ask(UserInput("hi"))
    attributes = run_span(sink)
    assert "gen_ai.usage.input_tokens" not in attributes
    assert "gen_ai.usage.output_tokens" not in attributes
    assert attributes["llmgine.engine.steps"] == 1


async def test_a_turn_that_failed_later_records_the_usage_it_knew() -> None:
    sink = RecordingSink()
    provider = ScriptedProvider(
        [calls(call("c1", "add", a=1, b=2), usage=tokens(30, 4)), ProviderUnavailable]
    )
    async with open_actor_system("app", tracer=sink) as system:
        engine = await spawn_chat(system, provider=provider, tools=registry())
        with pytest.raises(ProviderUnavailable):
            await engine.ask(UserInput("hi"))
    attributes = run_span(sink)
    assert attributes["gen_ai.usage.input_tokens"] == 30
    assert attributes["gen_ai.usage.output_tokens"] == 4
    assert attributes["llmgine.engine.steps"] == 2
