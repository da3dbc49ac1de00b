"""Values that satisfy a JSON Schema: the arguments a test model sends a tool.

:func:`example_value` builds a small value valid against the schema a tool
offers (``@tool`` schemas, MCP tools' schemas, structured-output schemas):
types and type lists, ``enum`` and ``const``, ``anyOf``/``oneOf`` (the first
branch that works), ``allOf``, local ``$ref`` into ``$defs``/``definitions``,
objects with their ``required`` and other ``properties``, arrays with
``items``/``prefixItems``, ``minItems``/``maxItems`` and ``uniqueItems``, the
numeric bounds and ``multipleOf``, string lengths and the common formats.
A ``default`` is used as it is. ``pattern`` is not solved: a string is
generated and may not match.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .._exceptions import ConfigurationError

__all__ = ["example_value"]

#: A valid sample per string ``format``.
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}
#: How deep a schema may nest (or refer to itself) before generation gives up.
_MAX_DEPTH = 32
_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


def example_value(schema: Mapping[str, Any] | bool, *, seed: int = 0) -> Any:
    """A value valid against ``schema`` (a JSON Schema object, or ``True``).

    ``seed`` varies the strings and numbers chosen (the result is the same for
    the same schema and seed). Raises :class:`~llmgine.ConfigurationError` for
    ``False`` (nothing is valid) or a ``$ref`` that does not resolve.
    """
    root = schema if isinstance(schema, Mapping) else {}
    return _Generator(root, seed).value(schema, 0, 0)


class _Generator:
    __slots__ = ("root", "seed")

    def __init__(self, root: Mapping[str, Any], seed: int) -> None:
        self.root = root
        self.seed = seed

    def value(self, schema: Mapping[str, Any] | bool, n: int, depth: int) -> Any:
        if schema is True:
            return f"value{self.seed + n}"
        if schema is False or not isinstance(schema, Mapping):
            raise ConfigurationError(f"no value satisfies the schema {schema!r}")
        if depth > _MAX_DEPTH:
            raise ConfigurationError("the schema nests too deeply to build a value")
        if "$ref" in schema:
            target = self.resolve(schema["$ref"])
            return self.value({**target, **_without(schema, "$ref")}, n, depth + 1)
        if "default" in schema:
            return schema["default"]
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            values = list(schema["enum"])
            if not values:
                raise ConfigurationError("no value satisfies an empty enum")
            return values[(self.seed + n) % len(values)]
        if "allOf" in schema:
            merged: dict[str, Any] = dict(_without(schema, "allOf"))
            for part in schema["allOf"]:
                merged = _merge(merged, part)
            return self.value(merged, n, depth + 1)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                rest = _without(schema, key)
                return self.value({**rest, **schema[key][0]}, n, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = min(kind, key=_rank) if kind else None
        if kind is None:
            kind = _guess(schema)
        return self.typed(kind, schema, n, depth)

    def typed(self, kind: str, schema: Mapping[str, Any], n: int, depth: int) -> Any:
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, depth)
        if kind == "string":
            return self.string(schema, n)
        if kind in ("integer", "number"):
            return self.number(schema, n, integer=kind == "integer")
        if kind == "boolean":
            return (self.seed + n) % 2 == 1
        if kind == "null":
            return None
        raise ConfigurationError(f"unknown JSON Schema type {kind!r}")

    def resolve(self, ref: object) -> Mapping[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise ConfigurationError(f"only local $refs can be resolved (got {ref!r})")
        node: Any = self.root
        for key in filter(None, ref[1:].split("/")):
            key = key.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or key not in node:
                raise ConfigurationError(f"the $ref {ref!r} does not resolve")
            node = node[key]
        if not isinstance(node, Mapping):
            raise ConfigurationError(f"the $ref {ref!r} does not name a schema")
        return node

    def object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties: Mapping[str, Any] = schema.get("properties") or {}
        result = {
            name: self.value(sub, i, depth + 1)
            for i, (name, sub) in enumerate(properties.items())
        }
        for name in schema.get("required") or ():
            if name not in result:
                result[name] = self.value(True, len(result), depth + 1)
        return result

    def array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        prefix = list(schema.get("prefixItems") or ())
        items = schema.get("items", True)
        low = int(schema.get("minItems", 0))
        high = schema.get("maxItems")
        # one item more than needed shows the model's side of a list, unless
        # no item may follow the prefix (then too few is a schema nothing meets)
        count = max(low, len(prefix), 0 if items is False else 1)
        if high is not None:
            count = min(count, int(high))
        values = []
        for i in range(count):
            sub = prefix[i] if i < len(prefix) else items
            values.append(self.value(sub, i, depth + 1))
        if schema.get("uniqueItems") and len(set(map(repr, values))) < len(values):
            values = values[:1]  # distinct values are not always possible: keep one
        return values

    def string(self, schema: Mapping[str, Any], n: int) -> str:
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS:
            return _FORMATS[fmt]
        text = "abcdefghijklmnopqrstuvwxyz"[(self.seed + n) % 26]
        length = max(int(schema.get("minLength", 1)), 1)
        high = schema.get("maxLength")
        if high is not None:
            length = min(length, int(high))
        return text * length

    def number(self, schema: Mapping[str, Any], n: int, *, integer: bool) -> int | float:
        low = schema.get("minimum")
        high = schema.get("maximum")
        ex_low = schema.get("exclusiveMinimum")
        ex_high = schema.get("exclusiveMaximum")
        step = schema.get("multipleOf") or 1
        candidate: float = self.seed + n
        if ex_low is not None and not isinstance(ex_low, bool):
            candidate = max(candidate, ex_low + step)
        if low is not None:
            candidate = max(candidate, low)
        if ex_high is not None and not isinstance(ex_high, bool):
            candidate = min(candidate, ex_high - step)
        if high is not None:
            candidate = min(candidate, high)
        candidate = math.ceil(candidate / step) * step
        if high is not None and candidate > high:
            candidate -= step
        return int(candidate) if integer else float(candidate)


def _rank(kind: object) -> int:
    return _ORDER.index(kind) if kind in _ORDER else len(_ORDER)


def _without(schema: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def _merge(left: Mapping[str, Any], right: Mapping[str, Any] | bool) -> dict[str, Any]:
    if not isinstance(right, Mapping):
        return dict(left)
    merged = dict(left)
    for key, value in right.items():
        if key == "properties" and key in merged:
            merged[key] = {**merged[key], **value}
        elif key == "required" and key in merged:
            merged[key] = [*merged[key], *value]
        else:
            merged[key] = value
    return merged


def _guess(schema: Mapping[str, Any]) -> str:
    """The type a schema without ``type`` implies by its keywords (or string)."""
    if {"properties", "required", "additionalProperties"} & set(schema):
        return "object"
    if {"items", "prefixItems", "minItems", "maxItems"} & set(schema):
        return "array"
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & set(schema):
        return "number"
    return "string"
