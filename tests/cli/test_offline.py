"""The offline world: the weather station, the tools, the rule-based model."""

from __future__ import annotations

import pytest
import trio

from llmgine.actors import open_actor_system
from llmgine.cli._offline import (
    OfflineModel,
    Reading,
    WeatherStation,
    calculate,
    make_registry,
    offline_provider,
)
from llmgine.llm import (
    LLMRequest,
    Message,
    Role,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)

TOOLS = (ToolSpec(name="get_weather"), ToolSpec(name="calculate"))


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("21 - 14", "7"),
        ("(3 + 4) * 2", "14"),
        ("7 / 2", "3.5"),
        ("-2 ** 2", "-4"),
        ("17 // 5 % 2", "1"),
        ("+1", "1"),
    ],
)
def test_calculate(expression: str, value: str) -> None:
    assert calculate(expression) == value


@pytest.mark.parametrize("expression", ["__import__('os')", "2 ** 1000", "'a' + 'b'"])
def test_calculate_refuses_what_is_not_arithmetic(expression: str) -> None:
    with pytest.raises(ValueError):
        calculate(expression)


async def test_station_and_tools() -> None:
    async with open_actor_system("t") as system:
        station = await system.spawn(lambda: WeatherStation(latency=0.0), name="station")
        assert await station.ask(Reading("Paris")) == (21, "sunny")
        celsius, sky = await station.ask(Reading("Atlantis"))
        assert -2 <= celsius < 28
        assert isinstance(sky, str)
        assert await station.ask(Reading("Atlantis")) == (celsius, sky)
        with pytest.raises(TypeError, match="Reading"):
            await station.ask("Paris")
        registry = make_registry(station)
        result = await registry.execute(
            ToolCallPart(
                id="1", name="get_weather", arguments={"city": "Paris", "unit": "f"}
            )
        )
        assert result.content == "Paris: 70°F, sunny"


def _ask(model: OfflineModel, *messages: Message, tools: tuple[ToolSpec, ...] = TOOLS):
    return model(LLMRequest(model="m", messages=messages, tools=tools))


def test_model_calls_the_weather_tool_for_each_city() -> None:
    reply = _ask(OfflineModel(), Message.user("weather in New York and Sydney?"))
    assert [c.arguments for c in reply.tool_calls] == [
        {"city": "New York"},
        {"city": "Sydney"},
    ]
    assert reply.finish_reason == "tool_call"
    assert reply.usage.input_tokens > 0
    assert reply.usage.output_tokens > 0


def test_model_without_tools_only_talks() -> None:
    reply = _ask(OfflineModel(), Message.user("weather in Paris? 1 + 1"), tools=())
    assert reply.tool_calls == ()
    assert reply.text.startswith("You said: weather in Paris? 1 + 1.")


def test_model_with_nothing_to_say() -> None:
    reply = model_reply = OfflineModel()(LLMRequest(model="m", messages=()))
    assert model_reply is reply
    assert "You said: (nothing)." in reply.text


def _tool(call_id: str, content: str, *, error: bool = False) -> Message:
    part = ToolResultPart(call_id=call_id, content=content, is_error=error)
    return Message(role=Role.TOOL, parts=(part,))


def test_model_retries_a_failed_call_once_then_gives_up() -> None:
    model = OfflineModel()
    user = Message.user("weather in Oslo")
    call = ToolCallPart(id="a", name="get_weather", arguments={"city": "Oslo"})
    asked = Message(role=Role.ASSISTANT, parts=(call,))
    retry = _ask(model, user, asked, _tool("a", "boom", error=True))
    assert [c.arguments for c in retry.tool_calls] == [{"city": "Oslo"}]
    again = Message(role=Role.ASSISTANT, parts=retry.tool_calls)
    second = retry.tool_calls[0].id
    final = _ask(
        model,
        user,
        asked,
        _tool("a", "boom", error=True),
        again,
        _tool(second, "boom again", error=True),
    )
    assert final.text == "Sorry, the tool failed: boom again"


def test_model_answers_arithmetic_and_ignores_strange_calls() -> None:
    model = OfflineModel()
    user = Message.user("what is 2 + 2?")
    calls = (
        ToolCallPart(id="a", name="calculate", arguments={"expression": "2 + 2"}),
        ToolCallPart(id="b", name="other", arguments="not json"),
    )
    asked = Message(role=Role.ASSISTANT, parts=calls)
    reply = _ask(model, user, asked, _tool("a", "4"), _tool("b", "?"), _tool("z", "x"))
    assert reply.text == "2 + 2 = 4."


def test_model_compares_two_cities_once() -> None:
    model = OfflineModel()
    user = Message.user("weather in Paris and Oslo?")
    calls = (
        ToolCallPart(id="a", name="get_weather", arguments={"city": "Paris"}),
        ToolCallPart(id="b", name="get_weather", arguments={"city": "Oslo"}),
    )
    asked = Message(role=Role.ASSISTANT, parts=calls)
    history = (
        user,
        asked,
        _tool("a", "Paris: 70°F, sunny"),
        _tool("b", "Oslo: 40°F, foggy"),
    )
    compare = _ask(model, *history)
    assert compare.tool_calls[0].arguments == {"expression": "70 - 40"}
    done = _ask(
        model,
        *history,
        Message(role=Role.ASSISTANT, parts=compare.tool_calls),
        _tool(compare.tool_calls[0].id, "30"),
    )
    assert done.text.endswith("Paris is 30°F warmer than Oslo.")
    without = _ask(model, *history, tools=(ToolSpec(name="get_weather"),))
    assert without.text == "Paris is 70°F and sunny. Oslo is 40°F and foggy."


async def test_offline_provider_plays_the_model() -> None:
    provider = offline_provider(steps=2)
    request = LLMRequest(model="m", messages=[Message.user("hi")])
    assert (await provider.complete(request)).text.startswith("You said: hi.")
    events = [e async for e in provider.stream(request)]
    assert len(events) > 2
    assert provider.remaining == 0
    assert isinstance(OfflineModel()(request).message.parts[0], TextPart)


async def test_station_latency_is_real_time() -> None:
    async with open_actor_system("t") as system:
        station = await system.spawn(WeatherStation, name="s")
        start = trio.current_time()
        await station.ask(Reading("Paris"))
        assert trio.current_time() - start >= 0.02


def test_model_names_each_city_once() -> None:
    reply = _ask(OfflineModel(), Message.user("weather in Paris, then for Paris again?"))
    assert [c.arguments for c in reply.tool_calls] == [{"city": "Paris"}]


def test_model_reads_tool_results_without_a_user_message() -> None:
    call = ToolCallPart(id="a", name="calculate", arguments={"expression": "1 + 2"})
    asked = Message(role=Role.ASSISTANT, parts=(call,))
    reply = _ask(OfflineModel(), _tool("z", "?"), asked, _tool("a", "3"))
    assert reply.text == "1 + 2 = 3."


def test_model_skips_numbers_that_are_not_arithmetic() -> None:
    reply = _ask(OfflineModel(), Message.user("I have 42 apples; what is 6 * 7?"))
    assert reply.tool_calls[0].arguments == {"expression": "6 * 7"}


def test_model_given_only_tool_results_answers_with_text() -> None:
    reply = _ask(OfflineModel(), _tool("a", "x"), _tool("b", "y"))
    assert reply.tool_calls == ()
