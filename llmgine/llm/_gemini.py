"""Google Gemini API (``generativelanguage.googleapis.com``): codec and provider.

Wire format: ``POST {base}/models/{model}:generateContent`` (or
``:streamGenerateContent?alt=sse``) with the key in ``x-goog-api-key``. Roles
are ``user`` and ``model``; the system prompt is ``systemInstruction``; tool
results go back as ``functionResponse`` parts matched to calls *by name*;
Gemini finishes a tool-calling reply with ``STOP``, so ``tool_call`` is
inferred from ``functionCall`` parts, and calls without an id get one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import httpx

from .. import _json
from .._exceptions import BadRequestError, ProviderUnavailable
from ._base import merge_extra
from ._body import Blocks, EncodingCache, FragmentCache, dumps, merge_turns, splice
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
    dump_arguments,
    malformed,
    new_call_id,
    opt_int,
    opt_list,
    opt_obj,
    opt_str,
    req_obj,
    req_str,
)

__all__ = ["GeminiCodec", "GeminiProvider", "GeminiStreamDecoder"]

_FINISH = {
    "STOP": FinishReason.STOP,
    "FINISH_REASON_UNSPECIFIED": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
}
_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}


def _finish(raw: object) -> FinishReason:
    # LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, ...: the reply did not complete
    return _FINISH.get(str(raw), FinishReason.ERROR)


def _part(part: Part, names: Mapping[str, str]) -> dict[str, Any] | None:
    match part:
        case TextPart(text=text):
            return {"text": text} if text else None
        case BlobPart(mime_type=mime, data=data, url=url):
            if data is not None:
                return {"inlineData": {"mimeType": mime, "data": data}}
            return {"fileData": {"mimeType": mime, "fileUri": url}}
        case ToolCallPart(name=name, arguments=arguments, signature=signature):
            out: dict[str, Any] = {
                "functionCall": {"name": name, "args": arguments_object(arguments)}
            }
            if signature is not None:
                out["thoughtSignature"] = signature
            return out
        case ToolResultPart(call_id=call_id):
            tool = part.name or _tool_name(names, call_id)
            return {"functionResponse": {"name": tool, "response": _response(part)}}
        case ReasoningPart(text=text, signature=signature):
            if signature is None:
                return None
            return {"text": text, "thought": True, "thoughtSignature": signature}
        case ProviderPart():
            return None  # another provider's content: Gemini has no use for it
    raise AssertionError(f"unknown part {part!r}")  # pragma: no cover


def _response(part: ToolResultPart) -> dict[str, str]:
    return {"error": part.content} if part.is_error else {"result": part.content}


def _tool_name(names: Mapping[str, str], call_id: str) -> str:
    """The name of the tool call ``call_id`` answers: Gemini matches by name."""
    tool = names.get(call_id)
    if not tool:
        raise BadRequestError(
            f"Gemini matches tool results by name: the result for call "
            f"{call_id!r} has no name and no matching tool call",
            provider="gcp.gemini",
        )
    return tool


def _encode_contents(messages: tuple[Message, ...]) -> tuple[list[str], list[Any]]:
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for message in messages:
        if message.role is Role.SYSTEM:
            system.append(message.text)
            continue
        role = "model" if message.role is Role.ASSISTANT else "user"
        parts = [p for p in (_part(x, names) for x in message.parts) if p is not None]
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


#: A non-system message's role, the texts of its parts, and where a tool result
#: without a name stands: its text there is the response, to be named when the
#: request says which call it answers.
_Texts = tuple[str, tuple[str, ...], tuple[tuple[int, str], ...]]


def _texts(message: Message) -> _Texts:
    texts: list[str] = []
    unnamed: list[tuple[int, str]] = []
    for part in message.parts:
        if isinstance(part, ToolResultPart) and not part.name:
            unnamed.append((len(texts), part.call_id))
            texts.append(dumps(_response(part)))
        else:
            encoded = _part(part, {})
            if encoded is not None:
                texts.append(dumps(encoded))
    role = "model" if message.role is Role.ASSISTANT else "user"
    return role, tuple(texts), tuple(unnamed)


def _contents(messages: tuple[Message, ...]) -> Iterator[Blocks]:
    """The non-system messages as :func:`merge_turns` takes them."""
    names: dict[str, str] | None = None
    for message in messages:
        if message.role is Role.SYSTEM:
            continue
        role, texts, unnamed = _MESSAGES.get(message)
        if unnamed:
            if names is None:
                names = {c.id: c.name for m in messages for c in m.tool_calls}
            named = list(texts)
            for i, call_id in unnamed:
                tool = dumps(_tool_name(names, call_id))
                named[i] = (
                    f'{{"functionResponse":{{"name":{tool},"response":{texts[i]}}}}}'
                )
            yield role, named, ()
        else:
            yield role, texts, ()


def _declaration(tool: ToolSpec) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "parametersJsonSchema": dict(tool.parameters),
    }


_MESSAGES: EncodingCache[Message, _Texts] = EncodingCache(
    _texts, lambda texts: sum(map(len, texts[1]))
)
_TOOLS: FragmentCache[ToolSpec] = FragmentCache(lambda tool: dumps(_declaration(tool)))


def _decode_usage(raw: object, provider: str) -> Usage:
    usage = opt_obj(raw, "usageMetadata", provider)

    def count(key: str) -> int:
        return opt_int(usage.get(key), f"usageMetadata.{key}", provider)

    thoughts = count("thoughtsTokenCount")
    return Usage(
        input_tokens=count("promptTokenCount") + count("toolUsePromptTokenCount"),
        output_tokens=count("candidatesTokenCount") + thoughts,
        cache_read_tokens=count("cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def _decode_part(raw: Mapping[str, Any], provider: str) -> Part | None:
    signature = opt_str(raw.get("thoughtSignature"), "thoughtSignature", provider)
    if "functionCall" in raw:
        call = req_obj(raw["functionCall"], "functionCall", provider)
        return ToolCallPart(
            id=opt_str(call.get("id"), "functionCall.id", provider) or new_call_id(),
            name=req_str(call.get("name"), "functionCall.name", provider),
            arguments=dict(opt_obj(call.get("args"), "functionCall.args", provider)),
            signature=signature,
        )
    if "text" in raw:
        text = req_str(raw["text"], "text", provider)
        if raw.get("thought") is True:
            return ReasoningPart(text=text, signature=signature)
        return TextPart(text=text)
    if "inlineData" in raw:
        blob = req_obj(raw["inlineData"], "inlineData", provider)
        return BlobPart(
            mime_type=req_str(blob.get("mimeType"), "inlineData.mimeType", provider),
            data=req_str(blob.get("data"), "inlineData.data", provider),
        )
    return None


def _candidate(obj: Mapping[str, Any], provider: str) -> Mapping[str, Any] | None:
    candidates = opt_list(obj.get("candidates"), "candidates", provider)
    return req_obj(candidates[0], "candidates[0]", provider) if candidates else None


def _parts(candidate: Mapping[str, Any], provider: str) -> list[Part]:
    content = opt_obj(candidate.get("content"), "candidates[0].content", provider)
    raw_parts = opt_list(content.get("parts"), "content.parts", provider)
    decoded = (_decode_part(req_obj(p, "part", provider), provider) for p in raw_parts)
    return [p for p in decoded if p is not None]


def _blocked(obj: Mapping[str, Any], provider: str) -> bool:
    feedback = opt_obj(obj.get("promptFeedback"), "promptFeedback", provider)
    return feedback.get("blockReason") is not None


@attrs.frozen(kw_only=True)
class GeminiCodec:
    """The ``generateContent`` wire format."""

    provider: str = "gcp.gemini"

    def encode_request(self, request: LLMRequest) -> dict[str, Any]:
        """The ``generateContent`` JSON body for ``request`` (the model is in the URL)."""
        system, contents = _encode_contents(request.messages)
        if request.system:
            system.insert(0, request.system)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        if request.tools:
            declarations = [_declaration(t) for t in request.tools]
            body["tools"] = [{"functionDeclarations": declarations}]
        body.update(self._options(request))
        return merge_extra(body, request.extra)

    def encode_body(self, request: LLMRequest) -> bytes:
        """:meth:`encode_request` as JSON bytes, what repeats encoded once.

        The texts of each message's parts and of each tool are remembered
        while they live; each request merges the messages into contents anew.
        """
        if request.extra:  # extra may replace anything: no splicing around it
            return dumps(self.encode_request(request)).encode()
        arrays = [("contents", merge_turns("parts", _contents(request.messages)))]
        if request.tools:
            declarations = ",".join(_TOOLS.text(t) for t in request.tools)
            arrays.append(("tools", [f'{{"functionDeclarations":[{declarations}]}}']))
        system = [m.text for m in request.messages if m.role is Role.SYSTEM]
        if request.system:
            system.insert(0, request.system)
        head: dict[str, Any] = {}
        if system:
            head["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        head.update(self._options(request))
        return splice(head, arrays)

    def _options(self, request: LLMRequest) -> dict[str, Any]:
        """The tool and generation configs of the body."""
        body: dict[str, Any] = {}
        choice = request.tool_choice
        if choice is not None:
            config: dict[str, Any] = {"mode": _MODES.get(choice.mode, "AUTO")}
            if choice.mode == "tool" and choice.name:
                config["allowedFunctionNames"] = [choice.name]
            body["toolConfig"] = {"functionCallingConfig": config}
        generation: dict[str, Any] = {}
        optional = (
            ("temperature", request.temperature),
            ("topP", request.top_p),
            ("maxOutputTokens", request.max_tokens),
            ("seed", request.seed),
        )
        generation.update((k, v) for k, v in optional if v is not None)
        if request.stop:
            generation["stopSequences"] = list(request.stop)
        if request.response_schema is not None:
            generation["responseMimeType"] = "application/json"
            generation["responseJsonSchema"] = dict(request.response_schema)
        if generation:
            body["generationConfig"] = generation
        return body

    def decode_response(self, body: object, *, checked: bool = False) -> LLMResponse:
        """The response a ``GenerateContentResponse`` describes.

        ``checked`` says ``body`` came from :func:`llmgine._json.loads`, which
        already refused nesting past the limit: it is not walked again.
        """
        provider = self.provider
        with decoding(provider):
            obj = req_obj(body, "$", provider)
            if not checked:
                _json.check_depth(obj)  # a reply nested too deep is refused whole
            if obj.get("error"):
                raise error_from_body(provider=provider, status=200, body=obj)
            candidate = _candidate(obj, provider)
            if candidate is None and not _blocked(obj, provider):
                raise malformed(provider, "the response has no candidates")
            parts = _parts(candidate, provider) if candidate is not None else []
            if candidate is None:
                reason = FinishReason.CONTENT_FILTER
            else:
                reason = _finish(candidate.get("finishReason", "STOP"))
            return assistant_reply(
                parts,
                reason,
                usage=_decode_usage(obj.get("usageMetadata"), provider),
                model=opt_str(obj.get("modelVersion"), "modelVersion", provider),
                id=opt_str(obj.get("responseId"), "responseId", provider),
                provider=provider,
                raw=obj,
            )

    def stream_decoder(self) -> GeminiStreamDecoder:
        """A decoder for one ``streamGenerateContent?alt=sse`` stream."""
        return GeminiStreamDecoder(provider=self.provider)


class GeminiStreamDecoder:
    """Decodes one Gemini stream: each event is a partial ``GenerateContentResponse``."""

    __slots__ = ("_calls", "_finish", "_id", "_model", "_provider", "_usage")

    def __init__(self, *, provider: str = "gcp.gemini") -> None:
        self._provider = provider
        self._finish: FinishReason | None = None
        self._usage = Usage()
        self._id: str | None = None
        self._model: str | None = None
        self._calls = 0

    @property
    def done(self) -> bool:
        """Always False: a Gemini stream ends when the server closes it."""
        return False

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """The deltas of one streamed chunk."""
        provider = self._provider
        with decoding(provider):
            obj = req_obj(_json.loads(event.data), "chunk", provider)
            if obj.get("error"):
                raise error_from_body(provider=provider, status=200, body=obj)
            self._id = opt_str(obj.get("responseId"), "responseId", provider) or self._id
            model = opt_str(obj.get("modelVersion"), "modelVersion", provider)
            self._model = model or self._model
            if obj.get("usageMetadata") is not None:
                self._usage = _decode_usage(obj["usageMetadata"], provider)
            candidate = _candidate(obj, provider)
            if candidate is None:
                if _blocked(obj, provider):
                    self._finish = FinishReason.CONTENT_FILTER
                return []
            if candidate.get("finishReason") is not None:
                self._finish = _finish(candidate["finishReason"])
            events = (self._event(p) for p in _parts(candidate, provider))
            return [e for e in events if e is not None]

    def _event(self, part: Part) -> StreamEvent | None:
        if isinstance(part, ToolCallPart):
            self._calls += 1
            return ToolCallDelta(
                index=self._calls - 1,
                id=part.id,
                name=part.name,
                arguments=dump_arguments(part.arguments),
                signature=part.signature,
            )
        if isinstance(part, ReasoningPart):
            return ReasoningDelta(text=part.text, signature=part.signature)
        if isinstance(part, TextPart):
            return TextDelta(text=part.text)
        return None  # inline media has no stream event; use complete() for it

    def finish(self) -> StreamFinish:
        """The closing event; the stream must have reported a finish reason."""
        if self._finish is None:
            raise ProviderUnavailable(
                "the stream ended before a finish reason", provider=self._provider
            )
        reason = self._finish
        if reason is FinishReason.STOP and self._calls:
            reason = FinishReason.TOOL_CALL
        return StreamFinish(
            finish_reason=reason, usage=self._usage, model=self._model, id=self._id
        )


class GeminiProvider(HTTPProvider):
    """The Gemini API.

    ``api_key`` defaults to ``GEMINI_API_KEY``, then ``GOOGLE_API_KEY``; a
    missing key raises :class:`~llmgine.AuthenticationError` here. It has
    native structured output: ``response_schema`` goes as
    ``generationConfig.responseJsonSchema`` with ``responseMimeType``
    ``application/json``.
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
        headers: Mapping[str, str] | None = None,
        secret_headers: Iterable[str] = (),
    ) -> None:
        self.__key = resolve_key(
            api_key, ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "gcp.gemini"
        )
        super().__init__(
            name="gcp.gemini",
            base_url=base_url or "https://generativelanguage.googleapis.com/v1beta",
            codec=GeminiCodec(),
            client=client,
            timeout=timeout,
            retry=retry,
            headers=headers,
            secret_headers=secret_headers,
        )

    def _auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self.__key}

    def _url(self, request: LLMRequest, *, stream: bool) -> str:
        model = request.model.removeprefix("models/")
        if stream:
            return f"{self.base_url}/models/{model}:streamGenerateContent?alt=sse"
        return f"{self.base_url}/models/{model}:generateContent"
