"""Anthropic Messages API: the codec and :class:`AnthropicProvider`.

Wire format: ``POST {base}/messages`` with ``x-api-key`` and
``anthropic-version: 2023-06-01``. The system prompt is top level;
``max_tokens`` is required; turns alternate user/assistant, so tool results
travel as ``tool_result`` blocks in a user turn; input tokens are reported
without the cached ones, which this codec adds back.

Server tools (``server_tool_use``: web search, web fetch, code execution,
...), the MCP connector (``mcp_tool_use``) and their result blocks
(``web_search_tool_result``, ``mcp_tool_result``, ...) run on Anthropic's
side: they are never client tool calls, streamed or not. They become
:class:`~llmgine.llm.ProviderPart` s (``provider="anthropic"``, the block as
the API sent it) in their place among the reply's parts, streamed or not, and
go back to the API verbatim with the conversation: a turn that mixes server
and client tools, or that the API paused (``pause_turn``, mapped to
``FinishReason.PAUSED``), goes on as the API requires. Only a content block
that *started* as a ``tool_use`` block becomes a
:class:`~llmgine.llm.ToolCallDelta`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import httpx

from .. import _json
from .._exceptions import ProviderUnavailable
from ._base import merge_extra
from ._body import Blocks, EncodingCache, FragmentCache, dumps, merge_turns, splice
from ._errors import error_from_body
from ._http import DEFAULT_TIMEOUT, HTTPProvider, resolve_key
from ._retry import RetryPolicy
from ._sse import SSEEvent
from ._stream import (
    ProviderDelta,
    ReasoningDelta,
    StreamEvent,
    StreamFinish,
    TextDelta,
    ToolCallDelta,
)
from ._types import (
    BlobPart,
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    Part,
    ProviderPart,
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
    arguments_object,
    decoding,
    malformed,
    new_call_id,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    parse_arguments,
    req_obj,
    req_str,
)

__all__ = ["AnthropicCodec", "AnthropicProvider", "AnthropicStreamDecoder"]

API_VERSION = "2023-06-01"
#: The ``provider`` of the :class:`~llmgine.llm.ProviderPart` s this codec
#: makes and sends back (whatever the codec's own name).
PART_PROVIDER = "anthropic"
_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "pause_turn": FinishReason.PAUSED,
    "max_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALL,
    "refusal": FinishReason.CONTENT_FILTER,
}
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def _blob(part: BlobPart) -> dict[str, Any]:
    source: dict[str, Any]
    if part.data is not None:
        source = {"type": "base64", "media_type": part.mime_type, "data": part.data}
    else:
        source = {"type": "url", "url": part.url}
    kind = "image" if part.mime_type in _IMAGE_TYPES else "document"
    return {"type": kind, "source": source}


def _block(part: Part) -> dict[str, Any] | None:
    match part:
        case TextPart(text=text):
            # the API rejects empty and whitespace-only text blocks
            return {"type": "text", "text": text} if text.strip() else None
        case ToolCallPart(id=call_id, name=name, arguments=arguments):
            input_ = arguments_object(arguments)
            return {"type": "tool_use", "id": call_id, "name": name, "input": input_}
        case ToolResultPart(call_id=call_id, content=content, is_error=is_error):
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": call_id,
                "content": content,
            }
            if is_error:
                block["is_error"] = True
            return block
        case ReasoningPart(text=text, signature=signature):
            # Anthropic accepts only its own, signed thinking back.
            if signature is None:
                return None
            return {"type": "thinking", "thinking": text, "signature": signature}
        case BlobPart():
            return _blob(part)
        case ProviderPart(provider=provider, data=data):
            # server-tool blocks go back as the API sent them; another
            # provider's parts mean nothing here
            return dict(data) if provider == PART_PROVIDER else None
    raise AssertionError(f"unknown part {part!r}")  # pragma: no cover


def _encode_messages(messages: tuple[Message, ...]) -> tuple[list[str], list[Any]]:
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role is Role.SYSTEM:
            system.append(message.text)
            continue
        role = "assistant" if message.role is Role.ASSISTANT else "user"
        blocks = [b for b in map(_block, message.parts) if b is not None]
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            # tool_result blocks must open the user turn that answers tool_use
            turn["content"].sort(key=lambda b: b["type"] != "tool_result")
    return system, turns


_Texts = tuple[str, tuple[str, ...], tuple[str, ...]]


def _texts(message: Message) -> _Texts:
    """A non-system message as :func:`merge_turns` takes it: the texts of its
    blocks, tool results first in a user turn (as _encode_messages sorts them)."""
    blocks = [b for b in map(_block, message.parts) if b is not None]
    if message.role is Role.ASSISTANT:
        return "assistant", tuple(map(dumps, blocks)), ()
    first = tuple(dumps(b) for b in blocks if b["type"] == "tool_result")
    rest = tuple(dumps(b) for b in blocks if b["type"] != "tool_result")
    return "user", first, rest


def _size(texts: _Texts) -> int:
    return sum(map(len, texts[1])) + sum(map(len, texts[2]))


def _encode_tool(tool: ToolSpec) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": dict(tool.parameters),
    }


_MESSAGES: EncodingCache[Message, _Texts] = EncodingCache(_texts, _size)
_TOOLS: FragmentCache[ToolSpec] = FragmentCache(lambda tool: dumps(_encode_tool(tool)))


def _tool_choice(request: LLMRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None:
        return None
    if choice.mode == "tool":
        return {"type": "tool", "name": choice.name}
    return {"type": {"required": "any"}.get(choice.mode, choice.mode)}


_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def _usage_counts(
    raw: object, provider: str, counts: Mapping[str, int] | None = None
) -> dict[str, int]:
    """The usage counts ``raw`` reports, over ``counts`` (a stream updates them)."""
    usage = opt_obj(raw, "usage", provider)
    out = dict(counts or {})
    for key in _USAGE_KEYS:
        if usage.get(key) is not None:
            out[key] = opt_int(usage[key], f"usage.{key}", provider)
    return out


def _usage(counts: Mapping[str, int]) -> Usage:
    read = counts.get("cache_read_input_tokens", 0)
    write = counts.get("cache_creation_input_tokens", 0)
    return Usage(
        input_tokens=counts.get("input_tokens", 0) + read + write,
        output_tokens=counts.get("output_tokens", 0),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def _decode_block(block: Mapping[str, Any], provider: str) -> Part:
    kind = block.get("type")
    if kind == "text":
        return TextPart(text=req_str(block.get("text"), "text", provider))
    if kind == "thinking":
        return ReasoningPart(
            text=req_str(block.get("thinking"), "thinking", provider),
            signature=opt_str(block.get("signature"), "signature", provider),
        )
    if kind == "tool_use":
        return ToolCallPart(
            id=opt_str(block.get("id"), "tool_use.id", provider) or new_call_id(),
            name=req_str(block.get("name"), "tool_use.name", provider),
            arguments=dict(opt_obj(block.get("input"), "tool_use.input", provider)),
        )
    # Server and MCP tool blocks and their results (and redacted thinking):
    # kept whole, to go back to the API verbatim.
    return ProviderPart(provider=PART_PROVIDER, data=block)


def _server_tools(value: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(dict(tool) for tool in value)


@attrs.frozen(kw_only=True)
class AnthropicCodec:
    """The Messages API wire format; ``max_tokens`` defaults to ``default_max_tokens``.

    ``server_tools`` are tool definitions in the API's own form (``{"type":
    "web_search_20250305", "name": "web_search"}``, say), sent after the
    request's client tools with every request.
    """

    provider: str = "anthropic"
    default_max_tokens: int = 4096
    server_tools: tuple[dict[str, Any], ...] = attrs.field(
        default=(), converter=_server_tools
    )

    def encode_request(self, request: LLMRequest) -> dict[str, Any]:
        """The ``/messages`` JSON body for ``request``."""
        system, messages = _encode_messages(request.messages)
        if request.system:
            system.insert(0, request.system)
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or self.default_max_tokens,
            "messages": messages,
        }
        if system:
            body["system"] = "\n\n".join(system)
        tools = [_encode_tool(t) for t in request.tools]
        tools.extend(dict(t) for t in self.server_tools)
        if tools:
            body["tools"] = tools
        body.update(self._options(request))
        return merge_extra(body, request.extra)

    def encode_body(self, request: LLMRequest) -> bytes:
        """:meth:`encode_request` as JSON bytes, what repeats encoded once.

        The texts of each message's blocks and of each tool are remembered
        while they live; each request merges the messages into turns anew.
        """
        if request.extra:  # extra may replace anything: no splicing around it
            return dumps(self.encode_request(request)).encode()
        system = [request.system] if request.system else []
        messages: list[Blocks] = []
        for message in request.messages:
            if message.role is Role.SYSTEM:
                system.append(message.text)
            else:
                messages.append(_MESSAGES.get(message))
        head: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or self.default_max_tokens,
        }
        if system:
            head["system"] = "\n\n".join(system)
        arrays = [("messages", merge_turns("content", messages))]
        tools = [_TOOLS.text(t) for t in request.tools]
        tools.extend(dumps(dict(t)) for t in self.server_tools)
        if tools:
            arrays.append(("tools", tools))
        head.update(self._options(request))
        return splice(head, arrays)

    def _options(self, request: LLMRequest) -> dict[str, Any]:
        """Every member of the body after the messages, the system and the tools."""
        body: dict[str, Any] = {}
        choice = _tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.response_schema is not None:
            schema = dict(request.response_schema)
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        if request.stream:
            body["stream"] = True
        return body

    def decode_response(self, body: object, *, checked: bool = False) -> LLMResponse:
        """The response a ``message`` object describes.

        ``checked`` says ``body`` came from :func:`llmgine._json.loads`, which
        already refused nesting past the limit: it is not walked again.
        """
        provider = self.provider
        with decoding(provider):
            obj = req_obj(body, "$", provider)
            if not checked:
                _json.check_depth(obj)  # a reply nested too deep is refused whole
            if obj.get("type") == "error":
                raise error_from_body(provider=provider, status=200, body=obj)
            blocks = opt_list(obj.get("content"), "content", provider)
            parts = [
                _decode_block(req_obj(raw, f"content[{i}]", provider), provider)
                for i, raw in enumerate(blocks)
            ]
            reason = _FINISH.get(str(obj.get("stop_reason")), FinishReason.STOP)
            return assistant_reply(
                parts,
                reason,
                usage=_usage(_usage_counts(obj.get("usage"), provider)),
                model=opt_str(obj.get("model"), "model", provider),
                id=opt_str(obj.get("id"), "id", provider),
                provider=provider,
                raw=obj,
            )

    def stream_decoder(self) -> AnthropicStreamDecoder:
        """A decoder for one Messages stream."""
        return AnthropicStreamDecoder(provider=self.provider)


_STREAMED_KINDS = frozenset({"text", "thinking", "tool_use"})


class AnthropicStreamDecoder:
    """Decodes one Messages stream (see :class:`~llmgine.llm.StreamDecoder`).

    Content blocks are told apart by their index: only a block that started
    as ``tool_use`` is a client tool call. Any other block (a server or MCP
    tool use, a tool result, redacted thinking) is kept whole in
    :attr:`server_blocks`, its ``input`` rebuilt from its
    ``input_json_delta`` pieces, and yields one
    :class:`~llmgine.llm.ProviderDelta` when it stops.
    """

    __slots__ = (
        "_clients",
        "_done",
        "_finish",
        "_id",
        "_kept",
        "_model",
        "_provider",
        "_usage",
    )

    def __init__(self, *, provider: str = "anthropic") -> None:
        self._provider = provider
        self._done = False
        self._finish: FinishReason | None = None
        self._usage: dict[str, int] = {}
        self._id: str | None = None
        self._model: str | None = None
        # content-block indexes of client tool_use blocks
        self._clients: set[int] = set()
        # other blocks by index: the block as it started, its input JSON pieces
        self._kept: dict[int, tuple[dict[str, Any], list[str]]] = {}

    @property
    def done(self) -> bool:
        """True once ``message_stop`` arrived."""
        return self._done

    @property
    def usage(self) -> Usage | None:
        """The usage the stream has reported so far (None before ``message_start``).

        A stream that fails midway has still spent these tokens: the call's
        span records them.
        """
        return _usage(self._usage) if self._usage else None

    @property
    def server_blocks(self) -> list[dict[str, Any]]:
        """The blocks that are neither text, thinking nor client tool calls.

        In stream order, as the non-streamed API returns them: server and MCP
        tool uses (``input`` assembled from the streamed JSON) and their
        result blocks.
        """
        return [self._block(index) for index in sorted(self._kept)]

    def _block(self, index: int) -> dict[str, Any]:
        block, pieces = self._kept[index]
        if pieces:
            block = {**block, "input": parse_arguments("".join(pieces))}
        return block

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """The deltas one Messages stream event carries."""
        with decoding(self._provider):
            return self._feed(req_obj(_json.loads(event.data), "event", self._provider))

    def _feed(self, data: Mapping[str, Any]) -> list[StreamEvent]:
        provider = self._provider
        kind = data.get("type")
        index = opt_int(data.get("index"), "index", provider)
        if kind == "content_block_start":
            block = req_obj(data.get("content_block"), "content_block", provider)
            btype = block.get("type")
            if btype == "tool_use":
                call_id = opt_str(block.get("id"), "tool_use.id", provider)
                name = req_str(block.get("name"), "tool_use.name", provider)
                self._clients.add(index)
                return [ToolCallDelta(index=index, id=call_id, name=name)]
            if btype not in _STREAMED_KINDS:
                self._kept[index] = (dict(block), [])
                return []
            text = block.get("text") if btype == "text" else block.get("thinking")
            if isinstance(text, str) and text:
                if btype == "text":
                    return [TextDelta(text=text)]
                return [ReasoningDelta(text=text)]
        elif kind == "content_block_delta":
            return self._delta(index, req_obj(data.get("delta"), "delta", provider))
        elif kind == "content_block_stop" and index in self._kept:
            part = ProviderPart(provider=PART_PROVIDER, data=self._block(index))
            return [ProviderDelta(part=part)]
        elif kind == "message_start":
            message = req_obj(data.get("message"), "message", provider)
            self._id = opt_str(message.get("id"), "message.id", provider)
            self._model = opt_str(message.get("model"), "message.model", provider)
            self._usage = _usage_counts(message.get("usage"), provider)
        elif kind == "message_delta":
            reason = opt_obj(data.get("delta"), "delta", provider).get("stop_reason")
            if reason is not None:
                self._finish = _FINISH.get(str(reason), FinishReason.STOP)
            if data.get("usage") is not None:
                self._usage = _usage_counts(data["usage"], provider, self._usage)
        elif kind == "message_stop":
            self._done = True
        elif kind == "error":
            raise error_from_body(provider=provider, status=200, body=data)
        return []

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[StreamEvent]:
        provider = self._provider
        match delta.get("type"):
            case "text_delta":
                return [TextDelta(text=req_str(delta.get("text"), "text", provider))]
            case "input_json_delta":
                partial = req_str(delta.get("partial_json"), "partial_json", provider)
                if index in self._clients:
                    return [ToolCallDelta(index=index, arguments=partial)]
                kept = self._kept.get(index)
                if kept is None:
                    raise malformed(
                        provider,
                        f"input_json_delta for content block {index}, which did"
                        " not start as a tool use block",
                    )
                kept[1].append(partial)
            case "thinking_delta":
                text = req_str(delta.get("thinking"), "thinking", provider)
                return [ReasoningDelta(text=text)]
            case "signature_delta":
                signature = req_str(delta.get("signature"), "signature", provider)
                return [ReasoningDelta(signature=signature)]
        return []

    def finish(self) -> StreamFinish:
        """The closing event; the stream must have reached ``message_stop``."""
        if not self._done:
            raise ProviderUnavailable(
                "the stream ended before message_stop", provider=self._provider
            )
        return StreamFinish(
            finish_reason=self._finish or FinishReason.STOP,
            usage=_usage(self._usage),
            model=self._model,
            id=self._id,
        )


class AnthropicProvider(HTTPProvider):
    """Anthropic's Messages API.

    ``api_key`` defaults to ``ANTHROPIC_API_KEY``; a missing key raises
    :class:`~llmgine.AuthenticationError` here, at construction.
    ``default_max_tokens`` fills the API's required ``max_tokens``.
    ``server_tools`` are the definitions of the server tools every request
    enables (web search, web fetch, code execution), in the API's own form.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        default_max_tokens: int = 4096,
        secret_headers: Iterable[str] = (),
        server_tools: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.__key = resolve_key(api_key, ("ANTHROPIC_API_KEY",), "anthropic")
        super().__init__(
            name="anthropic",
            base_url=base_url or "https://api.anthropic.com/v1",
            codec=AnthropicCodec(
                default_max_tokens=default_max_tokens, server_tools=server_tools
            ),
            client=client,
            timeout=timeout,
            retry=retry,
            headers={"anthropic-version": API_VERSION, **(headers or {})},
            secret_headers=secret_headers,
        )

    def _auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.__key}

    def _url(self, request: LLMRequest, *, stream: bool) -> str:
        return f"{self.base_url}/messages"
