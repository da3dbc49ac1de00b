"""Reading untrusted JSON: a nesting limit enforced before the recursive decoder.

Python's ``json`` decoder recurses once per nested array or object, so a
document nested a thousand deep (a model can be talked into writing one)
raises ``RecursionError`` from wherever it is parsed. :func:`loads` counts the
nesting first, without recursion, and refuses a document deeper than
:data:`MAX_DEPTH` with :class:`~llmgine.JSONNestingError` (a ``ValueError``,
so code that already treats "not JSON" as a ``ValueError`` keeps working).
Bytes are read as UTF-8, whatever else they might claim to be.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._exceptions import JSONNestingError

__all__ = ["MAX_DEPTH", "check_depth", "depth", "loads"]

#: The deepest nesting of arrays and objects llmgine reads from outside.
MAX_DEPTH = 128

# a whole string (escapes included), or one bracket
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def depth(text: str) -> int:
    """How deep arrays and objects nest in the JSON ``text`` (brackets in strings
    do not count). Linear, without recursion; meaningful for valid JSON only."""
    if "[" not in text and "{" not in text:
        return 0
    deepest = level = 0
    for match in _TOKEN.finditer(text):
        char = match.group()
        if char == "[" or char == "{":
            level += 1
            if level > deepest:
                deepest = level
        elif char == "]" or char == "}":
            level -= 1
    return deepest


def _refuse(found: int, max_depth: int) -> JSONNestingError:
    return JSONNestingError(
        f"JSON nested {found} levels deep; at most {max_depth} are read"
    )


def loads(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted text: nesting past ``max_depth`` is refused.

    Raises :class:`~llmgine.JSONNestingError` for a document nested too deep,
    ``ValueError`` for one that is not JSON (bytes that are not UTF-8 included).
    """
    text = bytes(data).decode("utf-8-sig") if isinstance(data, _BYTES) else data
    # the common case: too few brackets to nest too deep, nothing to scan
    if text.count("[") + text.count("{") > max_depth:
        found = depth(text)
        if found > max_depth:
            raise _refuse(found, max_depth)
    try:
        return json.loads(text)
    except RecursionError:  # pragma: no cover - only when the stack is already deep
        raise _refuse(max_depth, max_depth) from None


def check_depth(value: object, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`~llmgine.JSONNestingError` if the lists, tuples and mappings
    of ``value`` (a parsed JSON value) nest deeper than ``max_depth``.

    Iterative, so it is safe on any depth; linear in the size of ``value``.
    Runs on every provider reply: exact types are tested before the abstract
    ``Mapping`` check, and scalars never go on the stack.
    """
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        kind = type(item)
        if kind is dict:
            children: Any = item.values()  # type: ignore[attr-defined]
        elif kind is list or kind is tuple:
            children = item
        elif kind in _SCALARS:
            continue
        elif isinstance(item, Mapping):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        level += 1
        if level > max_depth:
            raise _refuse(level, max_depth)
        for child in children:
            if type(child) not in _SCALARS:
                stack.append((child, level))


_SCALARS = frozenset({str, int, float, bool, type(None)})
_BYTES = (bytes, bytearray)  # a tuple: a union would be built on every call
