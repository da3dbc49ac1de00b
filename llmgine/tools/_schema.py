"""Type hints to JSON Schema, for the parameters a tool offers the model.

Each supported hint maps to the schema of the JSON the converter in
:mod:`._convert` accepts for it, so what the model is told and what is checked
agree:

==========================  ===================================================
``str`` ``int`` ``float``   ``{"type": "string" | "integer" | "number"}``
``bool``                    ``{"type": "boolean"}``
``list[T]``, ``Sequence``   ``{"type": "array", "items": T}``
``tuple[T, ...]``           the same; ``tuple[A, B]`` uses ``prefixItems``
``set[T]``, ``frozenset``   an array with ``"uniqueItems": true``
``dict[str, T]``            ``{"type": "object", "additionalProperties": T}``
``Literal[...]``, ``Enum``  ``{"enum": [...]}`` (enum members by value)
``T | None``, ``Optional``  ``"type": [T, "null"]``, else ``anyOf`` with null
``A | B``                   ``{"anyOf": [A, B]}``
attrs class                 an object of its ``init`` fields, no extra keys
``Any``                     ``{}`` (anything)
``Annotated[T, "text"]``    T, with ``"text"`` as its description
==========================  ===================================================

Anything else raises :class:`~llmgine.ToolError` naming where it was found.
"""

from __future__ import annotations

import collections.abc
import enum
import json
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import attrs
import cattrs

from .._exceptions import ToolError
from ._convert import CONVERTER
from ._docstring import parse_docstring

__all__ = ["json_schema", "json_default", "nullable", "object_schema"]

JSONSchema = dict[str, Any]

_PRIMITIVES: dict[object, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}
_ARRAYS = {
    list,
    tuple,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Iterable,
    collections.abc.Collection,
}
_SCALARS = {"string", "integer", "number", "boolean"}
_SETS = {set, frozenset, collections.abc.Set, collections.abc.MutableSet}
_MAPPINGS = {dict, collections.abc.Mapping, collections.abc.MutableMapping}
_FACTORY: type = attrs.Factory  # type: ignore[assignment]


def json_schema(tp: object, *, where: str) -> JSONSchema:
    """The JSON Schema of the values of type ``tp``.

    ``where`` names the place of the hint for error messages, e.g.
    ``"parameter 'city' of tool 'get_weather'"``.
    """
    return _schema(tp, where, ())


def _schema(tp: object, where: str, seen: tuple[type, ...]) -> JSONSchema:
    if tp is Any:
        return {}
    if tp in _PRIMITIVES:
        return {"type": _PRIMITIVES[tp]}
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        inner = _schema(args[0], where, seen)
        notes = [a for a in args[1:] if isinstance(a, str)]
        return {**inner, "description": " ".join(notes)} if notes else inner
    if origin is Literal:
        return _enum_schema(list(args), where)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_schema([m.value for m in tp], where)
    if origin in (Union, types.UnionType):
        return _union_schema(args, where, seen)
    if isinstance(tp, type) and attrs.has(tp):
        return _attrs_schema(tp, where, seen)
    container = origin or tp
    if container in _MAPPINGS:
        return _mapping_schema(args, where, seen)
    if container is tuple and args and args[-1] is not Ellipsis:
        items = [_schema(a, where, seen) for a in args]
        return {
            "type": "array",
            "prefixItems": items,
            "items": False,
            "minItems": len(items),
            "maxItems": len(items),
        }
    if container in _ARRAYS or container in _SETS:
        schema: JSONSchema = {"type": "array"}
        if args:
            schema["items"] = _schema(args[0], where, seen)
        if container in _SETS:
            schema["uniqueItems"] = True
        return schema
    raise ToolError(f"{where} has an unsupported type: {_show(tp)}")


def _show(tp: object) -> str:
    if isinstance(tp, type) and not get_args(tp):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")


def _json_type(values: list[object]) -> str | list[str] | None:
    """The JSON type shared by ``values`` (with ``null`` when None is one of them)."""
    present = [v for v in values if v is not None]
    names = {_PRIMITIVES.get(type(v)) for v in present}
    if len(names) != 1:
        return None
    (name,) = names
    if name is None:
        return None
    return [name, "null"] if len(present) < len(values) else name


def _enum_schema(values: list[object], where: str) -> JSONSchema:
    for value in values:
        if not isinstance(value, str | int | float | bool | None):
            raise ToolError(
                f"{where}: enum values must be strings, numbers, booleans or None "
                f"(got {value!r})"
            )
    schema: JSONSchema = {"enum": values}
    json_type = _json_type(values)
    if json_type is not None:
        schema = {"type": json_type, **schema}
    return schema


def nullable(schema: JSONSchema) -> JSONSchema:
    """``schema`` widened to accept ``null`` as well.

    A scalar type gets a type list (``["integer", "null"]``); arrays and objects
    get ``anyOf`` with null, so their keywords stay unconditional.
    """
    if not schema:
        return schema
    json_type = schema.get("type")
    if isinstance(json_type, str) and json_type in _SCALARS:
        widened = {**schema, "type": [json_type, "null"]}
        if "enum" in schema:
            widened["enum"] = [*schema["enum"], None]
        return widened
    if isinstance(json_type, list):
        return schema if "null" in json_type else {**schema, "type": [*json_type, "null"]}
    if set(schema) == {"anyOf"}:
        return {"anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


def _union_schema(
    args: tuple[object, ...], where: str, seen: tuple[type, ...]
) -> JSONSchema:
    others = [a for a in args if a is not type(None)]
    schemas = [_schema(a, where, seen) for a in others]
    if any(s == {} for s in schemas):
        return {}
    schema = schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    return nullable(schema) if len(others) < len(args) else schema


def _mapping_schema(
    args: tuple[object, ...], where: str, seen: tuple[type, ...]
) -> JSONSchema:
    if not args:
        return {"type": "object"}
    if args[0] is not str:
        raise ToolError(f"{where}: mapping keys must be str (got {_show(args[0])})")
    return {"type": "object", "additionalProperties": _schema(args[1], where, seen)}


def _attrs_schema(cls: type, where: str, seen: tuple[type, ...]) -> JSONSchema:
    if cls in seen:
        name = cls.__qualname__
        raise ToolError(f"{where}: recursive attrs class {name} is not supported")
    try:
        attrs.resolve_types(cls)
    except Exception as exc:
        name = cls.__qualname__
        raise ToolError(f"{where}: cannot resolve the types of {name}: {exc}") from exc
    doc = parse_docstring(cls.__doc__)
    properties: dict[str, JSONSchema] = {}
    required: list[str] = []
    for field in attrs.fields(cls):
        if not field.init:
            continue
        if field.type is None:
            raise ToolError(f"{where}: field {cls.__qualname__}.{field.name} has no type")
        inner_where = f"{where}, field {cls.__qualname__}.{field.name}"
        schema = _schema(field.type, inner_where, (*seen, cls))
        text = field.metadata.get("description") or doc.attributes.get(field.name)
        if field.default is attrs.NOTHING:
            required.append(field.name)
        elif not isinstance(field.default, _FACTORY):
            # A factory's value is not known until it is called, maybe with effects.
            schema = json_default(schema, field.default)
        properties[field.name] = {**schema, "description": text} if text else schema
    return object_schema(properties, required, description=doc.summary)


def object_schema(
    properties: dict[str, JSONSchema], required: list[str], *, description: str = ""
) -> JSONSchema:
    """An object schema with exactly these properties and no others."""
    schema: JSONSchema = {"type": "object"}
    if description:
        schema["description"] = description
    schema["properties"] = properties
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def json_default(schema: JSONSchema, default: object) -> JSONSchema:
    """``schema`` with ``default`` added, if the default can be written as JSON."""
    try:
        plain = json.loads(json.dumps(CONVERTER.unstructure(default), allow_nan=False))
    except (TypeError, ValueError, cattrs.errors.CattrsError):
        return schema
    return {**schema, "default": plain}
