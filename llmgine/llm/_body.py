"""Request bodies as JSON bytes, with the text of what repeats remembered.

Every step of a turn sends the whole conversation again, and the tools with
it: a codec that encodes each message and tool to JSON text once, and splices
the texts into the body, does a fraction of the work of dumping the whole body
each time. :class:`FragmentCache` remembers the text of a frozen value (a
``Message``, a ``ToolSpec``) by identity for as long as the value lives;
:func:`splice` builds the body around the remembered texts.

Where the wire merges messages (Anthropic and Gemini join consecutive messages
of one role into one turn), :class:`EncodingCache` remembers the texts of each
message's blocks instead, and :func:`merge_turns` joins them into the turns.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["EncodingCache", "FragmentCache", "dumps", "merge_turns", "splice"]

T = TypeVar("T")
E = TypeVar("E")

#: Texts longer than this are not remembered (an inline image, say): keeping a
#: second copy alive for as long as the message lives would cost more than
#: encoding it again.
MAX_REMEMBERED = 64 * 1024

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: object) -> str:
    """``value`` as compact JSON text, non-ASCII kept as is."""
    return _encoder.encode(value)


class EncodingCache(Generic[T, E]):
    """What ``encode`` makes of each value, remembered while it lives.

    Values are told apart by identity (they are frozen, so one that lives
    always encodes the same), and forgotten when they are collected: the
    cache holds weak references only. ``size`` counts the characters an
    encoding holds: one larger than :data:`MAX_REMEMBERED` is not remembered.
    """

    __slots__ = ("_encode", "_entries", "_size")

    def __init__(self, encode: Callable[[T], E], size: Callable[[E], int]) -> None:
        self._encode = encode
        self._size = size
        self._entries: dict[int, tuple[E, weakref.ref[Any]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, value: T) -> E:
        """``encode(value)``, from memory when ``value`` was seen before."""
        key = id(value)
        entry = self._entries.get(key)
        if entry is not None and entry[1]() is value:
            return entry[0]
        encoding = self._encode(value)
        if self._size(encoding) <= MAX_REMEMBERED:
            entries = self._entries

            def forget(_: object, key: int = key) -> None:
                entries.pop(key, None)

            entries[key] = (encoding, weakref.ref(value, forget))
        return encoding


class FragmentCache(EncodingCache[T, str]):
    """The JSON text ``encode`` makes of each value (a message, a tool)."""

    __slots__ = ()

    def __init__(self, encode: Callable[[T], str]) -> None:
        super().__init__(encode, len)

    #: ``encode(value)``, from memory when ``value`` was seen before.
    text = EncodingCache.get


def splice(head: Mapping[str, Any], arrays: Iterable[tuple[str, Iterable[str]]]) -> bytes:
    """The JSON object ``head`` with arrays of ready JSON texts added, as bytes.

    ``arrays`` pairs a key with the texts of its elements (empty texts are
    skipped: a message may encode to nothing). The keys must not be in ``head``.
    """
    pieces = [
        f"{dumps(key)}:[{','.join(t for t in texts if t)}]" for key, texts in arrays
    ]
    rest = dumps(head)
    if len(rest) > 2:  # "{...}": its members go after the arrays
        pieces.append(rest[1:-1])
    return ("{" + ",".join(pieces) + "}").encode()


#: One message as :func:`merge_turns` takes it: the role of its turn, the texts of
#: its blocks that go first in the turn, and the texts of the rest.
Blocks = tuple[str, Sequence[str], Sequence[str]]


def merge_turns(key: str, messages: Iterable[Blocks]) -> list[str]:
    """The JSON texts of the turns ``messages`` make, as wires that merge them want.

    Consecutive messages of one role make one turn, ``{"role": role, key:
    [...]}``, which holds the first texts of all its messages, then the rest.
    A message without texts is left out, and does not part its neighbours.
    """
    merged: list[tuple[str, list[str], list[str]]] = []
    for role, first, rest in messages:
        if not first and not rest:
            continue
        if not merged or merged[-1][0] != role:
            merged.append((role, [], []))
        merged[-1][1].extend(first)
        merged[-1][2].extend(rest)
    name = dumps(key)
    return [
        f'{{"role":{dumps(role)},{name}:[{",".join(first + rest)}]}}'
        for role, first, rest in merged
    ]
