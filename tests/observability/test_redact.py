"""Redaction: credentials never leave through a trace."""

from __future__ import annotations

from typing import Any

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


class _Label(str):
    pass


class _HeaderName:
    def __str__(self) -> str:
        return _Label("x-api-key")


class _Disguised(str):
    """Equal to a harmless key, but written out as a credential's name."""

    def __str__(self) -> str:
        return "api_key"


class _Lookalike(str):
    """Equal to every string, whatever it holds."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("plain")


class _Args(list[str]):
    pass


def test_keys_are_judged_by_their_text_not_by_equality() -> None:
    from llmgine.observability import _redact

    assert redact({"message.type": "v"}) == {"message.type": "v"}  # a known key now
    assert list(redact({_Disguised("message.type"): "v"}).values()) == [REDACTED]
    header: dict[Any, object] = {_HeaderName(): "v"}
    assert list(redact(header).values()) == [REDACTED]
    # only plain str is remembered
    assert {type(k) for k in _redact._secret_keys | _redact._clean_keys} == {str}


def test_values_are_judged_by_their_text_not_by_equality() -> None:
    assert redact({"note": "plain"}) == {"note": "plain"}  # a known value now
    # repr(), as == would believe a _Lookalike
    assert repr(redact({"note": _Lookalike(OPENAI_KEY)})) == repr({"note": REDACTED})
    assert repr(redact({"note": [_Lookalike(OPENAI_KEY)]})) == repr({"note": [REDACTED]})


def test_list_subclasses_are_redacted_as_lists() -> None:
    cleaned = redact({"args": _Args(["plain", OPENAI_KEY])})
    assert cleaned == {"args": ["plain", REDACTED]}
    assert type(cleaned["args"]) is list
    args = _Args(["plain"])
    assert redact({"args": args})["args"] is args


def test_verdicts_are_right_when_the_key_cache_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llmgine.observability import _redact

    monkeypatch.setattr(_redact, "_KEY_CACHE_LIMIT", 0)
    assert redact({"uncached_api_key": "v"}) == {"uncached_api_key": REDACTED}
    assert "uncached_api_key" not in _redact._secret_keys | _redact._clean_keys


def test_secrets_inside_sets_are_redacted() -> None:
    cleaned = redact({"keys": {OPENAI_KEY, "plain"}, "frozen": frozenset({GOOGLE_KEY})})
    assert cleaned == {"keys": {REDACTED, "plain"}, "frozen": frozenset({REDACTED})}
    assert type(cleaned["frozen"]) is frozenset
    clean = {"plain", "words"}
    assert redact({"tags": clean})["tags"] is clean
