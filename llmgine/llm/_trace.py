"""LLM-call spans with OpenTelemetry GenAI attribute names.

A provider call made inside an actor system becomes one ``llm.call`` trace
record named ``chat {model}``; outside a system nothing is recorded and the
cost is one context-variable read. Message content is attached, as the GenAI
JSON message format, only when the tracer records content (its content
switch, or a handler's, is on: ``Tracer.records_content``).
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from ..tracing import (
    RecordKind,
    Span,
    TraceContext,
    TraceRecord,
    current_actor,
    current_sink,
    current_trace,
    describe_error,
    start_context,
    traced,
)
from ._types import (
    BlobPart,
    LLMRequest,
    LLMResponse,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

__all__ = ["ProviderInfo", "StreamSpan", "llm_span", "record_response"]


class ProviderInfo(Protocol):
    """What a span says about the provider."""

    @property
    def name(self) -> str:
        """The ``gen_ai.provider.name``."""

    @property
    def server_address(self) -> str | None:
        """The host the provider talks to, if any."""

    @property
    def server_port(self) -> int | None:
        """The port the provider talks to, if any."""


def _request_attributes(provider: ProviderInfo, request: LLMRequest) -> dict[str, object]:
    attributes: dict[str, object] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider.name,
        "gen_ai.request.model": request.model,
    }
    optional = (
        ("gen_ai.request.temperature", request.temperature),
        ("gen_ai.request.max_tokens", request.max_tokens),
        ("gen_ai.request.top_p", request.top_p),
        ("gen_ai.request.seed", request.seed),
        ("server.address", provider.server_address),
        ("server.port", provider.server_port),
    )
    attributes.update((k, v) for k, v in optional if v is not None)
    if request.stop:
        attributes["gen_ai.request.stop_sequences"] = tuple(request.stop)
    return attributes


def _usage_attributes(usage: Usage) -> dict[str, object]:
    attributes: dict[str, object] = {
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
    }
    optional = (
        ("gen_ai.usage.cache_read.input_tokens", usage.cache_read_tokens or None),
        ("gen_ai.usage.cache_creation.input_tokens", usage.cache_write_tokens or None),
        ("gen_ai.usage.reasoning.output_tokens", usage.reasoning_tokens or None),
    )
    attributes.update((k, v) for k, v in optional if v is not None)
    return attributes


def _response_attributes(response: LLMResponse) -> dict[str, object]:
    attributes: dict[str, object] = {
        "gen_ai.response.finish_reasons": (str(response.finish_reason),),
    }
    attributes.update(_usage_attributes(response.usage))
    if response.id is not None:
        attributes["gen_ai.response.id"] = response.id
    if response.model is not None:
        attributes["gen_ai.response.model"] = response.model
    return attributes


def _modality(mime_type: str) -> str:
    major = mime_type.partition("/")[0]
    return major if major in ("image", "video", "audio") else "file"


def _otel_part(part: Part) -> dict[str, Any]:
    match part:
        case TextPart(text=text):
            return {"type": "text", "content": text}
        case ReasoningPart(text=text):
            return {"type": "reasoning", "content": text}
        case ToolCallPart(id=call_id, name=name, arguments=arguments):
            args = arguments if isinstance(arguments, str) else dict(arguments)
            return {"type": "tool_call", "id": call_id, "name": name, "arguments": args}
        case ToolResultPart(call_id=call_id, content=content):
            return {"type": "tool_call_response", "id": call_id, "response": content}
        case BlobPart(mime_type=mime, data=data, url=url):
            if data is not None:
                return {
                    "type": "blob",
                    "mime_type": mime,
                    "modality": _modality(mime),
                    "content": data,
                }
            return {
                "type": "uri",
                "mime_type": mime,
                "modality": _modality(mime),
                "uri": url,
            }
        case ProviderPart(provider=provider, data=data):
            # a generic part of the GenAI message format
            return {"type": "provider", "provider": provider, "content": dict(data)}
    raise AssertionError(f"unknown part {part!r}")  # pragma: no cover


def _otel_message(message: Message) -> dict[str, Any]:
    return {"role": str(message.role), "parts": [_otel_part(p) for p in message.parts]}


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _content_attributes(request: LLMRequest) -> dict[str, object]:
    attributes: dict[str, object] = {
        "gen_ai.input.messages": _dumps([_otel_message(m) for m in request.messages])
    }
    if request.system:
        attributes["gen_ai.system_instructions"] = _dumps(
            [{"type": "text", "content": request.system}]
        )
    return attributes


def _output_attribute(response: LLMResponse) -> str:
    message = _otel_message(response.message)
    message["finish_reason"] = str(response.finish_reason)
    return _dumps([message])


class llm_span:
    """A ``chat {model}`` span around one call (a no-op outside a system)."""

    __slots__ = ("_provider", "_request", "_traced")

    def __init__(self, provider: ProviderInfo, request: LLMRequest) -> None:
        self._provider = provider
        self._request = request
        self._traced = traced(RecordKind.LLM_CALL, f"chat {request.model}")

    def __enter__(self) -> Span:
        # the attributes first, so that a slip in them leaves no span open
        span = self._traced._span
        if span.recording:
            span.update(_request_attributes(self._provider, self._request))
            if _records_content(current_sink.get()):
                span.update(_content_attributes(self._request))
        return self._traced.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        tb: object,
    ) -> None:
        self._traced.__exit__(exc_type, error, tb)


def _records_content(sink: object) -> bool:
    return getattr(sink, "records_content", False) is True


def record_response(span: Span, response: LLMResponse) -> None:
    """Put what the provider answered on ``span``."""
    if span.recording:
        span.update(_response_attributes(response))
        if _records_content(current_sink.get()):
            span.set("gen_ai.output.messages", _output_attribute(response))


class StreamSpan:
    """The span of a streamed call, emitted when the stream ends.

    A stream is an async generator, and a generator must not hold a context
    variable across its yields (the consumer's task would inherit it), so this
    span is recorded by hand rather than with ``traced``.
    """

    __slots__ = (
        "_actor",
        "_content",
        "_context",
        "_name",
        "_parent_id",
        "_sink",
        "_start",
        "_start_wall",
        "propagated",
        "span",
    )

    def __init__(self, provider: ProviderInfo, request: LLMRequest) -> None:
        self._sink = current_sink.get()
        self._context: TraceContext | None = None
        self._parent_id: str | None = None
        #: The context the call's HTTP requests carry (``traceparent``): this
        #: span's, or the trace's when it is not sampled; None without tracing.
        self.propagated: TraceContext | None = None
        if self._sink is not None:
            started = start_context(self._sink)
            if started is None:  # inside a trace that is not sampled
                self.propagated = current_trace.get()
            else:
                self.propagated = started[0]
                if started[0].sampled:
                    self._context, self._parent_id = started
        self.span = Span(self._context, self._parent_id)
        self._name = f"chat {request.model}"
        self._actor = current_actor.get()
        self._start_wall = time.time()
        self._start = time.perf_counter()
        self._content = _records_content(self._sink)
        if self.span.recording:
            self.span.update(_request_attributes(provider, request))
            if self._content:
                self.span.update(_content_attributes(request))

    def finish(
        self,
        response: LLMResponse | None,
        error: BaseException | None,
        *,
        usage: Usage | None = None,
    ) -> None:
        """Emit the span, with the response or the error that ended it.

        ``usage`` is what a stream that failed had reported before it did (the
        input tokens of Anthropic's ``message_start``, say): a failed call
        records it, since those tokens are billed all the same.
        """
        if self._sink is None or self._context is None:
            return
        if response is not None and self.span.recording:
            self.span.update(_response_attributes(response))
            if self._content:
                self.span.set("gen_ai.output.messages", _output_attribute(response))
        elif usage is not None and self.span.recording:
            self.span.update(_usage_attributes(usage))
        self._sink.emit(
            TraceRecord(
                kind=RecordKind.LLM_CALL,
                name=self._name,
                trace_id=self._context.trace_id,
                span_id=self._context.span_id,
                parent_id=self._parent_id,
                at=self._start_wall,
                duration=time.perf_counter() - self._start,
                actor=self._actor,
                error=None if error is None else describe_error(error),
                error_type=None if error is None else type(error).__qualname__,
                attributes=self.span.attributes,
            )
        )
