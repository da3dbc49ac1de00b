"""agent_tool: an engine as a tool of another; usage rolls up, failures are results."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio

from llmgine._exceptions import ConfigurationError, ProviderUnavailable
from llmgine.actors import Actor, RecordKind, TraceRecord, open_actor_system
from llmgine.engines import AgentTool, ChatEngine, GetHistory, UserInput, agent_tool
from llmgine.llm import Role, ScriptedProvider, ToolCallPart, ToolResultPart, Usage
from llmgine.tools import ToolLike, ToolRegistry

from .conftest import RecordingSink


def tokens(i: int, o: int) -> Usage:
    return Usage(input_tokens=i, output_tokens=o)


def delegate(task: str, usage: Usage | None = None) -> Any:
    return ScriptedProvider.tool_calls(("research", {"task": task}), usage=usage)


def tool_results(messages: Any) -> list[ToolResultPart]:
    return [
        part
        for message in messages
        if message.role is Role.TOOL
        for part in message.parts
        if isinstance(part, ToolResultPart)
    ]


async def test_the_child_answers_the_task_and_its_usage_rolls_up() -> None:
    child_model = ScriptedProvider(
        [ScriptedProvider.text("Paris has 2.1 million people.", usage=tokens(50, 10))]
    )
    parent_model = ScriptedProvider(
        [
            delegate("How many people live in Paris?", tokens(100, 20)),
            ScriptedProvider.text("About 2.1 million.", usage=tokens(200, 5)),
        ]
    )
    async with open_actor_system("app") as system:
        child = await system.spawn(ChatEngine, child_model, name="researcher", model="m")
        research = agent_tool(child, name="research", description="Look things up.")
        parent = await system.spawn(
            ChatEngine, parent_model, name="lead", model="m", tools=[research]
        )
        result = await parent.ask(UserInput("Population of Paris?"))
        child_history = await child.ask(GetHistory())
    assert result.text == "About 2.1 million."
    [answer] = tool_results(result.messages)
    assert (answer.content, answer.is_error) == ("Paris has 2.1 million people.", False)
    assert answer.usage == tokens(50, 10)
    assert result.usage == tokens(350, 35)  # the parent's two calls and the child's
    assert result.steps == 2  # the child's LLM calls are its own steps
    assert [m.text for m in child_history] == [
        "How many people live in Paris?",
        "Paris has 2.1 million people.",
    ]
    # the model was offered one string argument, 'task'
    [spec] = parent_model.requests[0].tools
    assert spec.name == "research"
    assert spec.description == "Look things up."
    assert spec.parameters["required"] == ["task"]
    assert spec.parameters["properties"]["task"]["type"] == "string"


async def test_the_childs_failure_is_an_error_result_for_the_parent() -> None:
    child_model = ScriptedProvider([ProviderUnavailable("down", provider="scripted")])
    parent_model = ScriptedProvider([delegate("anything"), "The researcher is down."])
    async with open_actor_system("app") as system:
        child = await system.spawn(ChatEngine, child_model, name="researcher", model="m")
        research = agent_tool(child, name="research", description="Look things up.")
        parent = await system.spawn(
            ChatEngine, parent_model, name="lead", model="m", tools=[research]
        )
        result = await parent.ask(UserInput("Go."))
        assert child.statistics().restarts == 0
    [error] = tool_results(result.messages)
    assert error.is_error
    assert error.content == (
        "the agent 'research' failed: ProviderUnavailable: [scripted] down"
    )
    assert error.usage is None
    assert result.text == "The researcher is down."


async def test_bad_arguments_never_reach_the_child() -> None:
    child_model = ScriptedProvider([])
    parent_model = ScriptedProvider(
        [
            ScriptedProvider.tool_call("research", topic="x"),
            ScriptedProvider.tool_call("research", task=3),
            ScriptedProvider.tool_calls(
                ToolCallPart(id="raw", name="research", arguments="{not json")
            ),
            "Gave up.",
        ]
    )
    async with open_actor_system("app") as system:
        child = await system.spawn(ChatEngine, child_model, name="researcher", model="m")
        research = agent_tool(child, name="research", description="Look things up.")
        parent = await system.spawn(
            ChatEngine, parent_model, name="lead", model="m", tools=[research]
        )
        result = await parent.ask(UserInput("Go."))
    errors = [r.content for r in tool_results(result.messages)]
    assert errors == [
        "invalid arguments for tool 'research': unexpected argument 'topic';"
        " missing required argument 'task'",
        "invalid arguments for tool 'research': task: expected a string (got int)",
        "arguments for tool 'research' are not valid JSON: Expecting property name"
        " enclosed in double quotes: line 1 column 2 (char 1)",
    ]
    assert child_model.requests == []


def test_validate_accepts_json_text_and_refuses_non_objects() -> None:
    research = AgentTool(_Dummy(), name="research", description="d")
    assert research.validate('{"task": "t"}') == {"task": "t"}
    with pytest.raises(Exception, match="must be a JSON object"):
        research.validate("[1]")
    with pytest.raises(Exception, match="missing required argument 'task'"):
        research.validate("  ")


class _Dummy:
    """Answers whatever it was given as the reply."""

    def __init__(self, reply: object = None) -> None:
        self.reply = reply

    async def ask(self, message: Any, *, timeout: float | None = None) -> Any:
        return self.reply


async def test_an_answer_that_is_not_a_chat_result_is_an_error_result() -> None:
    research = agent_tool(_Dummy(42), name="research", description="d")
    result = await research.invoke({"task": "t"})
    assert result.is_error
    assert result.content == "the agent 'research' answered a int, not a ChatResult"


class Silent(Actor):
    async def receive(self, message: Any) -> Any:
        raise RuntimeError()


async def test_an_error_without_text_names_its_type() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(Silent, name="silent")
        result = await agent_tool(ref, name="s", description="d").invoke({"task": "t"})
    assert result.content == "the agent 's' failed: RuntimeError"


async def test_a_timeout_cancels_the_childs_turn(autojump_clock: Any) -> None:
    async def slow(request: Any) -> str:
        await trio.sleep(100)
        return "too late"  # pragma: no cover - cancelled first

    child_model = ScriptedProvider([slow])
    parent_model = ScriptedProvider([delegate("slow task"), "It took too long."])
    async with open_actor_system("app") as system:
        child = await system.spawn(ChatEngine, child_model, name="researcher", model="m")
        research = agent_tool(
            child, name="research", description="Look things up.", timeout=5
        )
        parent = await system.spawn(
            ChatEngine, parent_model, name="lead", model="m", tools=[research]
        )
        result = await parent.ask(UserInput("Go."))
        [error] = tool_results(result.messages)
        assert error.content == "tool 'research' timed out after 5 seconds"
        assert await child.ask(GetHistory()) == ()  # the child's turn was rolled back
        assert child.statistics().cancelled == 1


async def test_the_childs_run_nests_under_the_parents_tool_call() -> None:
    sink = RecordingSink()
    child_model = ScriptedProvider(["Found it."])
    parent_model = ScriptedProvider([delegate("find it"), "Done."])
    async with open_actor_system("app", tracer=sink) as system:
        child = await system.spawn(ChatEngine, child_model, name="researcher", model="m")
        research = agent_tool(child, name="research", description="Look things up.")
        parent = await system.spawn(
            ChatEngine, parent_model, name="lead", model="m", tools=[research]
        )
        await parent.ask(UserInput("Go."))
    spans: dict[str | None, TraceRecord] = {
        r.span_id: r for r in sink.records if r.duration is not None
    }
    runs = [r for r in spans.values() if r.kind is RecordKind.ENGINE_RUN]
    [child_run] = [r for r in runs if r.actor == "/app/researcher"]
    [parent_run] = [r for r in runs if r.actor == "/app/lead"]
    [tool_span] = [r for r in spans.values() if r.kind is RecordKind.TOOL_CALL]
    assert tool_span.name == "execute_tool research"
    assert child_run.trace_id == parent_run.trace_id == tool_span.trace_id
    ancestors = []
    parent_id = child_run.parent_id
    while parent_id is not None and parent_id in spans:
        ancestors.append(spans[parent_id])
        parent_id = spans[parent_id].parent_id
    assert tool_span in ancestors
    assert parent_run in ancestors
    assert ancestors.index(tool_span) < ancestors.index(parent_run)


def test_it_is_a_tool_like_a_registry_runs() -> None:
    research = agent_tool(_Dummy(), name="research", description="d", timeout=30)
    assert isinstance(research, ToolLike)
    registry = ToolRegistry([research])
    assert registry.get("research") is research
    assert research.timeout == 30.0
    assert research.idempotent is False
    assert research.name == "research"
    assert research.description == "d"
    assert repr(research).startswith("<AgentTool 'research' -> ")


@pytest.mark.parametrize(
    ("engine", "options", "message"),
    [
        (object(), {}, "needs the ref of an engine"),
        (_Dummy(), {"name": "has space"}, "'name' must be 1-64 letters"),
        (_Dummy(), {"name": 3}, "'name' must be 1-64 letters"),
        (_Dummy(), {"description": "  "}, "'description' must be a non-empty str"),
        (_Dummy(), {"timeout": 0}, "'timeout' must be a positive number"),
    ],
)
def test_bad_options_are_clear_errors(
    engine: Any, options: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"name": "research", "description": "d", **options}
    with pytest.raises(ConfigurationError, match=message):
        agent_tool(engine, **arguments)


@attrs.frozen
class Count:
    n: int


async def test_a_child_with_an_output_type_answers_json() -> None:
    child_model = ScriptedProvider([ScriptedProvider.tool_call("final_result", n=3)])
    parent_model = ScriptedProvider([delegate("count"), "Three."])
    async with open_actor_system("app") as system:
        child = await system.spawn(
            ChatEngine, child_model, name="counter", model="m", output_type=Count
        )
        counter = agent_tool(child, name="research", description="Count things.")
        parent = await system.spawn(
            ChatEngine, parent_model, name="lead", model="m", tools=[counter]
        )
        result = await parent.ask(UserInput("How many?"))
    [answer] = tool_results(result.messages)
    assert answer.content == '{"n": 3}'


async def test_a_child_stopping_for_approval_is_an_error_result_and_stays_usable() -> (
    None
):
    from llmgine.tools import tool

    paid: list[int] = []

    @tool(requires_approval=True)
    def pay(euros: int) -> str:
        """Pay.

        Args:
            euros: How much.
        """
        paid.append(euros)
        return "paid"

    child_model = ScriptedProvider(
        [ScriptedProvider.tool_call("pay", euros=40), "Next task done."]
    )
    parent_model = ScriptedProvider([delegate("Pay 40 euros."), "I could not pay."])
    async with open_actor_system("app") as system:
        child = await system.spawn(
            ChatEngine, child_model, name="clerk", model="m", tools=[pay]
        )
        research = agent_tool(child, name="research", description="Do things.")
        parent = await system.spawn(
            ChatEngine, parent_model, name="lead", model="m", tools=[research]
        )
        result = await parent.ask(UserInput("Pay."))
        [error] = tool_results(result.messages)
        assert error.is_error
        assert error.content == (
            "the agent 'research' stopped for a person's approval of pay, which"
            " it cannot get when called as a tool; its turn was abandoned"
        )
        assert paid == []
        assert await child.ask(GetHistory()) == ()  # the child's turn was dropped
        again = await child.ask(UserInput("Another task."))  # not refused
    assert again.text == "Next task done."
    assert result.text == "I could not pay."
