"""The seams: what a provider is, and what a wire codec is.

A :class:`Provider` is anything with ``complete``, ``stream`` and ``aclose`` (the
way an httpx transport is anything with ``handle_async_request``). A
:class:`Codec` is the pure half of an HTTP provider: request to wire JSON,
wire JSON to response, stream events to :class:`StreamEvent` s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol, runtime_checkable

from ._sse import SSEEvent
from ._stream import StreamEvent, StreamFinish
from ._types import LLMRequest, LLMResponse

__all__ = ["Codec", "Provider", "StreamDecoder"]


@runtime_checkable
class Provider(Protocol):
    """An LLM backend: one request in, one response (or a stream of events) out.

    ``name`` is the OpenTelemetry ``gen_ai.provider.name`` (``"openai"``,
    ``"anthropic"``, ``"gcp.gemini"``, ...). Errors are raised from the
    :class:`~llmgine.ProviderError` tree.
    """

    @property
    def name(self) -> str:
        """The provider's name, as traces report it."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request`` and return the whole reply."""

    def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """Send ``request`` and yield the reply as it comes, ending with a finish."""

    async def aclose(self) -> None:
        """Release what the provider holds (its HTTP client, if it made one)."""


class StreamDecoder(Protocol):
    """Turns one stream's server-sent events into stream events.

    One decoder per stream: it remembers what the finish needs (usage, id,
    model, the finish reason), which vendors spread over several events.
    """

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """The deltas one server-sent event carries (raises on an error event)."""

    @property
    def done(self) -> bool:
        """True once the vendor marked the end: nothing more needs reading."""

    def finish(self) -> StreamFinish:
        """The closing event, from what the stream reported.

        Raises :class:`~llmgine.ProviderUnavailable` when the stream stopped
        before the vendor finished it (a dropped connection).
        """


class Codec(Protocol):
    """A vendor's wire format, as pure functions over plain JSON values."""

    def encode_request(self, request: LLMRequest) -> dict[str, Any]:
        """The JSON body for ``request`` (``extra`` merged in last)."""

    def decode_response(self, body: object) -> LLMResponse:
        """The response a JSON body describes, or MalformedResponseError."""

    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder for one stream."""


def merge_extra(body: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` with ``extra``'s keys set on it, untouched (they win)."""
    if extra:
        body.update(extra)
    return body
