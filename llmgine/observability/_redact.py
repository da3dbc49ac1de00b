"""Redaction: keep credentials out of every trace output.

Every built-in handler passes records through :func:`redact_record` before
writing them anywhere, so an API key that slipped into an attribute or an
error message never reaches a console, a file or a collector. Two checks run:

- attribute *keys* that name a credential (``authorization``, ``api_key``,
  ``x-api-key``, ``x-goog-api-key``, ``password``, ``secret``, an access or
  auth ``token``...) have their whole value replaced;
- string *values* anywhere (attributes, nested mappings and lists, the error
  text) have anything shaped like a key (``sk-...``, ``Bearer ...``,
  ``AIza...``, ``api_key=...``) replaced.

Token *counts* (``gen_ai.usage.input_tokens``, ``gen_ai.request.max_tokens``)
are not credentials and are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from llmgine.actors._tracing import TraceRecord

__all__ = ["REDACTED", "redact", "redact_record", "redact_text"]

#: What a secret is replaced with.
REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"authorization|api[-_]?key|apikey|x-goog-api-key|password|passwd|secret"
    r"|credential|cookie|private[-_]?key"
    # a token that is a credential, not a token count
    r"|(?:^|[._\-])(?:(?:access|auth|refresh|id|api|bearer|session|csrf)[_\-]?)?token$",
    re.IGNORECASE,
)

_SECRET_VALUE = re.compile(
    # header-style "name: value" / "name=value" pairs
    r"(?P<name>\b(?:authorization|x-api-key|x-goog-api-key|api[-_]?key)"
    r"[\"']?\s*[:=]\s*[\"']?)(?:bearer\s+|basic\s+)?[^\s\"',;}]+"
    r"|\bbearer\s+[A-Za-z0-9._~+/=\-]{8,}"
    r"|\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}"
    r"|\bsk_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|\bAIza[0-9A-Za-z_\-]{30,}"
    r"|\b(?:gsk|hf|ghp|gho|github_pat|xoxb|xoxp)_[A-Za-z0-9_]{16,}"
    r"|\bxai-[A-Za-z0-9]{16,}",
    re.IGNORECASE,
)

# Attribute keys are few and repeat: remember the verdict per key. Short
# string values repeat too (actor paths, message types): remember the clean ones.
_key_cache: dict[str, bool] = {}
_KEY_CACHE_LIMIT = 4096
_clean_strings: dict[str, None] = {}
_CLEAN_LIMIT = 4096
_CLEAN_LENGTH = 64
_SCALARS = frozenset({int, float, bool, type(None)})


def _secret_key(key: str) -> bool:
    verdict = _key_cache.get(key)
    if verdict is None:
        verdict = _SECRET_KEY.search(key) is not None
        if len(_key_cache) < _KEY_CACHE_LIMIT:
            _key_cache[key] = verdict
    return verdict


def _replace(match: re.Match[str]) -> str:
    name = match.group("name")
    return f"{name}{REDACTED}" if name else REDACTED


def redact_text(text: str) -> str:
    """``text`` with anything shaped like an API key or bearer token replaced."""
    if _SECRET_VALUE.search(text) is None:
        return text
    return _SECRET_VALUE.sub(_replace, text)


def _value(value: object) -> object:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return redact(value)
    if isinstance(value, list | tuple):
        items = [_value(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def redact(attributes: Mapping[str, object]) -> Mapping[str, object]:
    """Attributes with credential values replaced by ``[REDACTED]``.

    Returns ``attributes`` itself when there is nothing to hide (the common
    case, which costs no copy); otherwise a new dict.
    """
    changed: dict[str, object] | None = None
    clean = _clean_strings
    for key, value in attributes.items():
        if _secret_key(str(key)):
            new: object = REDACTED if value is not None else None
        elif type(value) in _SCALARS or (type(value) is str and value in clean):
            continue
        elif type(value) is str:
            new = redact_text(value)
            if new is value and len(value) <= _CLEAN_LENGTH and len(clean) < _CLEAN_LIMIT:
                clean[value] = None
        else:
            new = _value(value)
        if new is not value:
            if changed is None:
                changed = dict(attributes)
            changed[key] = new
    return attributes if changed is None else changed


def redact_record(record: TraceRecord) -> TraceRecord:
    """``record`` with its attributes and error text redacted (itself if clean)."""
    attributes = redact(record.attributes) if record.attributes else record.attributes
    error = redact_text(record.error) if record.error else record.error
    if attributes is record.attributes and error is record.error:
        return record
    return attrs.evolve(record, attributes=attributes, error=error)
