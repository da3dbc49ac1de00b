"""Structured output: ``output_type`` makes a turn answer a typed, checked value."""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import attrs
import pytest
import trio

from llmgine._exceptions import ConfigurationError, OutputValidationError
from llmgine.actors import ActorSystem
from llmgine.engines import (
    ChatEngine,
    GetHistory,
    OutputReady,
    TurnEvent,
    UserInput,
    stream_turn,
)
from llmgine.engines._output import FINAL_RESULT, output_spec
from llmgine.llm import (
    LLMRequest,
    Message,
    ProviderActor,
    ScriptedProvider,
    StreamFinish,
    TextDelta,
    ToolCallDelta,
    ToolCallPart,
    ToolChoice,
)
from llmgine.tools import tool

from .conftest import answer, call, calls, registry, roles, spawn_chat, tokens


@attrs.frozen
class Weather:
    """A weather report.

    Attributes:
        city: Where.
        celsius: How warm.
    """

    city: str
    celsius: float
    sky: Literal["sunny", "cloudy"] = "sunny"


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


class Person(TypedDict):
    name: str
    age: NotRequired[int]


class NativeProvider(ScriptedProvider):
    """A scripted provider that claims native structured output."""

    structured_output = True


def final(id: str, **arguments: Any) -> Any:
    return calls(call(id, FINAL_RESULT, **arguments))


# -- native structured output ---------------------------------------------------


async def test_native_output_sends_the_schema_and_answers_the_typed_value(
    system: ActorSystem,
) -> None:
    provider = NativeProvider(
        [answer('{"city": "Paris", "celsius": 18.5}', tokens(9, 4))]
    )
    engine = await spawn_chat(system, provider=provider, output_type=Weather)
    result = await engine.ask(UserInput("Weather in Paris?"))
    assert result.output == Weather(city="Paris", celsius=18.5)
    assert result.text == '{"city": "Paris", "celsius": 18.5}'
    assert result.pending_approvals == ()
    [request] = provider.requests
    assert request.response_schema == output_spec(Weather).schema
    assert request.response_schema["required"] == ["city", "celsius"]
    assert request.tools == ()  # no final-result tool where the provider has its own
    assert request.tool_choice is None


async def test_a_reply_that_does_not_validate_goes_back_with_the_problems(
    system: ActorSystem,
) -> None:
    provider = NativeProvider(
        [
            answer('{"city": 3, "celsius": 18}', tokens(5, 2)),
            answer('```json\n{"city": "Oslo", "celsius": -2}\n```', tokens(7, 3)),
        ]
    )
    engine = await spawn_chat(system, provider=provider, output_type=Weather)
    result = await engine.ask(UserInput("Weather in Oslo?"))
    assert result.output == Weather(city="Oslo", celsius=-2.0)
    assert result.steps == 2
    assert result.usage == tokens(12, 5)
    retry = provider.requests[1].messages[-1]
    assert retry.role.value == "user"
    assert "city: expected a string, got integer 3" in retry.text
    assert roles(result.messages) == ["user", "assistant", "user", "assistant"]


async def test_retries_spent_raise_output_validation_error_and_keep_the_turn(
    system: ActorSystem,
) -> None:
    provider = NativeProvider(
        [answer("not json"), answer('{"celsius": 1}'), answer('{"result": "ok"}')]
    )
    engine = await spawn_chat(
        system, provider=provider, output_type=Weather, output_retries=1
    )
    with pytest.raises(OutputValidationError, match="after 1 retries") as caught:
        await engine.ask(UserInput("Weather?"))
    assert caught.value.problems == ("city: is required",)
    history = await engine.ask(GetHistory())
    assert roles(history) == ["user", "assistant", "user", "assistant"]
    # the engine was not restarted: the next turn runs, with its own output type
    result = await engine.ask(UserInput("hi", output_type=str))
    assert result.output == "ok"


async def test_no_retries_means_the_first_bad_reply_fails(system: ActorSystem) -> None:
    provider = NativeProvider([answer("[]")])
    engine = await spawn_chat(
        system, provider=provider, output_type=Weather, output_retries=0
    )
    with pytest.raises(OutputValidationError, match="expected an object, got list"):
        await engine.ask(UserInput("Weather?"))


@pytest.mark.parametrize(
    ("output_type", "reply", "expected"),
    [
        (Point, '{"x": 1}', Point(x=1, y=0)),
        (Person, '{"name": "Ada"}', {"name": "Ada"}),
        (int, '{"result": 42}', 42),
        (list[str], '{"result": ["a", "b"]}', ["a", "b"]),
    ],
)
async def test_dataclasses_typeddicts_and_plain_types(
    system: ActorSystem, output_type: Any, reply: str, expected: Any
) -> None:
    provider = NativeProvider([answer(reply)])
    engine = await spawn_chat(system, provider=provider, output_type=output_type)
    result = await engine.ask(UserInput("go"))
    assert result.output == expected
    schema = provider.requests[0].response_schema
    assert schema is not None
    assert schema["type"] == "object"


def test_the_schemas_of_each_kind_of_type() -> None:
    point = output_spec(Point).schema
    assert point["properties"]["y"] == {"type": "integer", "default": 0}
    assert point["required"] == ["x"]
    person = output_spec(Person).schema
    assert person["required"] == ["name"]
    assert person["additionalProperties"] is False
    weather = output_spec(Weather).schema
    assert weather["description"] == "A weather report."
    assert weather["properties"]["city"]["description"] == "Where."
    wrapped = output_spec(int)
    assert wrapped.wrapped
    assert wrapped.name == "int"
    assert wrapped.schema["properties"] == {"result": {"type": "integer"}}
    assert output_spec(list[int]).name == "list[int]"


def test_an_unsupported_output_type_is_refused_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="unsupported type"):
        ChatEngine(ScriptedProvider(), model="m", output_type=object)
    with pytest.raises(ConfigurationError, match="'output_retries'"):
        ChatEngine(ScriptedProvider(), model="m", output_type=int, output_retries=-1)

    @tool
    def final_result(x: int) -> int:
        """Clash.

        Args:
            x: X.
        """
        return x

    with pytest.raises(ConfigurationError, match="final_result"):
        ChatEngine(ScriptedProvider(), model="m", tools=[final_result], output_type=int)


# -- the final-result tool --------------------------------------------------------


async def test_without_native_output_the_model_calls_the_final_result_tool(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider(
        [final("f1", city="Rome", celsius=25), final("f2", result="Later.")]
    )
    engine = await spawn_chat(system, provider=provider, output_type=Weather)
    result = await engine.ask(UserInput("Weather in Rome?"))
    assert result.output == Weather(city="Rome", celsius=25.0)
    assert json.loads(result.text) == {"city": "Rome", "celsius": 25}
    request = provider.requests[0]
    assert request.response_schema is None
    assert request.tool_choice == ToolChoice(mode="required")
    [spec] = request.tools
    assert spec.name == FINAL_RESULT
    assert spec.parameters == output_spec(Weather).schema
    # the call has its result, so the history is valid for the next turn
    assert roles(result.messages) == ["user", "assistant", "tool"]
    assert result.messages[-1].parts[0].content == "Final result accepted."
    second = await engine.ask(UserInput("And later?", output_type=str))
    assert second.output == "Later."
    assert provider.requests[1].tools[0].parameters["properties"]["result"] == {
        "type": "string"
    }


async def test_final_result_arguments_that_do_not_validate_get_an_error_result(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider(
        [final("f1", city="Rome", celsius="warm"), final("f2", city="Rome", celsius=25)]
    )
    engine = await spawn_chat(system, provider=provider, output_type=Weather)
    result = await engine.ask(UserInput("Weather in Rome?"))
    assert result.output == Weather(city="Rome", celsius=25.0)
    error = provider.requests[1].messages[-1].parts[0]
    assert error.is_error
    assert "celsius: expected a number, got string 'warm'" in error.content
    assert roles(result.messages) == ["user", "assistant", "tool", "assistant", "tool"]


async def test_calls_beside_a_valid_final_result_are_not_run(system: ActorSystem) -> None:
    ran: list[int] = []

    @tool
    def note(n: int) -> str:
        """Note a number.

        Args:
            n: The number.
        """
        ran.append(n)
        return "noted"

    provider = ScriptedProvider(
        [
            calls(
                call("n1", "note", n=1),
                call("f1", FINAL_RESULT, result=7),
                call("f2", FINAL_RESULT, result=8),
            )
        ]
    )
    engine = await spawn_chat(system, provider=provider, tools=[note], output_type=int)
    result = await engine.ask(UserInput("go"))
    assert result.output == 7
    assert ran == []
    contents = [m.parts[0].content for m in result.messages[2:]]
    assert contents[1] == "Final result accepted."
    assert contents[0].startswith("Not run")
    assert contents[2].startswith("Not run")


async def test_tools_run_before_the_final_result(system: ActorSystem) -> None:
    provider = ScriptedProvider(
        [calls(call("c1", "add", a=2, b=3)), final("f1", result=5)]
    )
    engine = await spawn_chat(
        system, provider=provider, tools=registry(), output_type=int
    )
    result = await engine.ask(UserInput("2+3?"))
    assert result.output == 5
    assert [t.name for t in provider.requests[0].tools] == [
        "add",
        "weather",
        "explode",
        FINAL_RESULT,
    ]


async def test_a_second_final_result_after_a_rejected_one_is_read(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider(
        [
            calls(
                call("f1", FINAL_RESULT, result="x"), call("f2", FINAL_RESULT, result=1)
            ),
            final("f3", result=2),
        ]
    )
    engine = await spawn_chat(system, provider=provider, output_type=int)
    result = await engine.ask(UserInput("go"))
    assert result.output == 2
    second = provider.requests[1].messages[-1].parts[0]
    assert "Only the first final_result" in second.content


async def test_a_text_reply_is_read_as_json_or_sent_back(system: ActorSystem) -> None:
    provider = ScriptedProvider(["Seven.", '{"result": 7}'])
    engine = await spawn_chat(system, provider=provider, output_type=int)
    result = await engine.ask(UserInput("go"))
    assert result.output == 7
    retry = provider.requests[1].messages[-1].text
    assert "not valid JSON" in retry
    assert f"calling the {FINAL_RESULT} tool" in retry


async def test_raw_string_arguments_are_parsed(system: ActorSystem) -> None:
    provider = ScriptedProvider(
        [calls(ToolCallPart(id="f1", name=FINAL_RESULT, arguments='{"result": 3}'))]
    )
    engine = await spawn_chat(system, provider=provider, output_type=int)
    assert (await engine.ask(UserInput("go"))).output == 3


async def test_a_bad_per_turn_output_type_is_answered_as_an_error(
    system: ActorSystem,
) -> None:
    engine = await spawn_chat(system, provider=ScriptedProvider(["x"]))
    send, receive = trio.open_memory_channel[TurnEvent](4)
    with pytest.raises(ConfigurationError, match="unsupported type"):
        await engine.ask(UserInput("go", output_type=object, stream_to=send))
    assert [e async for e in receive] == []  # the channel was closed


# -- streaming and ProviderActor ----------------------------------------------


async def test_a_streamed_structured_turn_sends_json_text_then_the_value(
    system: ActorSystem,
) -> None:
    provider = NativeProvider([answer('{"result": 12}')], chunk_size=4)
    engine = await spawn_chat(system, provider=provider, output_type=int)
    async with stream_turn(engine, "go") as stream:
        events = [e async for e in stream]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == '{"result": 12}'
    assert events[-1] == OutputReady(output=12)
    assert stream.result is not None
    assert stream.result.output == 12


async def test_a_final_result_call_streams_as_text(system: ActorSystem) -> None:
    provider = ScriptedProvider(
        [calls(call("c1", "add", a=1, b=1)), final("f1", result=2)], chunk_size=3
    )
    engine = await spawn_chat(
        system, provider=provider, tools=registry(), output_type=int
    )
    async with stream_turn(engine, "1+1", output_type=int) as stream:
        events = [e async for e in stream]
    names = [e.name for e in events if isinstance(e, ToolCallDelta) and e.name]
    assert names == ["add"]  # the final-result call itself is not shown as a call
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert json.loads(text) == {"result": 2}
    assert OutputReady(output=2) in events


async def test_through_a_provider_actor_native_output_is_asked_once(
    system: ActorSystem,
) -> None:
    provider = NativeProvider([answer('{"result": 1}'), answer('{"result": 2}')])
    llm = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
    engine = await spawn_chat(system, provider=llm, output_type=int)
    assert (await engine.ask(UserInput("a"))).output == 1
    assert (await engine.ask(UserInput("b"))).output == 2
    assert all(r.response_schema is not None for r in provider.requests)
    assert llm.statistics().processed == 3  # one GetProviderInfo, two requests


async def test_a_provider_actor_without_native_output_gets_the_tool(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider([final("f1", result=1)])
    llm = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
    engine = await spawn_chat(system, provider=llm, output_type=int)
    assert (await engine.ask(UserInput("a"))).output == 1
    assert provider.requests[0].tools[0].name == FINAL_RESULT


def test_the_request_builder_is_the_engines() -> None:
    engine = ChatEngine(ScriptedProvider(), model="m", output_type=int)
    request = engine.request([Message.user("x")])
    assert request == LLMRequest(model="m", messages=[Message.user("x")])


class Team(TypedDict):
    lead: Person
    size: int


def test_typeddict_problems_name_their_keys() -> None:
    spec = output_spec(Team)
    assert spec.parse({"lead": {"name": "Ada", "age": 36}, "size": 2}) == {
        "lead": {"name": "Ada", "age": 36},
        "size": 2,
    }
    with pytest.raises(Exception) as caught:
        spec.parse({"lead": {"age": "x", "extra": 1}, "boss": 1})
    assert caught.value.problems == (  # type: ignore[attr-defined]
        "boss: unexpected key",
        "size: is required",
        "lead.extra: unexpected key",
        "lead.name: is required",
        "lead.age: expected an integer, got string 'x'",
    )
    with pytest.raises(Exception, match=r"^lead: expected an object, got str$"):
        spec.parse({"lead": "x", "size": 1})


@dataclasses.dataclass
class Tagged:
    name: str
    tags: list[str] = dataclasses.field(default_factory=list)
    seen: int = dataclasses.field(default=0, init=False)


class Unresolved(TypedDict):
    thing: NoSuchType  # type: ignore[name-defined]  # noqa: F821


def test_output_spec_edge_cases() -> None:
    spec = output_spec(Tagged)
    assert spec.schema["required"] == ["name"]
    assert "seen" not in spec.schema["properties"]
    assert "default" not in spec.schema["properties"]["tags"]  # a factory's value
    with pytest.raises(ConfigurationError, match="must be a type"):
        output_spec(None)
    with pytest.raises(ConfigurationError, match="cannot resolve the types"):
        output_spec(Unresolved)
    unhashable: Any = Annotated[int, ["not", "hashable"]]
    with pytest.raises(ConfigurationError, match="must be a type"):
        output_spec(unhashable)
    wrapped = output_spec(int)
    with pytest.raises(Exception, match="the reply is empty"):
        wrapped.parse_text("  ")
    with pytest.raises(Exception, match='one key, "result"'):
        wrapped.parse_text("3")
    assert wrapped.parse_text('```\n{"result": 4}\n```') == 4
    assert wrapped.parse_text('```{"result": 5}```') == 5


async def test_final_result_pieces_stream_as_they_come(system: ActorSystem) -> None:
    pieces = [
        ToolCallDelta(index=0, id="f1", name=FINAL_RESULT),
        ToolCallDelta(index=0, arguments='{"result":'),
        ToolCallDelta(index=0, arguments=" 3}"),
        StreamFinish(finish_reason="tool_call"),
    ]
    engine = await spawn_chat(
        system, provider=ScriptedProvider([pieces]), output_type=int
    )
    async with stream_turn(engine, "go") as stream:
        events = [e async for e in stream]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ['{"result":', " 3}"]
    assert stream.result is not None
    assert stream.result.output == 3
    assert wrapped_fence() == 6


def wrapped_fence() -> Any:
    return output_spec(int).parse_text('```{\n"result": 6}\n```')
