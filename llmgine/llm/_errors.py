"""From an HTTP error answer to one typed error of the :class:`ProviderError` tree.

The three vendors shape their error bodies differently, but recognisably:

- OpenAI (and most compatible servers): ``{"error": {"message", "type", "code"}}``
- Anthropic: ``{"type": "error", "error": {"type", "message"}}``
- Gemini (Google RPC): ``{"error": {"code", "message", "status", "details": [...]}}``

so one mapping reads them all. The wait the provider asks for comes from the
``retry-after-ms`` or ``retry-after`` header, or from a Gemini ``RetryInfo``.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

import httpx

from .. import _json
from .._exceptions import (
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextWindowError,
    MalformedResponseError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    QuotaExceededError,
    RateLimitError,
)
from .._secrets import scrub, scrub_value

__all__ = [
    "error_from_body",
    "error_from_response",
    "error_from_transport",
    "is_retryable",
    "parse_duration",
    "parse_retry_after",
    "scrub_error",
]

_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id")
_QUOTA_CODES = frozenset(
    {"insufficient_quota", "billing_hard_limit_reached", "billing_error"}
)
_CONTENT_CODES = frozenset({"content_filter", "content_policy_violation"})
_CONTEXT_RE = re.compile(
    r"context[ _](length|window)|prompt is too long|maximum context"
    r"|exceeds the maximum number of tokens|too many (input )?tokens",
    re.IGNORECASE,
)
_SPEND_RE = re.compile(
    r"credit balance is too low|spend(ing)? limit|usage limits?\b", re.IGNORECASE
)
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?)s\s*$")
_MAX_TEXT = 500


def parse_duration(text: object) -> float | None:
    """A protobuf JSON duration (``"3s"``, ``"0.25s"``) in seconds, or None."""
    if not isinstance(text, str):
        return None
    match = _DURATION_RE.match(text)
    return float(match.group(1)) if match else None


def parse_retry_after(
    headers: Mapping[str, str] | httpx.Headers, *, now: float | None = None
) -> float | None:
    """The wait, in seconds, that the ``retry-after(-ms)`` headers ask for.

    ``retry-after-ms`` wins over ``retry-after``, which may be seconds or an
    HTTP date (compared with ``now``, the wall clock unless given).
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis)
        except ValueError:
            pass
        else:
            if value >= 0:
                return value / 1000.0
    after = lowered.get("retry-after")
    if after is None:
        return None
    try:
        seconds = float(after)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(after)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        current = time.time() if now is None else now
        return max(0.0, when.timestamp() - current)
    return seconds if seconds >= 0 else None


def _details(error: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    details = error.get("details")
    if not isinstance(details, list):
        return []
    return [d for d in details if isinstance(d, Mapping)]


def _detail_type(detail: Mapping[str, Any]) -> str:
    kind = detail.get("@type")
    return kind.rsplit("/", 1)[-1] if isinstance(kind, str) else ""


def _gemini_retry_delay(error: Mapping[str, Any]) -> float | None:
    for detail in _details(error):
        if _detail_type(detail) == "google.rpc.RetryInfo":
            return parse_duration(detail.get("retryDelay"))
    return None


def _gemini_daily_quota(error: Mapping[str, Any]) -> bool:
    """A per-day quota violation: waiting seconds will not help."""
    for detail in _details(error):
        if _detail_type(detail) != "google.rpc.QuotaFailure":
            continue
        violations = detail.get("violations")
        for violation in violations if isinstance(violations, list) else ():
            quota = violation.get("quotaId") if isinstance(violation, Mapping) else None
            if isinstance(quota, str) and "PerDay" in quota:
                return True
    return False


def _gemini_bad_key(error: Mapping[str, Any]) -> bool:
    """An ``ErrorInfo`` detail saying the key is invalid (Gemini answers 400 then)."""
    for detail in _details(error):
        reason = detail.get("reason")
        is_info = _detail_type(detail) == "google.rpc.ErrorInfo"
        if is_info and isinstance(reason, str) and reason.startswith("API_KEY"):
            return True
    return False


def _classify(
    status: int, kind: str, code: str, rpc: str, message: str, error: Mapping[str, Any]
) -> type[ProviderError]:
    labels = {kind, code}
    if status in (401, 403) or rpc in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return AuthenticationError
    if labels & {"authentication_error", "permission_error", "invalid_api_key"}:
        return AuthenticationError
    if _gemini_bad_key(error):
        return AuthenticationError
    if labels & _QUOTA_CODES or status == 402 or _gemini_daily_quota(error):
        return QuotaExceededError
    if status in (400, 403, 429) and _SPEND_RE.search(message):
        return QuotaExceededError
    if status == 429 or rpc == "RESOURCE_EXHAUSTED" or "rate_limit_error" in labels:
        return RateLimitError
    if status in (408, 504) or rpc == "DEADLINE_EXCEEDED" or "timeout_error" in labels:
        return ProviderTimeout
    if status == 409 or status >= 500 or "overloaded_error" in labels:
        return ProviderUnavailable
    if rpc in ("UNAVAILABLE", "INTERNAL") or "api_error" in labels:
        return ProviderUnavailable
    if labels & _CONTENT_CODES:
        return ContentFilterError
    if code == "context_length_exceeded" or _CONTEXT_RE.search(message):
        return ContextWindowError
    if 400 <= status < 500:
        return BadRequestError
    return ProviderError


def error_from_body(
    *,
    provider: str,
    status: int,
    body: object,
    headers: Mapping[str, str] | httpx.Headers | None = None,
) -> ProviderError:
    """The typed error for an error answer whose body is already parsed."""
    headers = headers if headers is not None else {}
    error: Mapping[str, Any] = {}
    message = ""
    if isinstance(body, Mapping):
        raw = body.get("error")
        if isinstance(raw, Mapping):
            error = raw
            message = _label(raw.get("message"))
        elif isinstance(raw, str):
            message = raw
        elif isinstance(body.get("message"), str):
            message = body["message"]
    elif isinstance(body, str):
        message = body
    message = message[:_MAX_TEXT]
    kind = _label(error.get("type"))
    code = _label(error.get("code"))
    rpc = _label(error.get("status"))
    if not message:
        message = _reason(status)
    cls = _classify(status, kind, code, rpc, message, error)
    retry_after = parse_retry_after(headers)
    if retry_after is None:
        retry_after = _gemini_retry_delay(error)
    request_id = next((headers[h] for h in _REQUEST_ID_HEADERS if h in headers), None)
    label = kind or code or rpc
    return scrub_error(
        cls(
            f"{message} ({label})" if label and label not in message else message,
            provider=provider,
            status=status,
            request_id=request_id,
            retry_after=retry_after,
            body=body,
        )
    )


def _label(value: object) -> str:
    """A field of an error body as text: strings and numbers only."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def scrub_error(error: ProviderError) -> ProviderError:
    """``error`` with secrets scrubbed from its message, ``.body`` and args.

    Every provider error passes through here before it is raised, so a key a
    vendor echoes back (``"Incorrect API key provided: ..."``) never reaches
    ``str(exc)``, ``repr(exc)``, ``exc.body``, a traceback or a store.
    """
    error.message = scrub(error.message)
    error.args = tuple(scrub(a) if isinstance(a, str) else a for a in error.args)
    if error.body is not None:
        error.body = scrub_value(error.body)
    if error.request_id is not None:
        error.request_id = scrub(error.request_id)
    return error


def _reason(status: int) -> str:
    try:
        return httpx.codes.get_reason_phrase(status) or f"HTTP {status}"
    except ValueError:  # pragma: no cover - httpx returns "" for unknown codes
        return f"HTTP {status}"


def error_from_response(*, provider: str, response: httpx.Response) -> ProviderError:
    """The typed error for an HTTP answer with an error status (already read)."""
    content = response.content
    body: object
    try:
        body = _json.loads(content) if content else None
    except ValueError:  # not JSON, not UTF-8, or nested too deep: keep the text
        body = content[: _MAX_TEXT * 8].decode("utf-8", "replace")
    return error_from_body(
        provider=provider,
        status=response.status_code,
        body=body,
        headers=response.headers,
    )


def error_from_transport(*, provider: str, error: httpx.HTTPError) -> ProviderError:
    """The typed error for a failure below HTTP (connection, timeout, protocol)."""
    name = type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        return ProviderTimeout(f"request timed out ({name})", provider=provider)
    if isinstance(error, httpx.DecodingError):
        return MalformedResponseError(f"undecodable body ({name})", provider=provider)
    return ProviderUnavailable(
        f"could not reach the provider ({name})", provider=provider
    )


def is_retryable(error: BaseException) -> bool:
    """Whether trying the same request again may succeed.

    Rate limits (but not exhausted quotas), overloads, 5xx answers, connection
    failures and timeouts are worth another try; anything that is the caller's
    fault (bad request, bad key) is not.
    """
    if isinstance(error, QuotaExceededError):
        return False
    return isinstance(error, RateLimitError | ProviderUnavailable | ProviderTimeout)
