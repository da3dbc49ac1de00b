"""The strict converter: JSON in, typed values out, and every problem with its path."""

from __future__ import annotations

import datetime
import enum
import json
from typing import Any, Literal

import attrs
import cattrs
import pytest

from llmgine.tools._convert import (
    CONVERTER,
    Invalid,
    describe_value,
    make_converter,
    problems,
    to_content,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.frozen
class Point:
    x: int
    y: int = 0


@attrs.frozen
class Shape:
    points: list[Point]


def fails(value: object, tp: Any) -> list[tuple[str, str]]:
    with pytest.raises(Exception) as info:
        CONVERTER.structure(value, tp)
    return problems(info.value)


@pytest.mark.parametrize(
    ("value", "tp", "expected"),
    [
        (3, int, 3),
        (3.0, int, 3),
        (1, float, 1.0),
        (2.5, float, 2.5),
        ("x", str, "x"),
        (False, bool, False),
        ([1, 2], list[int], [1, 2]),
        ((1, 2), list[int], [1, 2]),
        ([1, 2], tuple[int, ...], (1, 2)),
        ([1, "a"], tuple[int, str], (1, "a")),
        ([2, 1, 2], set[int], {1, 2}),
        ([1], frozenset[int], frozenset({1})),
        ({"a": 1}, dict[str, int], {"a": 1}),
        ({"a": [1]}, dict, {"a": [1]}),
        ("red", Color, Color.RED),
        (1.0, Literal[1, 2], 1),
        ("f", Literal["c", "f"], "f"),
        (None, int | None, None),
        (True, int | bool, True),
        ("a", int | str, "a"),
        ({"x": 1}, Point, Point(x=1)),
        ({"anything": [None]}, Any, {"anything": [None]}),
    ],
)
def test_json_values_structure_to_their_types(
    value: object, tp: Any, expected: Any
) -> None:
    result = CONVERTER.structure(value, tp)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "tp", "message"),
    [
        ("abc", int, "expected an integer, got string 'abc'"),
        ("12", int, "expected an integer, got string '12'"),
        (True, int, "expected an integer, got boolean True"),
        (1.5, int, "expected an integer, got number 1.5"),
        (True, float, "expected a number, got boolean True"),
        ("1.0", float, "expected a number, got string '1.0'"),
        (1, str, "expected a string, got integer 1"),
        (None, str, "expected a string, got null None"),
        (1, bool, "expected a boolean, got integer 1"),
        ("true", bool, "expected a boolean, got string 'true'"),
        ("abc", list[str], "expected an array, got string 'abc'"),
        ({"a": 1}, list[int], "expected an array, got object"),
        ([1], dict[str, int], "expected an object, got array"),
        ([1, 2, 3], tuple[int, str], "expected an array of 2 items, got array"),
        ("RED", Color, "expected one of ['red', 'blue'], got string 'RED'"),
        (True, Literal[1, 2], "expected one of [1, 2], got boolean True"),
        (True, int | str, "expected integer or string, got boolean True"),
        (1, Point, "expected an object, got integer 1"),
    ],
)
def test_wrong_values_say_what_was_expected_and_what_came(
    value: object, tp: Any, message: str
) -> None:
    assert fails(value, tp) == [("", message)]


def test_problems_inside_containers_and_classes_carry_their_paths() -> None:
    assert fails({"points": [{"x": 1}, {"x": "a", "z": 0}, {}, 5]}, Shape) == [
        (".points[1].x", "expected an integer, got string 'a'"),
        (".points[1].z", "unexpected key"),
        (".points[2].x", "is required"),
        (".points[3]", "expected an object, got integer 5"),
    ]


def test_problems_in_mappings_and_fixed_tuples_carry_their_paths() -> None:
    assert fails({"a": 1, "b": "x", "odd key": None}, dict[str, int]) == [
        (".b", "expected an integer, got string 'x'"),
        ("['odd key']", "expected an integer, got null None"),
    ]
    assert fails([1, 2], tuple[int, str]) == [("[1]", "expected a string, got integer 2")]


def test_unknown_errors_are_described_by_type_and_message() -> None:
    assert problems(ValueError("bad")) == [("", "ValueError: bad")]
    assert problems(KeyError()) == [("", "KeyError")]
    assert str(Invalid([("", "a"), (".x", "b")])) == "$: a; .x: b"


def test_long_values_are_shortened_in_messages() -> None:
    text = describe_value("x" * 100)
    assert text.startswith("string 'xxx")
    assert text.endswith("...")
    assert len(text) < 60


def test_the_converter_is_private_and_fresh() -> None:
    ours = make_converter()
    assert ours is not CONVERTER
    # The global cattrs converter keeps its lenient behaviour: we never touch it.
    assert cattrs.structure("12", int) == 12
    with pytest.raises(Invalid):
        ours.structure("12", int)


@pytest.mark.parametrize(
    ("value", "content"),
    [
        ("plain text", "plain text"),
        (3, "3"),
        (None, "null"),
        ({"a": [1, 2]}, '{"a": [1, 2]}'),
        (Point(x=1), '{"x": 1, "y": 0}'),
        (Color.BLUE, '"blue"'),
        ({3, 1, 2}, "[1, 2, 3]"),
        ({"mixed", 1}, None),
        ("café", "café"),
        ({"city": "Zürich"}, '{"city": "Zürich"}'),
        (datetime.date(2024, 5, 1), '"2024-05-01"'),
    ],
)
def test_results_become_text_for_the_model(value: object, content: str | None) -> None:
    result = to_content(value)
    if content is None:
        assert sorted(json.loads(result), key=str) == sorted(value, key=str)  # type: ignore[call-overload]
    else:
        assert result == content


def test_a_value_whose_repr_fails_is_described_by_its_kind() -> None:
    class Odd:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert describe_value(Odd()) == "Odd"
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    assert describe_value(deep) == "array"
