"""Secrets: the values that must never reach an error, a trace or a store.

Two kinds of text are replaced by ``[REDACTED]``:

- **known values**: every API key a provider was built with and every value of
  a header marked secret (``Authorization``, ``x-api-key``, ``x-goog-api-key``
  and any header a provider names in ``secret_headers=``). A provider calls
  :func:`register_secret` for each when it is made, so the value is found
  whatever its shape, even inside a vendor's error body that echoes it;
- **key shapes**: text that looks like a credential even when nobody
  registered it (``sk-...``, ``Bearer ...``, ``AIza...``, ``api_key=...``,
  ``?key=...``).

:func:`scrub` is the one function every seam calls: provider errors, trace
handlers and the dead-letter store. Registered values are held for the life of
the process (a key is a few dozen bytes; the registry is bounded); values
shorter than :data:`MIN_SECRET_LENGTH` characters are not registered, since
replacing them would mangle ordinary text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "SECRET_HEADERS",
    "generation",
    "is_secret_header",
    "register_secret",
    "register_secret_headers",
    "scrub",
    "scrub_headers",
    "scrub_value",
]

#: What a secret is replaced with.
REDACTED = "[REDACTED]"

#: Registered values shorter than this are ignored (they would match ordinary text).
MIN_SECRET_LENGTH = 6

#: Header names (lower case) whose values are always secret.
SECRET_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "x-goog-api-key",
        "api-key",
        "cookie",
        "set-cookie",
    }
)

_MAX_SECRETS = 4096

_SHAPES = (
    # header-style "name: value" / "name=value" pairs, and a ``key=`` query parameter
    r"(?P<name>\b(?:authorization|x-api-key|x-goog-api-key|api[-_]?key)"
    r"[\"']?\s*[:=]\s*[\"']?|[?&]key=)(?:bearer\s+|basic\s+)?[^\s\"',;}&]+"
    r"|\bbearer\s+[A-Za-z0-9._~+/=\-]{8,}"
    r"|\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}"
    r"|\bsk_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|\bAIza[0-9A-Za-z_\-]{30,}"
    r"|\b(?:gsk|hf|ghp|gho|github_pat|xoxb|xoxp)_[A-Za-z0-9_]{16,}"
    r"|\bxai-[A-Za-z0-9]{16,}"
)

_lock = threading.Lock()
_values: set[str] = set()
_extra_headers: set[str] = set()
_generation = 0


def _compile() -> re.Pattern[str]:
    # longest first, so a key that contains another registered value is
    # replaced whole; known values before shapes, so they win at one position
    known = "|".join(re.escape(v) for v in sorted(_values, key=len, reverse=True))
    return re.compile(f"(?:{known})|{_SHAPES}" if known else _SHAPES, re.IGNORECASE)


_pattern = _compile()


def generation() -> int:
    """A number that changes whenever a secret is registered.

    A cache of texts known to be clean must be dropped when it changes.
    """
    return _generation


def register_secret(value: object) -> None:
    """Remember ``value`` as a secret: :func:`scrub` replaces it from now on.

    Accepts a key or a header value (a ``Bearer``/``Basic`` scheme is stripped,
    the credential after it is registered too). ``None``, non-strings and
    values shorter than :data:`MIN_SECRET_LENGTH` are ignored.
    """
    global _pattern, _generation
    if not isinstance(value, str):
        return
    candidates = {value.strip()}
    scheme, _, rest = value.strip().partition(" ")
    if rest and scheme.lower() in {"bearer", "basic", "token"}:
        candidates.add(rest.strip())
    new = {c for c in candidates if len(c) >= MIN_SECRET_LENGTH and c not in _values}
    if not new:
        return
    with _lock:
        if len(_values) + len(new) > _MAX_SECRETS:
            # bounded: the oldest registrations are not tracked, so drop the
            # lot rather than grow without end (shapes still apply)
            _values.clear()
        _values.update(new)
        _pattern = _compile()
        _generation += 1


def register_secret_headers(names: Iterable[str]) -> None:
    """Mark more header names (any case) as secret, process-wide."""
    global _generation
    with _lock:
        _extra_headers.update(n.lower() for n in names)
        _generation += 1


def is_secret_header(name: str) -> bool:
    """Whether a header called ``name`` carries a secret value."""
    lowered = name.lower()
    return lowered in SECRET_HEADERS or lowered in _extra_headers


def _replace(match: re.Match[str]) -> str:
    name = match.group("name")
    return f"{name}{REDACTED}" if name else REDACTED


def scrub(text: str) -> str:
    """``text`` with every registered secret and every key shape replaced.

    Returns ``text`` itself when there is nothing to hide.
    """
    pattern = _pattern
    if pattern.search(text) is None:
        return text
    return pattern.sub(_replace, text)


def scrub_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with secret headers' values replaced and the rest scrubbed."""
    return {
        name: REDACTED if is_secret_header(name) else scrub(value)
        for name, value in headers.items()
    }


def scrub_value(value: object, *, _depth: int = 0) -> object:
    """``value`` (a JSON-like structure) with every string in it scrubbed.

    Mappings, lists and tuples are rebuilt only where something changed;
    anything nested deeper than 100 levels is replaced whole (a body that deep
    is refused before it gets here, so this is only a bound on the walk).
    """
    if isinstance(value, str):
        return scrub(value)
    if _depth > 100:
        return REDACTED
    if isinstance(value, Mapping):
        out: dict[object, object] = {}
        changed = False
        for k, v in value.items():
            nk = scrub(k) if isinstance(k, str) else k
            nv = REDACTED if isinstance(k, str) and is_secret_header(k) else v
            nv = scrub_value(nv, _depth=_depth + 1)
            changed = changed or nk is not k or nv is not v
            out[nk] = nv
        return out if changed else value
    if isinstance(value, list | tuple):
        items = [scrub_value(v, _depth=_depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value
