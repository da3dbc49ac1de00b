"""OpenAI Chat Completions: the codec, and the OpenAI and OpenAI-compatible providers.

Wire format: ``POST {base}/chat/completions``. The system prompt is the first
message; tool calls carry their arguments as a JSON *string*; each tool result
is its own ``role: "tool"`` message; a stream is ``chat.completion.chunk``
objects ending with ``data: [DONE]``, usage in a last chunk when
``stream_options.include_usage`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import httpx

from .. import _json
from .._exceptions import ProviderError, ProviderUnavailable
from ._base import merge_extra
from ._body import FragmentCache, dumps, splice
from ._errors import error_from_body
from ._http import DEFAULT_TIMEOUT, HTTPProvider, resolve_key
from ._retry import RetryPolicy
from ._sse import SSEEvent
from ._stream import ReasoningDelta, StreamEvent, StreamFinish, TextDelta, ToolCallDelta
from ._types import (
    BlobPart,
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    Part,
    ReasoningPart,
    Role,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    Usage,
    assistant_reply,
)
from ._wire import (
    SLIPS,
    decoding,
    dump_arguments,
    malformed,
    new_call_id,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    parse_arguments,
    req_obj,
    slipped,
)

__all__ = ["OpenAICodec", "OpenAICompatibleProvider", "OpenAIProvider"]

_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALL,
    "function_call": FinishReason.TOOL_CALL,
    "content_filter": FinishReason.CONTENT_FILTER,
}
_CONTENT = (TextPart, BlobPart)  # a tuple: a union would be built on every call
_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3"}


def _content_part(part: TextPart | BlobPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    data_url = f"data:{part.mime_type};base64,{part.data}" if part.data else part.url
    if part.mime_type.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": data_url}}
    if part.data and part.mime_type in _AUDIO_FORMATS:
        audio = {"data": part.data, "format": _AUDIO_FORMATS[part.mime_type]}
        return {"type": "input_audio", "input_audio": audio}
    return {"type": "file", "file": {"file_data": data_url}}


def _user_content(parts: list[TextPart | BlobPart]) -> str | list[dict[str, Any]]:
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return [_content_part(p) for p in parts]


def _encode_message(message: Message) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"role": "tool", "tool_call_id": p.call_id, "content": p.content}
        for p in message.parts
        if isinstance(p, ToolResultPart)
    ]
    if message.role is Role.ASSISTANT:
        calls = [
            {
                "id": p.id,
                "type": "function",
                "function": {"name": p.name, "arguments": dump_arguments(p.arguments)},
            }
            for p in message.tool_calls
        ]
        if calls or message.text:
            entry: dict[str, Any] = {"role": "assistant", "content": message.text or None}
            if calls:
                entry["tool_calls"] = calls
            out.append(entry)
    elif message.role is not Role.TOOL:
        content = [p for p in message.parts if isinstance(p, _CONTENT)]
        if content:
            out.append({"role": str(message.role), "content": _user_content(content)})
    return out


def _tool_choice(request: LLMRequest) -> str | dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        return None
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def _encode_tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": dict(tool.parameters),
        },
    }


_MESSAGES: FragmentCache[Message] = FragmentCache(
    lambda message: ",".join(dumps(entry) for entry in _encode_message(message))
)
_TOOLS: FragmentCache[ToolSpec] = FragmentCache(lambda tool: dumps(_encode_tool(tool)))


def _decode_usage(raw: object, provider: str) -> Usage:
    usage = opt_obj(raw, "usage", provider)
    prompt = opt_obj(
        usage.get("prompt_tokens_details"), "prompt_tokens_details", provider
    )
    completion = opt_obj(
        usage.get("completion_tokens_details"), "completion_tokens_details", provider
    )
    return Usage(
        input_tokens=opt_int(usage.get("prompt_tokens"), "usage.prompt_tokens", provider),
        output_tokens=opt_int(
            usage.get("completion_tokens"), "usage.completion_tokens", provider
        ),
        cache_read_tokens=opt_int(prompt.get("cached_tokens"), "cached_tokens", provider),
        reasoning_tokens=opt_int(
            completion.get("reasoning_tokens"), "reasoning_tokens", provider
        ),
    )


def _reasoning(message: Mapping[str, Any]) -> str | None:
    # Not OpenAI's own: DeepSeek, vLLM and OpenRouter send the reasoning here.
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _arguments(raw: object) -> Mapping[str, Any] | str:
    if isinstance(raw, str):  # the wire's form: a JSON string
        return parse_arguments(raw)
    if isinstance(raw, Mapping):
        return dict(raw)
    return parse_arguments("")


@attrs.frozen(kw_only=True)
class OpenAICodec:
    """The Chat Completions wire format.

    ``max_tokens_field`` is ``"max_completion_tokens"`` for OpenAI (required by
    its reasoning models) and ``"max_tokens"`` for most compatible servers.
    """

    provider: str = "openai"
    max_tokens_field: str = "max_completion_tokens"

    def encode_request(self, request: LLMRequest) -> dict[str, Any]:
        """The ``/chat/completions`` JSON body for ``request``."""
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        for message in request.messages:
            messages.extend(_encode_message(message))
        body: dict[str, Any] = {"model": request.model, "messages": messages}
        if request.tools:
            body["tools"] = [_encode_tool(t) for t in request.tools]
        body.update(self._options(request))
        return merge_extra(body, request.extra)

    def encode_body(self, request: LLMRequest) -> bytes:
        """:meth:`encode_request` as JSON bytes, what repeats encoded once.

        The text of each message and tool is remembered while it lives, so
        the steps of a turn encode only what is new since the last one.
        """
        if request.extra:  # extra may replace anything: no splicing around it
            return dumps(self.encode_request(request)).encode()
        messages = [_MESSAGES.text(m) for m in request.messages]
        if request.system:
            messages.insert(0, dumps({"role": "system", "content": request.system}))
        arrays: list[tuple[str, list[str]]] = [("messages", messages)]
        if request.tools:
            arrays.append(("tools", [_TOOLS.text(t) for t in request.tools]))
        return splice({"model": request.model, **self._options(request)}, arrays)

    def _options(self, request: LLMRequest) -> dict[str, Any]:
        """Every member of the body but the model, the messages and the tools."""
        body: dict[str, Any] = {}
        choice = _tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
        optional = (
            ("temperature", request.temperature),
            ("top_p", request.top_p),
            ("seed", request.seed),
            (self.max_tokens_field, request.max_tokens),
        )
        body.update((k, v) for k, v in optional if v is not None)
        if request.stop:
            body["stop"] = list(request.stop)
        if request.response_schema is not None:
            schema = dict(request.response_schema)
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": _schema_name(schema),
                    "schema": schema,
                    "strict": _strict(schema),
                },
            }
        if request.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def decode_response(self, body: object, *, checked: bool = False) -> LLMResponse:
        """The response a ``chat.completion`` object describes.

        ``checked`` says ``body`` came from :func:`llmgine._json.loads`, which
        already refused nesting past the limit: it is not walked again.
        """
        try:
            return _decode_response(self.provider, body, checked)
        except ProviderError:
            raise
        except SLIPS as exc:  # the net under the readers: see decoding()
            raise slipped(self.provider, exc) from exc

    def stream_decoder(self) -> OpenAIStreamDecoder:
        """A decoder for one stream of ``chat.completion.chunk`` events."""
        return OpenAIStreamDecoder(provider=self.provider)


def _decode_response(provider: str, body: object, checked: bool) -> LLMResponse:
    obj = req_obj(body, "$", provider)
    if not checked:
        _json.check_depth(obj)  # a reply nested too deep is refused whole
    if obj.get("error"):
        raise error_from_body(provider=provider, status=200, body=obj)
    choices = opt_list(obj.get("choices"), "choices", provider)
    if not choices:
        raise malformed(provider, "the response has no choices")
    choice = req_obj(choices[0], "choices[0]", provider)
    message = req_obj(choice.get("message"), "choices[0].message", provider)
    parts: list[Part] = []
    reasoning = _reasoning(message)
    if reasoning:
        parts.append(ReasoningPart(text=reasoning))
    content = opt_str(message.get("content"), "message.content", provider)
    refusal = opt_str(message.get("refusal"), "message.refusal", provider)
    if content or refusal:
        parts.append(TextPart(text=content or refusal or ""))
    calls = message.get("tool_calls")
    if calls is not None:
        for i, raw in enumerate(opt_list(calls, "tool_calls", provider)):
            parts.append(_decode_call(provider, i, raw))
    reason = _FINISH.get(str(choice.get("finish_reason")), FinishReason.STOP)
    if refusal and not content:
        reason = FinishReason.CONTENT_FILTER
    return assistant_reply(
        parts,
        reason,
        usage=_decode_usage(obj.get("usage"), provider),
        model=opt_str(obj.get("model"), "model", provider),
        id=opt_str(obj.get("id"), "id", provider),
        provider=provider,
        raw=obj,
    )


def _decode_call(provider: str, i: int, raw: object) -> ToolCallPart:
    call = req_obj(raw, f"tool_calls[{i}]", provider)
    function = req_obj(call.get("function"), f"tool_calls[{i}].function", provider)
    return ToolCallPart(
        id=opt_str(call.get("id"), "tool_call.id", provider) or new_call_id(),
        name=opt_str(function.get("name"), "function.name", provider) or "",
        arguments=_arguments(function.get("arguments")),
    )


class OpenAIStreamDecoder:
    """Decodes one Chat Completions stream (see :class:`~llmgine.llm.StreamDecoder`)."""

    __slots__ = ("_done", "_finish", "_id", "_model", "_provider", "_usage")

    def __init__(self, *, provider: str = "openai") -> None:
        self._provider = provider
        self._done = False
        self._finish: FinishReason | None = None
        self._usage = Usage()
        self._id: str | None = None
        self._model: str | None = None

    @property
    def done(self) -> bool:
        """True once ``data: [DONE]`` arrived."""
        return self._done

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """The deltas of one ``chat.completion.chunk``."""
        if event.data.strip() == "[DONE]":
            self._done = True
            return []
        with decoding(self._provider):
            return self._feed(event.data)

    def _feed(self, data: str) -> list[StreamEvent]:
        provider = self._provider
        chunk = req_obj(_json.loads(data), "chunk", provider)
        if chunk.get("error"):
            raise error_from_body(provider=provider, status=200, body=chunk)
        self._id = opt_str(chunk.get("id"), "id", provider) or self._id
        self._model = opt_str(chunk.get("model"), "model", provider) or self._model
        if chunk.get("usage") is not None:
            self._usage = _decode_usage(chunk["usage"], provider)
        events: list[StreamEvent] = []
        for raw in opt_list(chunk.get("choices"), "choices", provider)[:1]:
            choice = req_obj(raw, "choices[0]", provider)
            delta = opt_obj(choice.get("delta"), "delta", provider)
            reasoning = _reasoning(delta)
            if reasoning:
                events.append(ReasoningDelta(text=reasoning))
            for key in ("content", "refusal"):
                text = opt_str(delta.get(key), f"delta.{key}", provider)
                if text:
                    events.append(TextDelta(text=text))
            for i, item in enumerate(
                opt_list(delta.get("tool_calls"), "tool_calls", provider)
            ):
                call = req_obj(item, f"tool_calls[{i}]", provider)
                function = opt_obj(call.get("function"), "function", provider)
                index = call.get("index", i)
                events.append(
                    ToolCallDelta(
                        index=index if isinstance(index, int) else i,
                        id=opt_str(call.get("id"), "tool_call.id", provider),
                        name=opt_str(function.get("name"), "function.name", provider),
                        arguments=opt_str(
                            function.get("arguments"), "arguments", provider
                        )
                        or "",
                    )
                )
            reason = choice.get("finish_reason")
            if reason is not None:
                self._finish = _FINISH.get(str(reason), FinishReason.STOP)
        return events

    def finish(self) -> StreamFinish:
        """The closing event; the stream must have reached a finish reason."""
        if self._finish is None:
            raise ProviderUnavailable(
                "the stream ended before a finish reason", provider=self._provider
            )
        return StreamFinish(
            finish_reason=self._finish, usage=self._usage, model=self._model, id=self._id
        )


_SCHEMA_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def _schema_name(schema: Mapping[str, Any]) -> str:
    """The schema's ``title`` as OpenAI names a format (``[A-Za-z0-9_-]{1,64}``)."""
    title = schema.get("title")
    name = _SCHEMA_NAME.sub("_", title)[:64] if isinstance(title, str) else ""
    return name or "response"


def _strict(schema: object) -> bool:
    """True when OpenAI's strict mode can enforce ``schema`` as it is.

    Strict mode needs every object to list all its properties as required
    and to forbid others; a schema with optional fields is sent without it
    (the engine still validates the reply).
    """
    if isinstance(schema, list):
        return all(_strict(item) for item in schema)
    if not isinstance(schema, Mapping):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            return False
        if not isinstance(properties, Mapping):
            return False
        if set(schema.get("required", ())) != set(properties):
            return False
    return all(
        _strict(value)
        for key, value in schema.items()
        if key not in ("enum", "const", "default", "examples")
    )


class OpenAIProvider(HTTPProvider):
    """OpenAI's Chat Completions API.

    ``api_key`` defaults to ``OPENAI_API_KEY``; a missing key raises
    :class:`~llmgine.AuthenticationError` here, at construction. It has
    native structured output: ``response_schema`` goes as ``response_format``.
    """

    structured_output = True
    """``LLMRequest.response_schema`` is enforced by the API itself."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        organization: str | None = None,
        project: str | None = None,
        headers: Mapping[str, str] | None = None,
        secret_headers: Iterable[str] = (),
    ) -> None:
        self.__key = resolve_key(api_key, ("OPENAI_API_KEY",), "openai")
        extra = dict(headers or {})
        if organization:
            extra["OpenAI-Organization"] = organization
        if project:
            extra["OpenAI-Project"] = project
        super().__init__(
            name="openai",
            base_url=base_url or "https://api.openai.com/v1",
            codec=OpenAICodec(),
            client=client,
            timeout=timeout,
            retry=retry,
            headers=extra,
            secret_headers=secret_headers,
        )

    def _auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.__key}"}

    def _url(self, request: LLMRequest, *, stream: bool) -> str:
        return f"{self.base_url}/chat/completions"


class OpenAICompatibleProvider(HTTPProvider):
    """Any server speaking Chat Completions: Ollama, vLLM, OpenRouter, LM Studio...

    ``base_url`` is required (e.g. ``http://localhost:11434/v1`` for Ollama).
    ``api_key`` is optional and never read from ``OPENAI_API_KEY``, so an
    OpenAI key is not sent to another host by accident. ``name`` is what traces
    report as ``gen_ai.provider.name``. ``structured_output=True`` says the
    server enforces ``response_format`` JSON schemas (vLLM, Ollama and
    OpenRouter's structured-output models do); otherwise a chat engine with an
    ``output_type`` asks for a final-result tool call instead.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        name: str = "openai_compatible",
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        max_tokens_field: str = "max_tokens",
        secret_headers: Iterable[str] = (),
        structured_output: bool = False,
    ) -> None:
        self.__key = api_key
        self.structured_output = bool(structured_output)
        """Whether the server enforces ``response_schema`` itself."""
        super().__init__(
            name=name,
            base_url=base_url,
            codec=OpenAICodec(provider=name, max_tokens_field=max_tokens_field),
            client=client,
            timeout=timeout,
            retry=retry,
            headers=headers,
            secret_headers=secret_headers,
        )

    def _auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.__key}"} if self.__key else {}

    def _url(self, request: LLMRequest, *, stream: bool) -> str:
        return f"{self.base_url}/chat/completions"
