"""``@tool``: still the function, plus a spec, argument checking and invocation."""

from __future__ import annotations

import functools
import inspect
import keyword
import math
import threading
from typing import Annotated, Any, Literal

import attrs
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from llmgine._exceptions import ConfigurationError, ToolError
from llmgine.llm import ToolSpec
from llmgine.tools import Tool, tool
from llmgine.tools._schema import json_schema

from ._jsonschema import check_schema
from .test_schema import as_json, typed


@tool
async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Get the current weather.

    Longer notes the model does not see.

    Args:
        city: City name.
        unit: Temperature unit.
    """
    return f"sunny in {city} ({unit})"


@tool
def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


@attrs.frozen
class Point:
    x: int
    y: int = 0


def test_the_spec_is_what_providers_send() -> None:
    assert get_weather.spec == ToolSpec(
        name="get_weather",
        description="Get the current weather.",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name."},
                "unit": {
                    "type": "string",
                    "enum": ["c", "f"],
                    "default": "c",
                    "description": "Temperature unit.",
                },
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    )
    check_schema(get_weather.spec.parameters)


def test_a_sync_tool_is_still_the_function() -> None:
    assert add(1) == 3
    assert add(a=1, b=5) == 6
    assert not add.is_async
    assert add.__name__ == "add"
    assert add.__doc__ == "Add two numbers."
    assert inspect.unwrap(add) is add.function


async def test_an_async_tool_is_still_the_coroutine_function() -> None:
    coroutine = get_weather("Paris")
    assert inspect.iscoroutine(coroutine)
    assert await coroutine == "sunny in Paris (c)"
    assert get_weather.is_async


def test_decorator_arguments_override_name_description_and_timeout() -> None:
    @tool(name="weather-now", description="Weather, now.", timeout=5.0)
    def weather(city: str) -> str:
        """Ignored for the description."""
        return city

    assert weather.name == "weather-now"
    assert weather.spec.name == "weather-now"
    assert weather.description == "Weather, now."
    assert weather.timeout == 5.0
    assert weather("x") == "x"
    assert repr(weather) == "<Tool 'weather-now'>"


def test_a_tool_can_be_wrapped_again_under_another_name() -> None:
    renamed = tool(add, name="plus", timeout=2)
    assert renamed.name == "plus"
    assert renamed.timeout == 2
    assert add.name == "add"
    assert renamed.function is add.function
    assert renamed(1) == 3


def test_tool_can_be_called_directly_and_without_a_docstring() -> None:
    def lookup(key: str) -> str:
        return key

    made = tool(lookup, name="find")
    assert isinstance(made, Tool)
    assert made.name == "find"
    assert made.description == ""
    assert made.timeout is None


def test_parameters_is_a_copy_of_the_schema() -> None:
    params = add.parameters
    params["type"] = "changed"
    assert add.spec.parameters["type"] == "object"
    assert add.parameters["required"] == ["a"]


def test_docstring_descriptions_win_over_annotated_text() -> None:
    @tool
    def f(a: Annotated[int, "from the hint"], b: Annotated[int, "only the hint"]) -> None:
        """F.

        Args:
            a: From the docstring.
        """

    props = f.spec.parameters["properties"]
    assert props["a"]["description"] == "From the docstring."
    assert props["b"]["description"] == "only the hint"


def test_a_none_default_makes_the_parameter_nullable() -> None:
    @tool
    def f(limit: int = None) -> int | None:  # type: ignore[assignment]  # noqa: RUF013
        return limit

    assert f.spec.parameters["properties"]["limit"] == {
        "type": ["integer", "null"],
        "default": None,
    }
    assert f.validate({"limit": None}) == {"limit": None}
    assert f.validate({"limit": 3}) == {"limit": 3}


def test_bound_methods_and_partials_become_tools() -> None:
    class Greeter:
        def __init__(self, greeting: str) -> None:
            self.greeting = greeting

        def greet(self, name: str) -> str:
            """Greet someone."""
            return f"{self.greeting}, {name}"

    bound = tool(Greeter("Hi").greet)
    assert list(bound.spec.parameters["properties"]) == ["name"]
    assert bound.description == "Greet someone."
    assert bound("Ann") == "Hi, Ann"

    def scale(x: int, factor: int) -> int:
        """Scale x."""
        return x * factor

    doubled = tool(functools.partial(scale, factor=2))
    assert doubled.name == "scale"
    assert doubled.description == "Scale x."
    assert doubled.spec.parameters["required"] == ["x"]
    assert doubled.spec.parameters["properties"]["factor"]["default"] == 2


async def test_async_callable_objects_are_async_tools() -> None:
    class Fetch:
        __name__ = "fetch"

        async def __call__(self, url: str) -> str:
            return url

    fetch = tool(Fetch())
    assert fetch.is_async
    assert await fetch.run({"url": "u"}) == "u"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "def f(x: bytes) -> None: ...",
            "parameter 'x' of tool 'f' has an unsupported type",
        ),
        ("def f(*args: int) -> None: ...", r"\*args is not supported"),
        ("def f(**kw: int) -> None: ...", r"\*\*kw is not supported"),
        ("def f(self, x: int) -> None: ...", "a tool cannot take 'self'"),
        ("def f(cls, x: int) -> None: ...", "a tool cannot take 'cls'"),
        ("def f(x) -> None: ...", "parameter 'x' of tool 'f' has no type annotation"),
        ("def f(x: 'Missing') -> None: ...", "cannot read the signature of tool 'f'"),
    ],
)
def test_bad_signatures_are_refused_at_decoration(source: str, message: str) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<tool>", "exec", dont_inherit=True), namespace)
    with pytest.raises(ToolError, match=message):
        tool(namespace["f"])


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "dots.are.out"])
def test_names_providers_reject_are_refused(name: str) -> None:
    with pytest.raises(ToolError, match="tool name must be"):
        tool(name=name)(lambda: None)


def test_a_lambda_needs_a_name() -> None:
    with pytest.raises(ToolError, match="'<lambda>'"):
        tool(lambda: None)
    assert tool(lambda: 1, name="one")() == 1


@pytest.mark.parametrize("timeout", [0, -1, True, "5", math.nan])
def test_bad_timeouts_are_configuration_errors(timeout: Any) -> None:
    with pytest.raises(ConfigurationError, match="'timeout' must be a positive number"):
        tool(timeout=timeout)(add.function)


def test_validate_structures_json_arguments() -> None:
    @tool
    def place(point: Point, tags: set[str], label: str = "") -> None: ...

    values = place.validate('{"point": {"x": 1}, "tags": ["a", "a", "b"]}')
    assert values == {"point": Point(x=1), "tags": {"a", "b"}}
    # An empty string is no arguments at all, as some providers send it.
    with pytest.raises(ToolError, match="missing required argument 'a'"):
        add.validate("")
    assert get_weather.validate('{"city": "Oslo"}') == {"city": "Oslo"}


def test_validate_reports_every_problem_at_once() -> None:
    @tool
    def place(point: Point, count: int) -> None: ...

    with pytest.raises(ToolError) as info:
        place.validate({"point": {"x": "1", "z": 2}, "extra": 1})
    assert str(info.value) == (
        "invalid arguments for tool 'place': unexpected argument 'extra'; "
        "point.x: expected an integer, got string '1'; point.z: unexpected key; "
        "missing required argument 'count'"
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('{"a": ', "arguments for tool 'add' are not valid JSON: "),
        ("[1, 2]", r"arguments for tool 'add' must be a JSON object \(got array\)"),
        ("3", r"must be a JSON object \(got integer 3\)"),
        (["a"], r"must be a JSON object \(got array\)"),
    ],
)
def test_arguments_that_are_no_json_object_are_refused(
    arguments: Any, message: str
) -> None:
    with pytest.raises(ToolError, match=message):
        add.validate(arguments)


async def test_invoke_runs_sync_tools_in_a_worker_thread() -> None:
    @tool
    def where() -> str:
        return threading.current_thread().name

    @tool
    async def where_async() -> str:
        return threading.current_thread().name

    assert await where.run({}) != threading.current_thread().name
    assert await where_async.run({}) == threading.current_thread().name


async def test_positional_only_parameters_are_passed_by_position() -> None:
    @tool
    def power(base: int, exp: int = 2, /, *, mod: int = 0) -> int:
        return int(base**exp % mod if mod else base**exp)

    assert await power.run({"base": 3}) == 9
    assert await power.run({"base": 3, "exp": 3, "mod": 5}) == 2
    assert await power.run('{"base": 2, "mod": 3}') == 1


async def test_invoke_propagates_the_tools_own_exceptions() -> None:
    @tool
    async def broken() -> None:
        raise LookupError("gone")

    with pytest.raises(LookupError, match="gone"):
        await broken.run({})


# -- generated signatures ------------------------------------------------------

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: n not in ("self", "cls") and not keyword.iskeyword(n)
)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_generated_signatures_give_matching_schemas_and_validation(
    data: st.DataObject,
) -> None:
    names = data.draw(st.lists(NAMES, unique=True, max_size=5), label="names")
    params = []
    for name in names:
        tp, values = data.draw(typed(sets=False), label=f"type of {name}")
        has_default = data.draw(st.booleans(), label=f"{name} has a default")
        default = data.draw(values) if has_default else inspect.Parameter.empty
        params.append((name, tp, values, default))

    def impl(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    impl.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=tp, default=d)
            for n, tp, _, d in params
        ]
    )
    made = Tool(impl, name="generated")
    schema = made.spec.parameters
    check_schema(schema)
    assert list(schema["properties"]) == names
    required = [n for n, _, _, d in params if d is inspect.Parameter.empty]
    assert schema.get("required", []) == required
    assert schema["additionalProperties"] is False
    for name, tp, _, default in params:
        prop = dict(schema["properties"][name])
        if default is not inspect.Parameter.empty:
            assert prop.pop("default") == as_json(default)
        assert prop == json_schema(tp, where="")

    arguments = {}
    for name, _, values, default in params:
        if default is inspect.Parameter.empty or data.draw(st.booleans()):
            arguments[name] = data.draw(values, label=f"argument {name}")
    assert made.validate(as_json(arguments)) == arguments
    assert trio.run(made.run, as_json(arguments)) == arguments
