"""Fuzz: what comes over HTTP (any status, charset, bytes) never escapes untyped.

Each vendor provider answers from a mock transport with a random status,
content type and body (vendor JSON mutated, random bytes, invalid UTF-8,
UTF-16, deep nesting); ``complete`` and ``stream`` return or raise a
:class:`~llmgine.LLMgineError`, and the provider's key never appears in the
error, even when the body echoes it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import trio
from hypothesis import given
from hypothesis import strategies as st
from llm._wire_fixtures import (
    ANTHROPIC_STREAM,
    ANTHROPIC_TOOL_USE,
    GEMINI_FUNCTION_CALLS,
    GEMINI_STREAM,
    OPENAI_TEXT,
    OPENAI_TOOL_STREAM,
)

from llmgine import LLMgineError, ProviderError
from llmgine.llm import (
    AnthropicProvider,
    GeminiProvider,
    LLMRequest,
    Message,
    OpenAIProvider,
    RetryPolicy,
    TextPart,
)

from ._strategies import DEEP, deep_text, fuzz, mutated, odd_text

KEY = "fuzz-key-4b1d9e77c0"  # no known key shape: found only because it is registered
REQUEST = LLMRequest(
    model="m", messages=(Message(role="user", parts=(TextPart(text="hi"),)),)
)
PROVIDERS = {
    "openai": OpenAIProvider,
    "anthropic": AnthropicProvider,
    "gemini": GeminiProvider,
}
BODIES: dict[str, Any] = {
    "openai": OPENAI_TEXT,
    "anthropic": ANTHROPIC_TOOL_USE,
    "gemini": GEMINI_FUNCTION_CALLS,
}


def _sse(vendor: str) -> bytes:
    if vendor == "anthropic":
        items = [(name, chunk) for name, chunk in ANTHROPIC_STREAM]
    else:
        chunks = OPENAI_TOOL_STREAM if vendor == "openai" else GEMINI_STREAM
        items = [("message", chunk) for chunk in chunks]
    lines = [f"event: {name}\ndata: {json.dumps(chunk)}\n\n" for name, chunk in items]
    if vendor == "openai":
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def _encode(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset, "surrogatepass")
    except (LookupError, UnicodeError):
        return text.encode("utf-8", "surrogatepass")


@st.composite
def answers(draw: st.DrawFn) -> tuple[str, bool, int, str, bytes]:
    vendor = draw(st.sampled_from(sorted(PROVIDERS)))
    stream = draw(st.booleans())
    status = draw(st.sampled_from([200, 200, 200, 400, 401, 403, 404, 429, 500, 529]))
    charset = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "bogus", ""]))
    kind = "text/event-stream" if stream else "application/json"
    content_type = f"{kind}; charset={charset}" if charset else kind
    source = draw(st.sampled_from(["vendor", "mutated", "echo", "deep", "bytes", "text"]))
    if source == "vendor":
        body = _sse(vendor) if stream else json.dumps(BODIES[vendor]).encode()
    elif source == "mutated":
        value = draw(mutated(BODIES[vendor]))
        try:
            text = json.dumps(value)
        except (ValueError, RecursionError):
            text = deep_text(1000)
        body = _encode(f"data: {text}\n\n" if stream else text, charset or "utf-8")
    elif source == "echo":
        text = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}"}})
        body = _encode(f"data: {text}\n\n" if stream else text, charset or "utf-8")
    elif source == "deep":
        text = deep_text(draw(st.sampled_from(DEEP)))
        body = (f"data: {text}\n\n" if stream else text).encode()
    elif source == "bytes":
        body = draw(st.binary(max_size=200))
        if stream and draw(st.booleans()):
            body = b"data: " + body + b"\n\n"
    else:
        text = draw(odd_text)
        body = _encode(f"data: {text}\n\n" if stream else text, charset or "utf-8")
    cut = draw(st.integers(min_value=0, max_value=len(body)))
    if draw(st.booleans()):
        body = body[:cut]  # the connection dropped
    return vendor, stream, status, content_type, body


async def _call(vendor: str, stream: bool, status: int, ctype: str, body: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"content-type": ctype}, content=body)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    provider = PROVIDERS[vendor](
        api_key=KEY, client=client, retry=RetryPolicy(max_attempts=1, instant=True)
    )
    try:
        if stream:
            async for _ in provider.stream(REQUEST):
                pass
        else:
            await provider.complete(REQUEST)
    finally:
        await client.aclose()


@fuzz
@given(case=answers())
def test_any_answer_raises_only_typed_errors_and_never_the_key(
    case: tuple[str, bool, int, str, bytes],
) -> None:
    error: LLMgineError | None = None
    try:
        trio.run(_call, *case)
    except LLMgineError as exc:
        error = exc
    if error is not None:
        body = error.body if isinstance(error, ProviderError) else None
        assert KEY not in f"{error} {error!r} {body!r}"
