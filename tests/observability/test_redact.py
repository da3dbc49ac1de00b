"""Redaction: credentials never leave through a trace."""

from __future__ import annotations

import pytest

from llmgine.observability import redact, redact_record
from llmgine.observability._redact import REDACTED, redact_text

from ._records import make_record

OPENAI_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
ANTHROPIC_KEY = "sk-ant-api03-ABCDEFGHIJKLMNOPQRSTUVWX"
GOOGLE_KEY = "AIzaSyA1234567890abcdefghijklmnopqrstu"


@pytest.mark.parametrize(
    "key",
    [
        "authorization",
        "Authorization",
        "http.request.header.authorization",
        "api_key",
        "apiKey",
        "api-key",
        "x-api-key",
        "x-goog-api-key",
        "openai_api_key",
        "password",
        "client_secret",
        "token",
        "access_token",
        "auth.token",
        "refresh-token",
        "set-cookie",
    ],
)
def test_secret_keys_lose_their_values(key: str) -> None:
    assert redact({key: "hunter2", "keep": "me"}) == {key: REDACTED, "keep": "me"}


@pytest.mark.parametrize(
    "key",
    [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.request.max_tokens",
        "gen_ai.token.type",
        "keyword",
        "monkey",
    ],
)
def test_token_counts_and_harmless_keys_stay(key: str) -> None:
    attributes = {key: 42}
    assert redact(attributes) is attributes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"invalid key {OPENAI_KEY}", f"invalid key {REDACTED}"),
        (f"key={ANTHROPIC_KEY}.", f"key={REDACTED}."),
        (f"url?key={GOOGLE_KEY}", f"url?key={REDACTED}"),
        ("Authorization: Bearer abc.def-ghi_jkl", f"Authorization: {REDACTED}"),
        ("bearer eyJhbGciOiJIUzI1NiJ9", REDACTED),
        ('{"x-api-key": "secret-value"}', f'{{"x-api-key": "{REDACTED}"}}'),
        ("x-goog-api-key=abc123", f"x-goog-api-key={REDACTED}"),
        ("sk_live_abcdefghijklmnop1234", REDACTED),
        ("hf_abcdefghijklmnopqrstuvwxyz", REDACTED),
    ],
)
def test_values_shaped_like_keys_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_ordinary_text_is_returned_as_is() -> None:
    text = "The task was asked of sk-8 and a skeleton key."
    assert redact_text(text) is text


def test_nested_values_are_redacted() -> None:
    attributes = {
        "headers": {"Authorization": "Bearer abcdefgh", "accept": "json"},
        "args": ["plain", OPENAI_KEY],
        "pair": ("plain", 3),
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "none": None,
    }
    cleaned = redact(attributes)
    assert cleaned == {
        "headers": {"Authorization": REDACTED, "accept": "json"},
        "args": ["plain", REDACTED],
        "pair": ("plain", 3),
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "none": None,
    }
    assert cleaned["pair"] is attributes["pair"]  # untouched values are not copied
    assert attributes["args"] == ["plain", OPENAI_KEY]  # the input is left alone


def test_a_secret_key_holding_none_stays_none() -> None:
    assert redact({"api_key": None}) == {"api_key": None}


def test_redacted_tuples_stay_tuples() -> None:
    assert redact({"pair": ("a", OPENAI_KEY)}) == {"pair": ("a", REDACTED)}


def test_records_are_redacted_in_attributes_and_error() -> None:
    record = make_record(
        attributes={"x-api-key": "abc", "gen_ai.usage.input_tokens": 12},
        error=f"AuthenticationError: bad key {OPENAI_KEY}",
        error_type="AuthenticationError",
    )
    cleaned = redact_record(record)
    assert cleaned.attributes == {"x-api-key": REDACTED, "gen_ai.usage.input_tokens": 12}
    assert cleaned.error == f"AuthenticationError: bad key {REDACTED}"
    assert cleaned.span_id == record.span_id


def test_clean_records_are_not_copied() -> None:
    record = make_record(attributes={"message.type": "Incr"}, error="ValueError: no")
    assert redact_record(record) is record
    bare = make_record()
    assert redact_record(bare) is bare


def test_verdicts_are_right_when_the_key_cache_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llmgine.observability import _redact

    monkeypatch.setattr(_redact, "_KEY_CACHE_LIMIT", 0)
    assert redact({"uncached_api_key": "v"}) == {"uncached_api_key": REDACTED}
    assert "uncached_api_key" not in _redact._key_cache
