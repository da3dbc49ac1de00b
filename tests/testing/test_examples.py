"""example_value: a value valid against a JSON Schema, checked by a real validator."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmgine._exceptions import ConfigurationError
from llmgine.testing import example_value

jsonschema = pytest.importorskip("jsonschema")

SCHEMAS: list[dict[str, Any]] = [
    {"type": "string"},
    {"type": "string", "minLength": 5, "maxLength": 7},
    {"type": "string", "maxLength": 0},
    {"type": "string", "format": "date-time"},
    {"type": "string", "format": "email"},
    {"type": "integer", "minimum": 10, "maximum": 12},
    {"type": "integer", "exclusiveMinimum": 3, "multipleOf": 5},
    {"type": "number", "maximum": -2.5},
    {"type": "number", "exclusiveMaximum": 0},
    {"type": "boolean"},
    {"type": "null"},
    {"type": ["integer", "null"]},
    {"type": ["null", "string", "mystery"]},
    {"enum": ["a", 1, None]},
    {"const": {"k": [1, 2]}},
    {"default": 7, "type": "integer"},
    {"anyOf": [{"type": "integer"}, {"type": "string"}]},
    {"oneOf": [{"type": "boolean"}], "description": "one"},
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}},
            {"properties": {"b": {"type": "string"}}, "required": ["a", "b"]},
            True,
        ]
    },
    {"type": "array", "items": {"type": "integer"}, "minItems": 3, "uniqueItems": True},
    {"type": "array", "items": {"enum": ["x"]}, "uniqueItems": True},
    {"type": "array", "maxItems": 0},
    {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "items": False,
    },
    {"items": {"type": "string"}},
    {"type": "object", "additionalProperties": {"type": "number"}},
    {"type": "object", "required": ["free"]},
    {"required": ["only"], "properties": {"only": {"minimum": 2}}},
    {"maximum": 1},
    {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "tags": {"$ref": "#/$defs/Tags"},
                },
                "required": ["name"],
                "additionalProperties": False,
            },
            "Tags": {"type": "array", "items": {"type": "string"}},
        },
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "required": ["root"],
    },
    {"definitions": {"a/b": {"type": "integer"}}, "$ref": "#/definitions/a~1b"},
    {
        "allOf": [
            {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"type": "null"}}, "required": ["b"]},
        ]
    },
    {},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
@settings(deadline=None, max_examples=25)
@given(seed=st.integers(min_value=0, max_value=1000))
def test_the_value_is_valid_against_the_schema(schema: dict[str, Any], seed: int) -> None:
    value = example_value(schema, seed=seed)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.FormatChecker()
    ).validate(value)


def test_same_seed_same_value_and_seeds_vary_it() -> None:
    schema = {"type": "object", "properties": {"s": {"type": "string"}}}
    assert example_value(schema, seed=3) == example_value(schema, seed=3)
    assert example_value(schema, seed=3) != example_value(schema, seed=4)
    assert example_value(True) == "value0"


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (False, "no value satisfies"),
        ({"enum": []}, "empty enum"),
        ({"$ref": "https://example.com/x"}, "only local"),
        ({"$ref": "#/$defs/missing"}, "does not resolve"),
        ({"$defs": {"x": 3}, "$ref": "#/$defs/x"}, "does not name a schema"),
        ({"type": "mystery"}, "unknown JSON Schema type"),
        ({"$defs": {"x": {"$ref": "#/$defs/x"}}, "$ref": "#/$defs/x"}, "too deeply"),
        ({"type": "array", "items": False, "minItems": 1}, "no value satisfies"),
    ],
)
def test_impossible_schemas_are_clear_errors(schema: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        example_value(schema)


def test_an_array_that_cannot_hold_distinct_values_keeps_one() -> None:
    schema = {"type": "array", "prefixItems": [{"const": 1}, {"const": 1}]}
    assert example_value({**schema, "uniqueItems": True}) == [1]
