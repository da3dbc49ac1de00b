"""What the fuzz targets are fed, and how many examples each gets.

Every target runs under the profile named by ``LLMGINE_FUZZ_PROFILE``:
``fuzz-quick`` (the default: a few hundred examples per target, part of the
ordinary test run) or ``fuzz`` (2,000 per target; ``tox -e fuzz`` and CI).
The profiles are applied per test, so other tests' hypothesis settings stay
as they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = [
    "DEEP",
    "deep_text",
    "fuzz",
    "json_values",
    "mutated",
    "nested",
    "odd_text",
]

settings.register_profile(
    "fuzz-quick",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("LLMGINE_FUZZ_PROFILE", "fuzz-quick")

F = TypeVar("F", bound=Callable[..., Any])


def fuzz(test: F) -> F:
    """Run ``test`` with the fuzz profile's settings."""
    return settings(settings.get_profile(PROFILE))(test)


#: Nesting depths worth trying: under the limit, at it, past it, far past it.
DEEP = (8, 127, 128, 129, 1000, 5000)

# Keys the vendors use, so random objects often look like the real thing.
KEYS = (
    "choices",
    "message",
    "content",
    "tool_calls",
    "function",
    "arguments",
    "name",
    "id",
    "usage",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "finish_reason",
    "delta",
    "index",
    "refusal",
    "error",
    "type",
    "text",
    "input",
    "stop_reason",
    "content_block",
    "partial_json",
    "candidates",
    "parts",
    "functionCall",
    "args",
    "finishReason",
    "usageMetadata",
    "promptTokenCount",
    "candidatesTokenCount",
    "thought",
    "thoughtSignature",
    "signature",
    "status",
    "code",
    "details",
    "reasoning_content",
    "input_tokens",
    "output_tokens",
)


def nested(depth: int, leaf: object = 1, *, kind: str = "list") -> object:
    """A value nested ``depth`` deep, built without recursion."""
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def deep_text(depth: int, *, kind: str = "object") -> str:
    """JSON text nested ``depth`` deep."""
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth + "]" * depth


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "stop", "tool_calls", "STOP", "end_turn", "[DONE]", "{"])
)

#: Any JSON-like value, keys often the vendors' own.
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5
        )
    ),
    max_leaves=16,
)

#: Text a model or a vendor might send: JSON, half JSON, deep JSON, odd Unicode.
odd_text: st.SearchStrategy[str] = st.one_of(
    st.text(max_size=40),
    st.sampled_from(DEEP).map(deep_text),
    st.sampled_from(DEEP).map(lambda d: deep_text(d, kind="array")),
    json_values.map(repr),
    st.just('{"a": 1'),
    st.just("\ud800"),  # a lone surrogate: not encodable
    st.just("1" * 5000),  # past int's digit limit
    st.just('{"a": 1e999}'),
)


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [prefix]
    stack = [(value, prefix)]
    while stack:
        node, path = stack.pop()
        if len(path) >= 12:  # not into a deep nest: the helpers here recurse
            continue
        if isinstance(node, dict):
            items: list[tuple[object, object]] = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            continue
        for key, child in items:
            out.append((*path, key))
            stack.append((child, (*path, key)))
    return out


def _replace(value: Any, path: tuple[object, ...], new: object, delete: bool) -> Any:
    if not path:
        return new
    key, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(key, None)
        else:
            copy[key] = _replace(value[key], rest, new, delete)
        return copy
    copy_list = list(value)
    assert isinstance(key, int)
    if delete and not rest:
        del copy_list[key]
    else:
        copy_list[key] = _replace(value[key], rest, new, delete)
    return copy_list


@st.composite
def mutated(draw: st.DrawFn, base: object) -> Any:
    """``base`` (a vendor's body) with a few values replaced, removed or nested deep."""
    value = base
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(value)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "delete", "deep", "text"]))
        if action == "delete" and path:
            value = _replace(value, path, None, True)
        elif action == "deep":
            depth = draw(st.sampled_from(DEEP))
            kind = draw(st.sampled_from(["list", "dict"]))
            value = _replace(value, path, nested(depth, kind=kind), False)
        elif action == "text":
            value = _replace(value, path, draw(odd_text), False)
        else:
            value = _replace(value, path, draw(json_values), False)
    return value
