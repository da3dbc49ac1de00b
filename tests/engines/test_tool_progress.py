"""Progress of a running tool call reaches the turn's stream as ToolProgress."""

from __future__ import annotations

import trio

from llmgine.actors import ActorSystem
from llmgine.engines import ToolExecuted, ToolProgress, TurnEvent, UserInput
from llmgine.llm import ScriptedProvider
from llmgine.tools import MCPProgress, ToolRegistry, progress_listener, tool

from .conftest import answer, call, calls, spawn_chat


@tool
async def index(pages: int) -> str:
    """Index some pages, reporting progress as an MCP tool does.

    Args:
        pages: how many pages to index.
    """
    listener = progress_listener.get()
    for done in range(1, pages + 1):
        if listener is not None:
            heard = listener(
                MCPProgress(
                    server="/app/docs",
                    tool="index",
                    progress=done,
                    total=pages,
                    message=f"page {done}",
                )
            )
            if heard is not None:
                await heard
    return f"indexed {pages}"


def provider() -> ScriptedProvider:
    return ScriptedProvider([calls(call("c1", "index", pages=2)), answer("Done.")])


async def test_a_streamed_turn_hears_each_progress_report_before_the_result(
    system: ActorSystem,
) -> None:
    engine = await spawn_chat(system, provider=provider(), tools=ToolRegistry([index]))
    send, receive = trio.open_memory_channel[TurnEvent](10)
    async with trio.open_nursery() as nursery:
        events: list[TurnEvent] = []

        async def read() -> None:
            events.extend([event async for event in receive])

        nursery.start_soon(read)
        result = await engine.ask(UserInput("index", stream_to=send))
    assert result.text == "Done."
    tool_events = [e for e in events if isinstance(e, ToolProgress | ToolExecuted)]
    assert [
        (type(e).__name__, getattr(e, "progress", None), getattr(e, "message", None))
        for e in tool_events
    ] == [
        ("ToolProgress", 2 - 1, "page 1"),
        ("ToolProgress", 2, "page 2"),
        ("ToolExecuted", None, None),
    ]
    first = tool_events[0]
    assert isinstance(first, ToolProgress)
    assert (first.call.id, first.total) == ("c1", 2)


async def test_a_turn_not_streamed_sets_no_listener(system: ActorSystem) -> None:
    engine = await spawn_chat(system, provider=provider(), tools=ToolRegistry([index]))
    result = await engine.ask(UserInput("index"))
    assert result.text == "Done."
    assert progress_listener.get() is None
