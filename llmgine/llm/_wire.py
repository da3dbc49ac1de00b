"""Helpers the codecs share: reading untrusted JSON, tool arguments, ids.

Everything a provider sends is untrusted: these readers check types and raise
:class:`~llmgine.MalformedResponseError` naming the path that was wrong, so a
codec never lets a ``KeyError`` or ``TypeError`` escape.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .. import _json
from .._exceptions import MalformedResponseError, ProviderError
from .._secrets import scrub

#: Built once: ``json.dumps`` with options makes an encoder on every call.
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

__all__ = [
    "arguments_object",
    "dump_arguments",
    "SLIPS",
    "decoding",
    "malformed",
    "new_call_id",
    "opt_int",
    "opt_list",
    "opt_obj",
    "opt_str",
    "parse_arguments",
    "req_obj",
    "req_str",
    "slipped",
]


def _bad(provider: str, where: str, expected: str, got: object) -> MalformedResponseError:
    return MalformedResponseError(
        f"expected {expected} at {where!r} (got {type(got).__name__})",
        provider=provider,
        body=None,
    )


def req_obj(value: object, where: str, provider: str) -> Mapping[str, Any]:
    """``value`` as a JSON object, or MalformedResponseError."""
    if type(value) is dict:  # what json.loads makes: no ABC check
        return value
    if not isinstance(value, Mapping):
        raise _bad(provider, where, "an object", value)
    return value


def opt_obj(value: object, where: str, provider: str) -> Mapping[str, Any]:
    """``value`` as a JSON object; ``None`` reads as an empty one."""
    return {} if value is None else req_obj(value, where, provider)


def opt_list(value: object, where: str, provider: str) -> list[Any]:
    """``value`` as a JSON array; ``None`` reads as an empty one."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(provider, where, "an array", value)
    return value


def req_str(value: object, where: str, provider: str) -> str:
    """``value`` as a string, or MalformedResponseError."""
    if not isinstance(value, str):
        raise _bad(provider, where, "a string", value)
    return value


def opt_str(value: object, where: str, provider: str) -> str | None:
    """``value`` as a string or ``None``."""
    if value is None or type(value) is str:
        return value
    return req_str(value, where, provider)


def opt_int(value: object, where: str, provider: str) -> int:
    """``value`` as a non-negative token count; ``None`` reads as 0."""
    if value is None:
        return 0
    if type(value) is int and value >= 0:  # the common case: one test
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(provider, where, "a non-negative integer", value)
    return value


#: What a slip in decoding untrusted JSON raises (``UnicodeError`` and
#: ``JSONNestingError`` are ``ValueError`` s).
SLIPS = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    AttributeError,
    RecursionError,
    OverflowError,
)


def slipped(provider: str, exc: BaseException) -> MalformedResponseError:
    """The MalformedResponseError for a slip (one of :data:`SLIPS`) in decoding."""
    return MalformedResponseError(
        scrub(f"could not decode the response: {type(exc).__name__}: {exc}")[:500],
        provider=provider,
    )


@contextmanager
def decoding(provider: str) -> Iterator[None]:
    """Turn any slip in decoding untrusted JSON into MalformedResponseError.

    The readers above catch what they can name; this is the net under them,
    so decoding never raises anything but a :class:`ProviderError`.
    """
    try:
        yield
    except ProviderError:
        raise
    except SLIPS as exc:
        raise slipped(provider, exc) from exc


def malformed(provider: str, message: str) -> MalformedResponseError:
    """A MalformedResponseError saying what was missing or wrong."""
    return MalformedResponseError(message, provider=provider)


def parse_arguments(text: str) -> Mapping[str, Any] | str:
    """Tool-call arguments from the model's JSON: a dict, or the raw text.

    An empty string means "no arguments". Text that does not parse to a JSON
    object (or nests deeper than ``llmgine._json.MAX_DEPTH``) is returned as
    is, so the tool layer can report the model's mistake.
    """
    if not text.strip():
        return {}
    try:
        value = _json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def dump_arguments(arguments: Mapping[str, Any] | str) -> str:
    """Tool-call arguments as the JSON string OpenAI-style APIs expect."""
    if isinstance(arguments, str):
        return arguments
    return _compact.encode(arguments if type(arguments) is dict else dict(arguments))


def arguments_object(arguments: Mapping[str, Any] | str) -> dict[str, Any]:
    """Tool-call arguments as a JSON object, for APIs that take one.

    A raw string that is not a JSON object is wrapped as ``{"arguments": text}``
    so the conversation can still be sent back.
    """
    if isinstance(arguments, str):
        parsed = parse_arguments(arguments)
        return dict(parsed) if not isinstance(parsed, str) else {"arguments": parsed}
    return dict(arguments)


def new_call_id() -> str:
    """A fresh id for a tool call the provider sent without one."""
    return "call_" + os.urandom(12).hex()
