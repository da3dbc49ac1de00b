"""Request bodies as JSON bytes, with the text of what repeats remembered.

Every step of a turn sends the whole conversation again, and the tools with
it: a codec that encodes each message and tool to JSON text once, and splices
the texts into the body, does a fraction of the work of dumping the whole body
each time. :class:`FragmentCache` remembers the text of a frozen value (a
``Message``, a ``ToolSpec``) by identity for as long as the value lives;
:func:`splice` builds the body around the remembered texts.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["FragmentCache", "dumps", "splice"]

T = TypeVar("T")

#: Texts longer than this are not remembered (an inline image, say): keeping a
#: second copy alive for as long as the message lives would cost more than
#: encoding it again.
MAX_REMEMBERED = 64 * 1024

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: object) -> str:
    """``value`` as compact JSON text, non-ASCII kept as is."""
    return _encoder.encode(value)


class FragmentCache(Generic[T]):
    """The JSON text ``encode`` makes of each value, remembered while it lives.

    Values are told apart by identity (they are frozen, so one that lives
    always encodes the same), and forgotten when they are collected: the
    cache holds weak references only.
    """

    __slots__ = ("_encode", "_entries")

    def __init__(self, encode: Callable[[T], str]) -> None:
        self._encode = encode
        self._entries: dict[int, tuple[str, weakref.ref[Any]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def text(self, value: T) -> str:
        """``encode(value)``, from memory when ``value`` was seen before."""
        key = id(value)
        entry = self._entries.get(key)
        if entry is not None and entry[1]() is value:
            return entry[0]
        text = self._encode(value)
        if len(text) <= MAX_REMEMBERED:
            entries = self._entries

            def forget(_: object, key: int = key) -> None:
                entries.pop(key, None)

            entries[key] = (text, weakref.ref(value, forget))
        return text


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
