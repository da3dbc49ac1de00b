"""TestProvider: calls every offered tool once with valid arguments, then answers."""

from __future__ import annotations

import enum
import json
from typing import Annotated, Literal

import attrs
import pytest

from llmgine._exceptions import ConfigurationError
from llmgine.actors import open_actor_system
from llmgine.engines import ChatEngine, UserInput
from llmgine.llm import LLMRequest, Message, Role, TextPart, ToolResultPart
from llmgine.testing import ScriptedProvider, TestProvider
from llmgine.tools import ToolRegistry, tool


class Unit(enum.Enum):
    C = "c"
    F = "f"


@attrs.frozen
class Point:
    """A point.

    Attributes:
        x: Across.
        y: Up.
    """

    x: float
    y: float = 0.0


seen: list[tuple[str, object]] = []


@tool
def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Get the weather.

    Args:
        city: City name.
        unit: Unit.
    """
    seen.append(("get_weather", city))
    return f"sunny in {city}"


@tool
async def plot(
    points: list[Point],
    tags: set[str],
    pair: tuple[int, str],
    scale: dict[str, float],
    unit: Unit,
    note: str | None,
    size: Annotated[int, "Pixels."] = 3,
) -> int:
    """Plot points.

    Args:
        points: Points.
        tags: Tags.
        pair: A pair.
        scale: Scale per axis.
        unit: Unit.
        note: A note.
        size: Size.
    """
    seen.append(("plot", len(points)))
    return len(points)


@pytest.fixture(autouse=True)
def _clear() -> None:
    seen.clear()


async def test_a_turn_calls_every_tool_once_then_answers_with_the_results() -> None:
    provider = TestProvider()
    async with open_actor_system("app") as system:
        engine = await system.spawn(
            ChatEngine, provider, name="chat", model="m", tools=[get_weather, plot]
        )
        result = await engine.ask(UserInput("Go."))
    assert sorted(name for name, _ in seen) == ["get_weather", "plot"]
    results = [
        part
        for message in result.messages
        if message.role is Role.TOOL
        for part in message.parts
        if isinstance(part, ToolResultPart)
    ]
    assert [r.is_error for r in results] == [False, False]  # valid arguments
    assert json.loads(result.text) == {"get_weather": "sunny in a", "plot": "1"}
    assert result.steps == 2
    assert result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0


async def test_text_call_tools_and_later_turns() -> None:
    provider = TestProvider(text="Done.", call_tools=["plot"])
    async with open_actor_system("app") as system:
        engine = await system.spawn(
            ChatEngine, provider, name="chat", model="m", tools=[get_weather, plot]
        )
        assert (await engine.ask(UserInput("Go."))).text == "Done."
        assert (await engine.ask(UserInput("Again."))).text == "Done."
    assert [name for name, _ in seen] == ["plot", "plot"]  # once per turn


async def test_no_tools_no_calls() -> None:
    provider = TestProvider(call_tools=())
    reply = await provider.complete(
        LLMRequest(model="m", messages=[Message.user("hi")], tools=[get_weather.spec])
    )
    assert reply.text == "success (no tool calls)"
    assert reply.tool_calls == ()


async def test_a_structured_request_gets_json_valid_for_its_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
        "required": ["city", "temp"],
        "additionalProperties": False,
    }
    provider = TestProvider()
    reply = await provider.complete(
        LLMRequest(model="m", messages=[Message.user("hi")], response_schema=schema)
    )
    assert json.loads(reply.text) == {"city": "a", "temp": 1.0}


async def test_a_script_comes_first_then_it_goes_on_by_itself() -> None:
    provider = TestProvider(["scripted first"], text="then automatic")
    request = LLMRequest(model="m", messages=[Message.user("hi")])
    assert (await provider.complete(request)).text == "scripted first"
    assert (await provider.complete(request)).text == "then automatic"
    provider.add(ScriptedProvider.text("added"))
    assert (await provider.complete(request)).text == "added"
    assert len(provider.requests) == 3
    assert repr(provider) == "TestProvider(name='test', call_tools='all')"


def test_bad_options_are_clear_errors() -> None:
    with pytest.raises(ConfigurationError, match="'text' must be a str"):
        TestProvider(text=3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'call_tools' must be 'all'"):
        TestProvider(call_tools="plot")
    with pytest.raises(ConfigurationError, match="'call_tools' must be 'all'"):
        TestProvider(call_tools=3)  # type: ignore[arg-type]


def test_pytest_does_not_collect_it() -> None:
    assert TestProvider.__test__ is False


async def test_results_without_a_name_are_keyed_by_call_id() -> None:
    request = LLMRequest(
        model="m",
        messages=[
            Message.user("hi"),
            Message(role="tool", parts=[ToolResultPart(call_id="c9", content="r")]),
        ],
    )
    assert json.loads((await TestProvider().complete(request)).text) == {"c9": "r"}


async def test_the_registry_accepts_what_it_generates_for_any_seed() -> None:
    registry = ToolRegistry([get_weather, plot])
    for seed in range(30):
        provider = TestProvider(seed=seed)
        reply = await provider.complete(
            LLMRequest(model="m", messages=[Message.user("go")], tools=registry.specs())
        )
        for call in reply.tool_calls:
            result = await registry.execute(call)
            assert not result.is_error, (seed, call, result.content)


async def test_a_final_result_tool_is_called_after_the_others() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 5}},
        "required": ["n"],
        "additionalProperties": False,
    }
    from llmgine.llm import ToolSpec

    final = ToolSpec(name="final_result", description="answer", parameters=schema)
    provider = TestProvider()
    first = await provider.complete(
        LLMRequest(
            model="m", messages=[Message.user("hi")], tools=[get_weather.spec, final]
        )
    )
    assert [c.name for c in first.tool_calls] == ["get_weather"]
    after = LLMRequest(
        model="m",
        messages=[
            Message.user("hi"),
            first.message,
            Message(
                role="tool",
                parts=[
                    ToolResultPart(call_id="call_1", content="ok", name="get_weather")
                ],
            ),
        ],
        tools=[get_weather.spec, final],
    )
    second = await provider.complete(after)
    assert [(c.name, c.arguments) for c in second.tool_calls] == [
        ("final_result", {"n": 5})
    ]
    alone = await provider.complete(
        LLMRequest(model="m", messages=[Message.user("hi")], tools=[final])
    )
    assert alone.tool_calls[0].name == "final_result"
    assert TestProvider.structured_output is True


async def test_only_tool_results_and_parts_that_are_not_results() -> None:
    request = LLMRequest(
        model="m",
        messages=[
            Message(
                role="tool",
                parts=[TextPart(text="noise"), ToolResultPart(call_id="c1", content="r")],
            ),
        ],
    )
    assert json.loads((await TestProvider().complete(request)).text) == {"c1": "r"}
