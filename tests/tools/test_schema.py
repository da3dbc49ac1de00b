"""Type hints to JSON Schema, and the schema agreeing with what is accepted."""

from __future__ import annotations

import collections.abc
import datetime
import enum
import functools
import json
from typing import Annotated, Any, Literal, Optional

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from llmgine._exceptions import ToolError
from llmgine.tools._convert import CONVERTER
from llmgine.tools._schema import json_default, json_schema, nullable

from ._jsonschema import check_schema, validate


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Point:
    """A point on the map.

    Attributes:
        x: Horizontal position.
    """

    x: int
    y: float = 0.0
    label: str = attrs.field(default="", metadata={"description": "What it is."})
    tags: list[str] = attrs.field(factory=list)
    cached: int = attrs.field(default=0, init=False)


@attrs.frozen
class Route:
    start: Point
    stops: list[Point] = attrs.field(factory=list)


@attrs.define
class Node:
    children: list[Node]


@attrs.define
class Dangling:
    value: NotDefinedAnywhere  # type: ignore[name-defined]  # noqa: F821


def schema(tp: object) -> dict[str, Any]:
    result = json_schema(tp, where="parameter 'p'")
    check_schema(result)
    return result


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (type(None), {"type": "null"}),
        (Any, {}),
    ],
)
def test_primitive_types(tp: object, expected: dict[str, Any]) -> None:
    assert schema(tp) == expected


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (list, {"type": "array"}),
        (collections.abc.Sequence[str], {"type": "array", "items": {"type": "string"}}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (set[str], {"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
        (
            frozenset[int],
            {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
        ),
        (dict[str, int], {"type": "object", "additionalProperties": {"type": "integer"}}),
        (dict, {"type": "object"}),
        (
            collections.abc.Mapping[str, list[float]],
            {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "number"}},
            },
        ),
        (
            tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "items": False,
                "minItems": 2,
                "maxItems": 2,
            },
        ),
    ],
)
def test_container_types(tp: object, expected: dict[str, Any]) -> None:
    assert schema(tp) == expected


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (Literal["c", "f"], {"type": "string", "enum": ["c", "f"]}),
        (Literal[1, 2], {"type": "integer", "enum": [1, 2]}),
        (Literal[True], {"type": "boolean", "enum": [True]}),
        (Literal["a", 1], {"enum": ["a", 1]}),
        (Literal["a", None], {"type": ["string", "null"], "enum": ["a", None]}),
        (Color, {"type": "string", "enum": ["red", "blue"]}),
        (Level, {"type": "integer", "enum": [1, 2]}),
    ],
)
def test_literal_and_enum_become_enum(tp: object, expected: dict[str, Any]) -> None:
    assert schema(tp) == expected


def test_enum_values_must_be_json_scalars() -> None:
    class Shape(enum.Enum):
        SQUARE = (1, 1)

    with pytest.raises(ToolError, match=r"parameter 'p': enum values must be .*\(1, 1\)"):
        json_schema(Shape, where="parameter 'p'")


@pytest.mark.parametrize(
    ("tp", "expected"),
    [
        (Optional[int], {"type": ["integer", "null"]}),  # noqa: UP045
        (int | None, {"type": ["integer", "null"]}),
        (
            list[str] | None,
            {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
        ),
        (
            Literal["a", "b"] | None,
            {"type": ["string", "null"], "enum": ["a", "b", None]},
        ),
        (Literal["a", 1] | None, {"anyOf": [{"enum": ["a", 1]}, {"type": "null"}]}),
        (int | str, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (
            int | str | None,
            {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
        ),
        (Any | None, {}),
        (int | Any, {}),
    ],
)
def test_optional_and_unions(tp: object, expected: dict[str, Any]) -> None:
    assert schema(tp) == expected


def test_optional_attrs_class_is_any_of_with_null() -> None:
    result = schema(Point | None)
    assert result["anyOf"][1] == {"type": "null"}
    assert result["anyOf"][0]["type"] == "object"


def test_nullable_leaves_schemas_that_take_null_alone() -> None:
    assert nullable({}) == {}
    assert nullable({"type": ["integer", "null"]}) == {"type": ["integer", "null"]}
    assert nullable({"type": ["integer", "string"]}) == {
        "type": ["integer", "string", "null"]
    }


def test_attrs_class_is_an_object_of_its_init_fields() -> None:
    assert schema(Point) == {
        "type": "object",
        "description": "A point on the map.",
        "properties": {
            "x": {"type": "integer", "description": "Horizontal position."},
            "y": {"type": "number", "default": 0.0},
            "label": {"type": "string", "default": "", "description": "What it is."},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["x"],
        "additionalProperties": False,
    }


def test_nested_attrs_classes_are_nested_objects() -> None:
    result = schema(Route)
    assert result["required"] == ["start"]
    assert result["properties"]["start"]["properties"]["x"]["type"] == "integer"
    assert result["properties"]["stops"]["items"]["required"] == ["x"]
    assert "description" not in result  # Route has no docstring


def test_recursive_attrs_class_is_refused() -> None:
    with pytest.raises(ToolError, match="recursive attrs class Node"):
        json_schema(Node, where="parameter 'tree'")


def test_attrs_class_with_unresolvable_hint_is_refused() -> None:
    with pytest.raises(ToolError, match="cannot resolve the types of Dangling"):
        json_schema(Dangling, where="parameter 'd'")


def test_attrs_field_without_type_is_refused() -> None:
    untyped = attrs.make_class("Untyped", {"a": attrs.field()})
    with pytest.raises(ToolError, match=r"field Untyped.a has no type"):
        json_schema(untyped, where="parameter 'u'")


def test_annotated_text_becomes_the_description() -> None:
    assert schema(Annotated[int, "How many."]) == {
        "type": "integer",
        "description": "How many.",
    }
    assert schema(Annotated[int, 5]) == {"type": "integer"}


@pytest.mark.parametrize(
    ("tp", "shown"),
    [
        (bytes, "bytes"),
        (complex, "complex"),
        (datetime.date, "date"),
        (list[bytes], "bytes"),
        (collections.abc.Callable[[int], int], "Callable"),
    ],
)
def test_unsupported_types_name_the_place_and_the_type(tp: object, shown: str) -> None:
    with pytest.raises(
        ToolError, match=rf"parameter 'p' has an unsupported type: .*{shown}"
    ):
        json_schema(tp, where="parameter 'p'")


def test_mapping_keys_must_be_strings() -> None:
    with pytest.raises(ToolError, match=r"mapping keys must be str \(got int\)"):
        json_schema(dict[int, str], where="parameter 'p'")


def test_defaults_are_written_as_json() -> None:
    assert json_default({"type": "string"}, Color.RED) == {
        "type": "string",
        "default": "red",
    }
    assert json_default({"type": "array"}, {3, 1, 2}) == {
        "type": "array",
        "default": [1, 2, 3],
    }
    assert json_default({"type": "object"}, Point(x=1))["default"]["x"] == 1
    # A default JSON cannot hold is left out rather than misrepresented.
    assert json_default({}, object()) == {}
    assert json_default({"type": "number"}, float("nan")) == {"type": "number"}


# -- property tests: the schema and the converter agree ----------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
Typed = tuple[Any, st.SearchStrategy[Any]]

LEAVES: list[Typed] = [
    (str, st.text(max_size=5)),
    (int, st.integers()),
    (float, FLOATS),
    (bool, st.booleans()),
    (Literal["a", "b"], st.sampled_from(["a", "b"])),
    (Literal[1, 2], st.sampled_from([1, 2])),
    (Color, st.sampled_from(Color)),
    (Level, st.sampled_from(Level)),
    (int | str, st.integers() | st.text(max_size=3)),
    (Point, st.builds(Point, x=st.integers(), y=FLOATS, tags=st.lists(st.text()))),
    (Any, JSON),
]
HASHABLE: list[Typed] = [
    (str, st.text(max_size=5)),
    (int, st.integers()),
    (Color, st.sampled_from(Color)),
]


def _box(child: Typed) -> Typed:
    tp, values = child
    cls = attrs.make_class("Box", {"item": attrs.field(type=tp)}, frozen=True)
    return cls, values.map(lambda v: cls(item=v))


def _extend(children: st.SearchStrategy[Typed]) -> st.SearchStrategy[Typed]:
    return st.one_of(
        children.map(lambda c: (list[c[0]], st.lists(c[1], max_size=3))),
        children.map(lambda c: (tuple[c[0], ...], st.lists(c[1], max_size=3).map(tuple))),
        children.map(
            lambda c: (
                dict[str, c[0]],
                st.dictionaries(st.text(max_size=3), c[1], max_size=3),
            )
        ),
        children.map(lambda c: (Optional[c[0]], st.none() | c[1])),  # noqa: UP045
        st.tuples(children, children).map(
            lambda ab: (tuple[ab[0][0], ab[1][0]], st.tuples(ab[0][1], ab[1][1]))
        ),
        children.map(_box),
    )


def as_json(value: object) -> Any:
    """What a model would send for ``value``."""
    return json.loads(json.dumps(CONVERTER.unstructure(value)))


@functools.cache
def typed(*, sets: bool) -> st.SearchStrategy[Typed]:
    leaves = st.sampled_from(LEAVES)
    if sets:
        leaves = leaves | st.sampled_from(HASHABLE).map(
            lambda c: (set[c[0]], st.sets(c[1], max_size=3))
        )
    return st.recursive(leaves, _extend, max_leaves=4)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_value_of_a_type_fits_its_schema_and_round_trips(
    data: st.DataObject,
) -> None:
    tp, values = data.draw(typed(sets=True), label="type")
    value = data.draw(values, label="value")
    result = schema(tp)
    plain = as_json(value)
    assert validate(plain, result) == []
    assert CONVERTER.structure(plain, tp) == value


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_converter_accepts_exactly_what_the_schema_allows(
    data: st.DataObject,
) -> None:
    tp, values = data.draw(typed(sets=False), label="type")
    candidate = data.draw(JSON | values.map(as_json), label="candidate")
    valid = validate(candidate, schema(tp)) == []
    try:
        CONVERTER.structure(candidate, tp)
    except Exception:
        accepted = False
    else:
        accepted = True
    event(f"accepted={accepted}")
    assert accepted == valid, (candidate, schema(tp))
