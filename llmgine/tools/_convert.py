"""The strict cattrs converter that structures a model's arguments for a tool.

Models send JSON, and JSON is all this converter accepts: an ``int`` parameter
takes a JSON integer (``3`` or ``3.0``; not ``"3"``, ``true`` or ``1.5``), a
``float`` takes any JSON number but not a boolean, a ``list[T]`` takes an array
(never a string, which is also iterable), an attrs class takes an object with no
unknown keys. cattrs' own hooks are lenient (``int("12")``); ours say what was
expected and what came, and keep the path of every problem (``point.x``, ``items[2]``).
"""

from __future__ import annotations

import collections.abc
import enum
import json
import types
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn

__all__ = [
    "CONVERTER",
    "Invalid",
    "describe_value",
    "make_converter",
    "problems",
    "to_content",
]

_SEQUENCES = {
    list,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Iterable,
    collections.abc.Collection,
}
_SETS = {set, frozenset, collections.abc.Set, collections.abc.MutableSet}
_MAPPINGS = {dict, collections.abc.Mapping, collections.abc.MutableMapping}
_JSON_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
    type(None): "null",
}


class Invalid(ValueError):
    """Values that did not match their types: ``problems`` are ``(path, message)``.

    A path is relative to the value being structured: ``""`` for the value
    itself, ``".x"`` for an attribute or key, ``"[2]"`` for an item.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p or '$'}: {m}" for p, m in problems))
        self.problems = problems


def describe_value(value: object) -> str:
    """A short description of a JSON value for an error message: ``string 'abc'``."""
    kind = _JSON_NAMES.get(type(value), type(value).__name__)
    if isinstance(value, list | dict | tuple | set | frozenset):
        return kind  # never repr'd: a container may nest past the recursion limit
    try:
        text = repr(value)
    except Exception:  # a repr that fails says nothing the kind does not
        return kind
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def _mismatch(expected: str, value: object) -> Invalid:
    return Invalid([("", f"expected {expected}, got {describe_value(value)}")])


def problems(exc: BaseException) -> list[tuple[str, str]]:
    """Flatten a structuring error into ``(path, message)`` pairs."""
    if isinstance(exc, Invalid):
        return exc.problems
    if isinstance(exc, ForbiddenExtraKeysError):
        return [(f".{key}", "unexpected key") for key in sorted(exc.extra_fields)]
    if isinstance(exc, ClassValidationError):
        found: list[tuple[str, str]] = []
        with_notes, without_notes = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(sub, KeyError):
                found.append((f".{note.name}", "is required"))
            else:
                found.extend((f".{note.name}{p}", m) for p, m in problems(sub))
        for sub in without_notes:
            found.extend(problems(sub))
        return found
    text = str(exc)
    return [("", f"{type(exc).__name__}: {text}" if text else type(exc).__name__)]


def _structure_str(value: object, _: type) -> str:
    if isinstance(value, str):
        return value
    raise _mismatch("a string", value)


def _structure_int(value: object, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # JSON Schema counts 3.0 as an integer, and so do we
    raise _mismatch("an integer", value)


def _structure_float(value: object, _: type) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise _mismatch("a number", value)


def _structure_bool(value: object, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise _mismatch("a boolean", value)


def _structure_any(value: object, _: object) -> object:
    return value


def _is_union(tp: object) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _is_literal(tp: object) -> bool:
    return get_origin(tp) is Literal


def _is_enum(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum)


def _is_set(tp: Any) -> bool:
    return (get_origin(tp) or tp) in _SETS


def _is_container(tp: object) -> bool:
    origin = get_origin(tp) or tp
    return origin is tuple or any(
        origin in kinds for kinds in (_SEQUENCES, _SETS, _MAPPINGS)
    )


def _key(key: str) -> str:
    """A mapping key as a path step: ``.name``, or ``['odd key']``."""
    return f".{key}" if key.isidentifier() else f"[{key!r}]"


def _same(a: object, b: object) -> bool:
    """Equal as JSON values: ``1`` matches ``1.0`` but never ``True``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def make_converter() -> cattrs.Converter:
    """A fresh strict converter for tool arguments and results (see module doc)."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook_func(lambda tp: tp is Any, _structure_any)

    def structure_items(items: list[tuple[str, object, Any]]) -> list[Any]:
        """Structure ``(path, value, type)`` triples, collecting every problem."""
        out: list[Any] = []
        found: list[tuple[str, str]] = []
        for path, value, tp in items:
            try:
                out.append(conv.structure(value, tp))
            except Exception as exc:
                found.extend((f"{path}{p}", m) for p, m in problems(exc))
        if found:
            raise Invalid(found)
        return out

    def structure_container(value: object, tp: Any) -> object:
        origin, args = get_origin(tp) or tp, get_args(tp)
        if origin in _MAPPINGS:
            if not isinstance(value, dict):
                raise _mismatch("an object", value)
            item = args[1] if args else Any
            keys = [str(k) for k in value]
            values = structure_items([(_key(k), value[k], item) for k in keys])
            return dict(zip(keys, values, strict=True))
        if not isinstance(value, list | tuple):
            raise _mismatch("an array", value)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _mismatch(f"an array of {len(args)} items", value)
            pairs = zip(value, args, strict=True)
            return tuple(
                structure_items([(f"[{i}]", v, t) for i, (v, t) in enumerate(pairs)])
            )
        item = args[0] if args else Any
        items = structure_items([(f"[{i}]", v, item) for i, v in enumerate(value)])
        if origin is tuple:
            return tuple(items)
        if origin in _SETS:
            return frozenset(items) if origin is frozenset else set(items)
        return items

    def structure_literal(value: object, tp: Any) -> object:
        for choice in get_args(tp):
            if _same(choice, value):
                return choice
        raise _mismatch(f"one of {list(get_args(tp))!r}", value)

    def structure_enum(value: object, tp: type[enum.Enum]) -> enum.Enum:
        for member in tp:
            if _same(member.value, value):
                return member
        raise _mismatch(f"one of {[m.value for m in tp]!r}", value)

    def structure_union(value: object, tp: Any) -> object:
        members = get_args(tp)
        if value is None and type(None) in members:
            return None
        # An exact JSON-type match first, so ``1`` stays an int in ``float | int``.
        ordered = sorted(members, key=lambda m: m is not type(value))
        for member in ordered:
            if member is type(None):
                continue
            try:
                return conv.structure(value, member)
            except Exception:  # the next member may fit
                continue
        names = " or ".join(_type_name(m) for m in members)
        raise _mismatch(names, value)

    def attrs_factory(cls: type) -> Callable[[object, type], object]:
        inner: Callable[[Any, type], object] = make_dict_structure_fn(
            cls, conv, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
        )

        def structure_attrs(value: object, tp: type) -> object:
            if not isinstance(value, dict):
                raise _mismatch("an object", value)
            return inner(value, tp)

        return structure_attrs

    conv.register_structure_hook_func(_is_container, structure_container)
    conv.register_structure_hook_func(_is_literal, structure_literal)
    conv.register_structure_hook_func(_is_enum, structure_enum)
    conv.register_structure_hook_func(_is_union, structure_union)
    conv.register_structure_hook_factory(attrs.has, attrs_factory)
    # JSON has no sets: write them as arrays, in a stable order where possible.
    conv.register_unstructure_hook_func(
        _is_set,
        lambda value: [conv.unstructure(v) for v in _ordered(value)],
    )
    return conv


def _ordered(values: set[Any] | frozenset[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def _type_name(tp: object) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and tp in _JSON_NAMES:
        return _JSON_NAMES[tp]
    return getattr(tp, "__name__", None) or repr(tp)


def _json_default(value: object) -> object:
    return str(value)


#: The converter every part of llmgine.tools uses.
CONVERTER = make_converter()


def to_content(value: object) -> str:
    """A tool's return value as the text sent back to the model.

    A ``str`` is sent as it is; anything else is unstructured (attrs classes
    become objects, enums their values, sets arrays) and encoded as JSON; other
    values JSON cannot hold (dates, ...) are written as their ``str``.
    """
    if isinstance(value, str):
        return value
    plain = CONVERTER.unstructure(value)
    return json.dumps(plain, ensure_ascii=False, default=_json_default)
