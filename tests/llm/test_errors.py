"""Error answers map to one typed tree, with the wait the provider asked for."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from llmgine._exceptions import (
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
from llmgine.llm._errors import (
    error_from_body,
    error_from_response,
    error_from_transport,
    is_retryable,
    parse_duration,
    parse_retry_after,
)

from ._wire_fixtures import (
    ANTHROPIC_OVERLOADED,
    GEMINI_DAILY_QUOTA,
    GEMINI_RATE_LIMIT,
    OPENAI_CONTEXT_ERROR,
    OPENAI_QUOTA_ERROR,
    OPENAI_RATE_LIMIT,
)


def answer(
    status: int, body: object, headers: dict[str, str] | None = None
) -> ProviderError:
    response = httpx.Response(status, json=body, headers=headers)
    return error_from_response(provider="test", response=response)


def test_openai_exhausted_quota_is_never_retried() -> None:
    error = answer(429, OPENAI_QUOTA_ERROR)
    assert type(error) is QuotaExceededError
    assert isinstance(error, RateLimitError)  # still a rate limit to those who catch one
    assert not is_retryable(error)


def test_openai_rate_limit_carries_retry_after_and_request_id() -> None:
    error = answer(
        429,
        OPENAI_RATE_LIMIT,
        {"retry-after-ms": "1500", "retry-after": "2", "x-request-id": "req_abc"},
    )
    assert type(error) is RateLimitError
    assert is_retryable(error)
    assert error.retry_after == 1.5  # the finer header wins
    assert error.request_id == "req_abc"
    assert error.status == 429
    assert error.provider == "test"
    assert "Rate limit reached" in str(error)
    assert "[test HTTP 429]" in str(error)
    assert "req_abc" in str(error)


def test_context_window_errors() -> None:
    assert type(answer(400, OPENAI_CONTEXT_ERROR)) is ContextWindowError
    anthropic = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "prompt is too long: 208000 tokens > 200000 maximum",
        },
    }
    assert type(answer(400, anthropic)) is ContextWindowError
    gemini = {
        "error": {
            "code": 400,
            "message": "The input token count (1200000) exceeds the maximum number of "
            "tokens allowed (1048576).",
            "status": "INVALID_ARGUMENT",
        }
    }
    error = answer(400, gemini)
    assert type(error) is ContextWindowError
    assert isinstance(error, BadRequestError)
    assert not is_retryable(error)


def test_anthropic_overloaded_529_is_retryable_with_request_id() -> None:
    error = answer(529, ANTHROPIC_OVERLOADED, {"request-id": "req_011CSHoEeqs5"})
    assert type(error) is ProviderUnavailable
    assert is_retryable(error)
    assert error.request_id == "req_011CSHoEeqs5"
    assert error.body == ANTHROPIC_OVERLOADED


def test_gemini_rate_limit_uses_retry_info() -> None:
    error = answer(429, GEMINI_RATE_LIMIT)
    assert type(error) is RateLimitError
    assert error.retry_after == 31.0


def test_gemini_daily_quota_is_exhausted() -> None:
    error = answer(429, GEMINI_DAILY_QUOTA)
    assert type(error) is QuotaExceededError
    assert not is_retryable(error)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            401,
            {"error": {"message": "Incorrect API key", "code": "invalid_api_key"}},
            AuthenticationError,
        ),
        (
            403,
            {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}},
            AuthenticationError,
        ),
        (
            400,
            {"type": "error", "error": {"type": "authentication_error", "message": "x"}},
            AuthenticationError,
        ),
        (
            402,
            {"type": "error", "error": {"type": "billing_error", "message": "credit"}},
            QuotaExceededError,
        ),
        (
            400,
            {"error": {"message": "flagged", "code": "content_policy_violation"}},
            ContentFilterError,
        ),
        (404, {"error": {"message": "model not found"}}, BadRequestError),
        (422, {"detail": "bad"}, BadRequestError),
        (408, None, ProviderTimeout),
        (
            504,
            {"type": "error", "error": {"type": "timeout_error", "message": "slow"}},
            ProviderTimeout,
        ),
        (409, None, ProviderUnavailable),
        (
            500,
            {"type": "error", "error": {"type": "api_error", "message": "oops"}},
            ProviderUnavailable,
        ),
        (
            503,
            {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}},
            ProviderUnavailable,
        ),
        (302, None, ProviderError),
    ],
)
def test_status_and_body_mapping(status: int, body: object, kind: type) -> None:
    assert type(answer(status, body)) is kind


def test_non_json_and_empty_bodies() -> None:
    html = httpx.Response(502, text="<html>" + "x" * 2000 + "</html>")
    error = error_from_response(provider="p", response=html)
    assert type(error) is ProviderUnavailable
    assert len(error.message) <= 500
    empty = error_from_response(provider="p", response=httpx.Response(503))
    assert empty.message == "Service Unavailable"


def test_error_string_message_and_top_level_message() -> None:
    assert answer(400, {"error": "model 'x' not found"}).message == "model 'x' not found"
    assert answer(400, {"message": "plain"}).message == "plain"


def test_errors_pickle_with_their_details() -> None:
    import pickle

    error = answer(429, OPENAI_RATE_LIMIT, {"retry-after": "3", "x-request-id": "r"})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RateLimitError
    assert (copy.retry_after, copy.request_id, copy.status) == (3.0, "r", 429)


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "4"}) == 4.0
    assert parse_retry_after({"retry-after-ms": "-5"}) is None
    assert parse_retry_after({"retry-after": "-1"}) is None
    assert parse_retry_after({"retry-after": "tomorrow"}) is None
    assert parse_retry_after({}) is None
    when = email.utils.formatdate(1_000_030.0, usegmt=True)
    assert parse_retry_after({"retry-after": when}, now=1_000_000.0) == 30.0
    assert parse_retry_after({"retry-after": when}, now=2_000_000.0) == 0.0
    naive = "Wed, 21 Oct 2015 07:28:00"
    assert parse_retry_after({"retry-after": naive}) is None


def test_parse_duration() -> None:
    assert parse_duration("3s") == 3.0
    assert parse_duration("0.250s") == 0.25
    assert parse_duration("3") is None
    assert parse_duration(3) is None


def test_gemini_retry_info_ignores_odd_details() -> None:
    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "slow down",
            "details": [
                "junk",
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [1],
                },
                {"@type": 5},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"},
            ],
        }
    }
    error = error_from_body(provider="g", status=429, body=body)
    assert type(error) is RateLimitError
    assert error.retry_after == 2.0
    no_details = error_from_body(
        provider="g", status=429, body={"error": {"message": "x", "details": "junk"}}
    )
    assert no_details.retry_after is None


def test_transport_errors() -> None:
    request = httpx.Request("POST", "https://api.example.com")
    connect = error_from_transport(
        provider="p", error=httpx.ConnectError("refused", request=request)
    )
    assert type(connect) is ProviderUnavailable
    assert is_retryable(connect)
    timeout = error_from_transport(provider="p", error=httpx.ReadTimeout("slow"))
    assert type(timeout) is ProviderTimeout
    assert is_retryable(timeout)
    decoding = error_from_transport(provider="p", error=httpx.DecodingError("gzip"))
    assert type(decoding) is MalformedResponseError
    assert not is_retryable(decoding)


def test_only_transient_errors_are_retryable() -> None:
    assert not is_retryable(BadRequestError("x"))
    assert not is_retryable(AuthenticationError("x"))
    assert not is_retryable(ValueError("x"))
    assert is_retryable(RateLimitError("x"))


def test_gemini_invalid_key_is_an_authentication_error() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        }
    }
    assert type(answer(400, body)) is AuthenticationError


@pytest.mark.parametrize(
    "message",
    [
        "Your credit balance is too low to access the Anthropic API.",
        "You have reached your specified API usage limits. You will regain access on "
        "2026-12-01 at 00:00 UTC.",
    ],
)
def test_spend_limits_are_exhausted_quotas(message: str) -> None:
    body = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": message},
    }
    error = answer(400, body)
    assert type(error) is QuotaExceededError
    assert not is_retryable(error)
