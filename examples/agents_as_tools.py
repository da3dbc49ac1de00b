"""Agents as tools: an engine is a tool of another engine.

``agent_tool(engine_ref, name=..., description=...)`` turns a spawned engine
into a tool. The parent's model calls it with ``{"task": "..."}``; the child
runs the task as a turn of its own conversation (its own provider, tools and
limits) and its reply is the tool's result. What the child spent on models is
added to the parent turn's usage, a failing child is an error result the
parent's model reads, and the child's ``invoke_agent`` span sits under the
parent's ``execute_tool`` span.

Run: python examples/agents_as_tools.py
"""

from __future__ import annotations

from collections.abc import Sequence

import trio

from llmgine import ProviderUnavailable, open_actor_system
from llmgine.engines import ChatEngine, UserInput, agent_tool
from llmgine.llm import ScriptedProvider, ToolResultPart
from llmgine.observability import RecordKind, Tracer, TraceRecord
from llmgine.tools import tool

SHOWN = {RecordKind.ENGINE_RUN, RecordKind.TOOL_CALL, RecordKind.LLM_CALL}


class Keep:
    """A trace handler that keeps every record, to print the tree at the end."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []

    def handle(self, records: Sequence[TraceRecord]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        pass


def print_tree(records: list[TraceRecord]) -> None:
    """Engine runs, model calls and tool calls, indented under their parents."""
    spans = {r.span_id: r for r in records if r.duration is not None}

    def depth(record: TraceRecord) -> int:
        n, parent = 0, spans.get(record.parent_id or "")
        while parent is not None:
            n += parent.kind in SHOWN
            parent = spans.get(parent.parent_id or "")
        return n

    for record in sorted(spans.values(), key=lambda r: r.at):
        if record.kind in SHOWN:
            print(f"  {'  ' * depth(record)}{record.name}")


@tool
async def search(query: str) -> str:
    """Search the web.

    Args:
        query: What to look for.
    """
    return "Paris: 2.1 million inhabitants (2023)."


def tool_results(messages: Sequence[object]) -> list[ToolResultPart]:
    return [
        part
        for message in messages
        for part in getattr(message, "parts", ())
        if isinstance(part, ToolResultPart)
    ]


async def main() -> None:
    keep = Keep()
    researcher_model = ScriptedProvider(
        [
            ScriptedProvider.tool_call("search", query="population of Paris"),
            "2.1 million.",
        ]
    )
    checker_model = ScriptedProvider(
        [ProviderUnavailable("fact-check model down", provider="scripted")]
    )
    lead_model = ScriptedProvider(
        [
            ScriptedProvider.tool_call("research", task="How many people live in Paris?"),
            ScriptedProvider.tool_call("fact_check", task="Is it 2.1 million?"),
            "About 2.1 million people live in Paris (not double-checked).",
        ]
    )
    async with open_actor_system("app", tracer=Tracer([keep])) as system:
        researcher = await system.spawn(
            ChatEngine, researcher_model, name="researcher", model="small", tools=[search]
        )
        checker = await system.spawn(
            ChatEngine, checker_model, name="checker", model="small"
        )
        lead = await system.spawn(
            ChatEngine,
            lead_model,
            name="lead",
            model="large",
            tools=[
                agent_tool(
                    researcher, name="research", description="Research on the web."
                ),
                agent_tool(checker, name="fact_check", description="Check a claim."),
            ],
        )
        result = await lead.ask(UserInput("How big is Paris?"), timeout=60)

    answered, failed = tool_results(result.messages)
    print(f"research -> {answered.content!r}")
    print(f"fact_check -> is_error={failed.is_error}: {failed.content}")
    print(f"lead: {result.text}")
    spent = {"large": 0, "small": 0}  # input tokens by model: lead, children
    for record in keep.records:
        if record.kind is RecordKind.LLM_CALL:
            model = record.attributes["gen_ai.request.model"]
            tokens = record.attributes.get("gen_ai.usage.input_tokens", 0)
            spent[str(model)] += tokens if isinstance(tokens, int) else 0
    print(f"input tokens: lead {spent['large']} + children {spent['small']}", end="")
    print(f" = the turn's usage {result.usage.input_tokens}")
    print("trace:")
    print_tree(keep.records)


if __name__ == "__main__":
    trio.run(main)
