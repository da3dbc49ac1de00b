"""Fuzz: tool arguments from the model, against ``@tool`` schemas.

Whatever the model sends as arguments (any JSON value, text that is not
JSON, nesting thousands deep), ``Tool.validate`` raises only ``ToolError``
and ``ToolRegistry.execute`` never raises: it answers an error result.
"""

from __future__ import annotations

import contextlib
import enum
import json
from typing import Any, Literal

import attrs
import trio
from hypothesis import given
from hypothesis import strategies as st

from llmgine import ToolError
from llmgine.llm import ToolCallPart, ToolResultPart
from llmgine.tools import ToolRegistry, tool

from ._strategies import DEEP, fuzz, json_values, nested, odd_text


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen(kw_only=True)
class Point:
    x: float
    y: float


@tool
def plain(a: int, b: str = "x", c: float | None = None) -> str:
    """Scalars."""
    return f"{a}{b}{c}"


@tool
def shaped(points: list[Point], tags: dict[str, int], mode: Literal["a", "b"]) -> int:
    """Containers and a class."""
    return len(points) + len(tags) + len(mode)


@tool
def loose(value: Any, colors: set[Color], pair: tuple[int, str]) -> object:
    """Anything goes, and it comes back."""
    return {"value": value, "colors": sorted(c.value for c in colors), "pair": pair}


REGISTRY = ToolRegistry([plain, shaped, loose])
NAMES = ["plain", "shaped", "loose", "missing"]

arguments = st.one_of(
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "points", "tags", "mode", "value", "colors"])
        | st.text(max_size=4),
        json_values | st.sampled_from(DEEP).map(nested),
        max_size=4,
    ),
    json_values,
    odd_text,
    st.dictionaries(st.text(max_size=3), json_values, max_size=3).map(json.dumps),
)


@fuzz
@given(name=st.sampled_from(NAMES[:3]), args=arguments)
def test_validate_raises_only_tool_errors(name: str, args: Any) -> None:
    chosen = REGISTRY[name]
    with contextlib.suppress(ToolError):
        chosen.validate(args)


@fuzz
@given(name=st.sampled_from(NAMES), args=arguments)
def test_execute_never_raises(name: str, args: Any) -> None:
    call = ToolCallPart(id="c1", name=name, arguments=args)
    result = trio.run(REGISTRY.execute, call)
    assert isinstance(result, ToolResultPart)
    assert result.call_id == "c1"
