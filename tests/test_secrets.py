"""Secret scrubbing: registered values and key shapes never survive scrub()."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmgine import _secrets
from llmgine._secrets import (
    REDACTED,
    is_secret_header,
    register_secret,
    register_secret_headers,
    scrub,
    scrub_headers,
    scrub_value,
)


def test_a_registered_key_of_any_shape_is_scrubbed_from_an_echoing_body() -> None:
    register_secret("plainkey-with-no-known-shape-0001")
    body = "Incorrect API key provided: plainkey-with-no-known-shape-0001. Find yours"
    assert scrub(body) == f"Incorrect API key provided: {REDACTED}. Find yours"


def test_key_shapes_are_scrubbed_without_registration() -> None:
    text = "token sk-abcdefghijklmnopqrstuvwx and Bearer abcdefghijklmnop, ?key=zz&x=1"
    out = scrub(text)
    assert "sk-abc" not in out
    assert "abcdefghijklmnop" not in out
    assert "zz&" not in out
    assert "?key=[REDACTED]&x=1" in out


def test_clean_text_is_returned_unchanged() -> None:
    text = "an ordinary sentence about keys"
    assert scrub(text) is text


def test_bearer_header_value_registers_the_credential_too() -> None:
    register_secret("Bearer credential-value-0002")
    assert scrub("echo: credential-value-0002") == f"echo: {REDACTED}"


def test_short_and_non_string_values_are_ignored() -> None:
    before = _secrets.generation()
    register_secret("abc")
    register_secret(None)
    register_secret(12345678)
    assert _secrets.generation() == before
    assert scrub("abc") == "abc"


def test_registering_the_same_value_twice_changes_nothing() -> None:
    register_secret("repeat-value-0003")
    before = _secrets.generation()
    register_secret("repeat-value-0003")
    assert _secrets.generation() == before


def test_secret_headers_are_known_and_extendable() -> None:
    assert is_secret_header("Authorization")
    assert is_secret_header("X-Goog-Api-Key")
    assert not is_secret_header("X-Custom-Auth-0004")
    register_secret_headers(["X-Custom-Auth-0004"])
    assert is_secret_header("x-custom-auth-0004")
    assert scrub_headers({"x-custom-auth-0004": "v", "accept": "json"}) == {
        "x-custom-auth-0004": REDACTED,
        "accept": "json",
    }


def test_scrub_value_walks_nested_bodies_and_keeps_clean_ones() -> None:
    register_secret("nested-secret-0005")
    clean = {"a": [1, "x", ("y",)], "b": None}
    assert scrub_value(clean) is clean
    dirty = {"error": {"message": ["nested-secret-0005"], "t": ("nested-secret-0005",)}}
    assert scrub_value(dirty) == {"error": {"message": [REDACTED], "t": (REDACTED,)}}
    assert scrub_value({"Authorization": "anything"}) == {"Authorization": REDACTED}
    deep: object = "nested-secret-0005"
    for _ in range(150):
        deep = [deep]
    assert "nested-secret-0005" not in repr(scrub_value(deep))


def test_the_registry_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = set(_secrets._values)
    monkeypatch.setattr(_secrets, "_MAX_SECRETS", len(saved) + 1)
    try:
        register_secret("bound-one-0006")
        register_secret("bound-two-0006")
        assert scrub("bound-two-0006") == REDACTED
        assert len(_secrets._values) == 1
    finally:
        _restore(saved)


def _restore(saved: set[str]) -> None:
    # random values registered here must not redact other tests' text
    _secrets._values.clear()
    _secrets._values.update(saved)
    _secrets.register_secret("restore-marker-0007")


@given(
    prefix=st.text(max_size=30),
    suffix=st.text(max_size=30),
    key=st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FFF),
        min_size=12,
        max_size=40,
    ),
)
def test_a_registered_value_never_survives(prefix: str, suffix: str, key: str) -> None:
    saved = set(_secrets._values)
    try:
        register_secret(key)
        assert key.strip() not in scrub(prefix + key + suffix)
    finally:
        _restore(saved)
