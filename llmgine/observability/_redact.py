"""Redaction: keep credentials out of every trace output.

Every built-in handler passes records through :func:`redact_record` before
writing them anywhere, so an API key that slipped into an attribute or an
error message never reaches a console, a file or a collector. Two checks run:

- attribute *keys* that name a credential (``authorization``, ``api_key``,
  ``x-api-key``, ``x-goog-api-key``, ``password``, ``secret``, an access or
  auth ``token``...) have their whole value replaced;
- string *values* anywhere (attributes, nested mappings, lists and sets, the
  error text) go through :func:`llmgine._secrets.scrub`: every key a provider
  was built with, every secret header value (``Authorization``,
  ``x-api-key``, ``x-goog-api-key``, a provider's ``secret_headers=``), and
  anything shaped like a key (``sk-...``, ``Bearer ...``, ``AIza...``,
  ``api_key=...``) is replaced, whatever its shape.

Token *counts* (``gen_ai.usage.input_tokens``, ``gen_ai.request.max_tokens``)
are not credentials and are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from operator import is_

import attrs

from llmgine import _secrets
from llmgine._secrets import REDACTED, scrub
from llmgine.tracing import TraceRecord

__all__ = ["REDACTED", "redact", "redact_record", "redact_text"]

_SECRET_KEY = re.compile(
    r"authorization|api[-_]?key|apikey|x-goog-api-key|password|passwd|secret"
    r"|credential|cookie|private[-_]?key"
    # a token that is a credential, not a token count
    r"|(?:^|[._\-])(?:(?:access|auth|refresh|id|api|bearer|session|csrf)[_\-]?)?token$",
    re.IGNORECASE,
)

# Attribute keys are few and repeat: remember the verdict per key. Short
# string values repeat too (actor paths, message types): remember the clean ones.
# Only exact str is looked up or remembered: a str subclass may compare equal
# to a text it does not hold.
_clean_keys: set[str] = set()
_secret_keys: set[str] = set()
_KEY_CACHE_LIMIT = 4096
_clean_strings: set[str] = set()
_CLEAN_LIMIT = 4096
_CLEAN_LENGTH = 64
_SCALARS = frozenset({int, float, bool, type(None)})
_generation = _secrets.generation()


def _secret_key(key: str) -> bool:
    if type(key) is not str:
        return _SECRET_KEY.search(key) is not None
    if key in _clean_keys:
        return False
    if key in _secret_keys:
        return True
    verdict = _SECRET_KEY.search(key) is not None
    if len(_clean_keys) + len(_secret_keys) < _KEY_CACHE_LIMIT:
        (_secret_keys if verdict else _clean_keys).add(key)
    return verdict


def redact_text(text: str) -> str:
    """``text`` with registered secrets and anything shaped like a key replaced."""
    return scrub(text)


def _value(value: object) -> object:
    if type(value) is str:
        return _clean_string(value)
    if type(value) in _SCALARS:
        return value
    # before the isinstance() checks: the one against the Mapping ABC is slow
    if type(value) is tuple or type(value) is list:
        return _sequence(value)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        return _sequence(value)
    if isinstance(value, set | frozenset):
        members = [_value(v) for v in value]
        if all(map(is_, members, value)):
            return value
        return set(members) if isinstance(value, set) else frozenset(members)
    return value


def _sequence(value: list[object] | tuple[object, ...]) -> object:
    items = [_value(v) for v in value]
    if all(map(is_, items, value)):
        return value
    return items if isinstance(value, list) else tuple(items)


def _fresh() -> None:
    # a secret registered since the verdicts were cached may hide in a
    # string remembered as clean: forget them all
    global _generation
    if _secrets.generation() != _generation:
        _generation = _secrets.generation()
        _clean_strings.clear()


def _clean_string(value: str) -> str:
    if value in _clean_strings:
        return value
    new = redact_text(value)
    if (
        new is value
        and len(value) <= _CLEAN_LENGTH
        and len(_clean_strings) < _CLEAN_LIMIT
    ):
        _clean_strings.add(value)
    return new


def redact(attributes: Mapping[str, object]) -> Mapping[str, object]:
    """Attributes with credential values replaced by ``[REDACTED]``.

    Returns ``attributes`` itself when there is nothing to hide (the common
    case, which costs no copy); otherwise a new dict.
    """
    _fresh()
    changed: dict[str, object] | None = None
    clean_keys, clean, scalars = _clean_keys, _clean_strings, _SCALARS
    for key, value in attributes.items():
        # the common case, a known key and a plain or known value, with no call
        if type(key) is str and key in clean_keys:
            if type(value) in scalars or (type(value) is str and value in clean):
                continue
            new: object = _value(value)
        elif _secret_key(str(key)):
            new = REDACTED if value is not None else None
        else:
            new = _value(value)
        if new is not value:
            if changed is None:
                changed = dict(attributes)
            changed[key] = new
    return attributes if changed is None else changed


def redact_record(record: TraceRecord) -> TraceRecord:
    """``record`` with its attributes and error text redacted (itself if clean)."""
    attributes = record.attributes
    error = record.error
    _fresh()
    new_attributes = redact(attributes) if attributes else attributes
    new_error = redact_text(error) if error else error
    if new_attributes is attributes and new_error is error:
        return record
    return attrs.evolve(record, attributes=new_attributes, error=new_error)
