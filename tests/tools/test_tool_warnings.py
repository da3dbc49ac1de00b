"""Warnings at decoration: no docstring, or an Args: entry naming no parameter."""

from __future__ import annotations

import warnings

import pytest

from llmgine.tools import ToolDefinitionWarning, ToolRegistry, tool


def test_a_tool_without_a_docstring_warns_at_the_decorated_line() -> None:
    with pytest.warns(ToolDefinitionWarning, match="tool 'bare' has no docstring") as w:

        @tool
        def bare(x: int) -> int:
            return x

    assert w[0].filename == __file__  # the user's line, not llmgine's
    assert bare.description == ""


def test_a_description_given_instead_is_enough() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        @tool(description="Double x.")
        def double(x: int) -> int:
            return 2 * x

        @tool
        def documented(x: int) -> int:
            """Return x.

            Args:
                x: A number.
            """
            return x

    assert double.description == "Double x."
    assert documented.spec.parameters["properties"]["x"]["description"] == "A number."


def test_an_args_entry_naming_no_parameter_warns() -> None:
    with pytest.warns(
        ToolDefinitionWarning,
        match=r"describes 'citty', 'units' under Args:, which names no parameter"
        r" \(the parameters: 'city', 'unit'\)",
    ) as w:

        @tool
        def weather(city: str, unit: str = "c") -> str:
            """Get the weather.

            Args:
                citty: City name.
                units: Unit.
            """
            return city

    assert len(w) == 1
    assert w[0].filename == __file__
    assert "description" not in weather.spec.parameters["properties"]["city"]


def test_a_plain_function_registered_warns_from_the_register_call() -> None:
    def lonely() -> str:
        return "x"

    registry = ToolRegistry()
    with pytest.warns(ToolDefinitionWarning, match="'lonely' has no docstring") as w:
        registry.register(lonely)
    assert w[0].filename == __file__


def test_no_parameters_at_all_is_named_as_none() -> None:
    with pytest.warns(ToolDefinitionWarning, match=r"\(the parameters: none\)"):

        @tool
        def ping() -> str:
            """Ping.

            Args:
                host: Where to.
            """
            return "pong"


def test_the_warning_is_a_user_warning_that_can_be_made_an_error() -> None:
    assert issubclass(ToolDefinitionWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ToolDefinitionWarning)
        with pytest.raises(ToolDefinitionWarning):
            tool(lambda: None, name="anonymous")
