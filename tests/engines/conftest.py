"""Helpers shared by the engine tests: scripted replies, tools, a trace sink."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from llmgine.actors import ActorRef, ActorSystem, open_actor_system
from llmgine.engines import ChatEngine
from llmgine.llm import (
    FinishReason,
    LLMResponse,
    Message,
    Role,
    TextPart,
    ToolCallPart,
    Usage,
)
from llmgine.tools import ToolRegistry, tool
from llmgine.tracing import TraceRecord, TraceSink


def call(id: str, name: str, **arguments: Any) -> ToolCallPart:
    """A tool call part."""
    return ToolCallPart(id=id, name=name, arguments=arguments)


def calls(
    *parts: ToolCallPart, usage: Usage | None = None, text: str = ""
) -> LLMResponse:
    """A reply asking for tool calls."""
    content: list[Any] = [TextPart(text=text)] if text else []
    return LLMResponse(
        message=Message(role=Role.ASSISTANT, parts=[*content, *parts]),
        finish_reason=FinishReason.TOOL_CALL,
        usage=usage or Usage(),
    )


def answer(text: str, usage: Usage | None = None) -> LLMResponse:
    """A final text reply."""
    return LLMResponse(message=Message.assistant(text), usage=usage or Usage())


def tokens(i: int, o: int) -> Usage:
    return Usage(input_tokens=i, output_tokens=o)


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


@tool
async def weather(city: str) -> str:
    """Get the weather of a city.

    Args:
        city: City name.
    """
    await trio.lowlevel.checkpoint()
    return f"sunny in {city}"


@tool
def explode(reason: str) -> str:
    """Always fails.

    Args:
        reason: What to say.
    """
    raise RuntimeError(reason)


def registry() -> ToolRegistry:
    return ToolRegistry([add, weather, explode])


class RecordingSink:
    """A trace sink that keeps every record."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self.open_spans = 0

    def emit(self, record: TraceRecord) -> None:
        self.records.append(record)

    def start(self, system: object) -> None:
        pass

    async def run(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def _sink_is_a_sink(sink: RecordingSink) -> TraceSink:
    return sink  # mypy checks that RecordingSink is a TraceSink


@pytest.fixture
async def system() -> AsyncIterator[ActorSystem]:
    async with open_actor_system("test", shutdown_timeout=1.0) as system:
        yield system


async def spawn_chat(
    system: ActorSystem, actor: str = "chat", **options: Any
) -> ActorRef:
    """Spawn a ChatEngine as ``actor`` (``model`` defaults to ``"test-model"``)."""
    options.setdefault("model", "test-model")
    return await system.spawn(functools.partial(ChatEngine, **options), name=actor)


def roles(messages: tuple[Message, ...] | list[Message]) -> list[str]:
    return [m.role.value for m in messages]
