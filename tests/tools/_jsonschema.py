"""A small JSON Schema checker for the tool tests (``jsonschema`` is no dependency).

It covers the keywords llmgine's schemas use, with JSON's types: ``true`` is a
boolean and never an integer, ``3.0`` is an integer as JSON Schema says.
"""

from __future__ import annotations

import math
from typing import Any

KEYWORDS = {
    "type",
    "enum",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "required",
    "additionalProperties",
    "anyOf",
    "default",
    "description",
}
TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}


def check_schema(schema: Any, where: str = "$") -> None:
    """Raise AssertionError unless ``schema`` is a well-formed schema of our subset."""
    if schema is False or schema is True:
        return
    assert isinstance(schema, dict), f"{where}: a schema is an object"
    unknown = set(schema) - KEYWORDS
    assert not unknown, f"{where}: unknown keywords {unknown}"
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert types, f"{where}: empty type list"
        assert set(types) <= TYPES, f"{where}: bad type {schema['type']!r}"
        assert len(set(types)) == len(types), f"{where}: repeated types"
    if "enum" in schema:
        assert isinstance(schema["enum"], list), f"{where}: enum is a list"
        assert schema["enum"], f"{where}: enum is not empty"
        for value in schema["enum"]:
            assert not validate(value, {k: v for k, v in schema.items() if k == "type"})
    if "items" in schema:
        check_schema(schema["items"], f"{where}.items")
    for i, sub in enumerate(schema.get("prefixItems", ())):
        check_schema(sub, f"{where}.prefixItems[{i}]")
    for key in ("minItems", "maxItems"):
        if key in schema:
            assert isinstance(schema[key], int)
            assert schema[key] >= 0
    if "uniqueItems" in schema:
        assert isinstance(schema["uniqueItems"], bool)
    if "properties" in schema:
        assert isinstance(schema["properties"], dict)
        for name, sub in schema["properties"].items():
            assert isinstance(name, str)
            check_schema(sub, f"{where}.properties.{name}")
    if "required" in schema:
        required = schema["required"]
        assert isinstance(required, list), f"{where}: required is a list"
        assert required, f"{where}: required is not empty"
        assert len(set(required)) == len(required), f"{where}: repeated required"
        assert set(required) <= set(schema.get("properties", {})), f"{where}: required"
    if "additionalProperties" in schema:
        check_schema(schema["additionalProperties"], f"{where}.additionalProperties")
    for i, sub in enumerate(schema.get("anyOf", ())):
        check_schema(sub, f"{where}.anyOf[{i}]")
    if "anyOf" in schema:
        assert schema["anyOf"], f"{where}: anyOf is not empty"
    if "description" in schema:
        assert isinstance(schema["description"], str)
    if "default" in schema:
        problems = validate(schema["default"], schema)
        assert not problems, f"{where}: default does not validate: {problems}"


def _is_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (
            isinstance(value, float) and math.isfinite(value) and value.is_integer()
        )
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``1 != true``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def validate(value: Any, schema: Any, path: str = "$") -> list[str]:
    """The problems of ``value`` against ``schema``; empty when it is valid."""
    if schema is True:
        return []
    if schema is False:
        return [f"{path}: no value is allowed here"]
    found: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [f"{path}: expected {types}, got {value!r}"]
    if "enum" in schema and not any(_equal(value, c) for c in schema["enum"]):
        found.append(f"{path}: {value!r} not in {schema['enum']!r}")
    if "anyOf" in schema and all(validate(value, s, path) for s in schema["anyOf"]):
        found.append(f"{path}: matches none of anyOf")
    if isinstance(value, list):
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items", True)
            found.extend(validate(item, sub, f"{path}[{i}]"))
        if len(value) < schema.get("minItems", 0):
            found.append(f"{path}: too few items")
        if len(value) > schema.get("maxItems", math.inf):
            found.append(f"{path}: too many items")
        if schema.get("uniqueItems"):
            for i, item in enumerate(value):
                if any(_equal(item, other) for other in value[:i]):
                    found.append(f"{path}: repeated item {item!r}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                found.append(f"{path}: missing {name!r}")
        for name, item in value.items():
            sub = properties.get(name, schema.get("additionalProperties", True))
            found.extend(validate(item, sub, f"{path}.{name}"))
    return found
