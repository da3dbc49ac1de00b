"""Untrusted JSON: the nesting limit holds before the recursive decoder."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmgine import _json
from llmgine._exceptions import JSONNestingError, LLMgineError
from llmgine._json import MAX_DEPTH, check_depth, depth, loads


def test_nesting_past_the_limit_is_refused_typed() -> None:
    text = "[" * 5000 + "]" * 5000
    with pytest.raises(JSONNestingError, match="5000 levels deep; at most 128"):
        loads(text)
    assert issubclass(JSONNestingError, LLMgineError)
    assert issubclass(JSONNestingError, ValueError)  # "not JSON" handlers keep working


def test_nesting_at_the_limit_is_read() -> None:
    text = '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH
    value = loads(text)
    for _ in range(MAX_DEPTH):
        value = value["a"]
    assert value == 1
    with pytest.raises(JSONNestingError):
        loads("[" + text + "]")


def test_brackets_inside_strings_do_not_count() -> None:
    text = '["' + "[" * 500 + '\\"", {"k": "]]]"}]'
    assert depth(text) == 2
    assert loads(text)[1] == {"k": "]]]"}


def test_bytes_are_read_as_utf8_only() -> None:
    assert loads(b'\xef\xbb\xbf{"a": "\xc3\xa9"}') == {"a": "é"}  # a BOM is fine
    with pytest.raises(ValueError):  # UnicodeDecodeError, typed by each caller
        loads(b'{"a": "\xff"}')
    with pytest.raises(ValueError):
        loads('{"a": ')


def test_check_depth_walks_parsed_values_without_recursion() -> None:
    value: object = 1
    for _ in range(10_000):
        value = {"a": [value]}
    with pytest.raises(JSONNestingError):
        check_depth(value)
    check_depth({"a": [1, (2, {"b": 3})]}, max_depth=4)
    with pytest.raises(JSONNestingError):
        check_depth({"a": [1, (2, {"b": [3]})]}, max_depth=4)


def test_check_depth_counts_any_mapping_or_sequence_and_skips_other_objects() -> None:
    from types import MappingProxyType

    class Items(list[object]):
        pass

    nested = MappingProxyType({"a": Items([MappingProxyType({"b": object()})])})
    check_depth(nested, max_depth=3)
    with pytest.raises(JSONNestingError, match="3 levels deep; at most 2"):
        check_depth(nested, max_depth=2)


@given(
    st.recursive(st.integers() | st.text(max_size=5), lambda c: st.lists(c, max_size=3))
)
def test_depth_agrees_with_the_structure(value: object) -> None:

    def measure(v: object) -> int:
        return 1 + max(map(measure, v), default=0) if isinstance(v, list) else 0

    assert _json.depth(json.dumps(value)) == measure(value)
