"""The client capabilities llmgine offers an MCP server: roots, sampling, elicitation.

A server may ask its client for things: the ``roots`` it may work in, a model
completion (``sampling/createMessage``), or input from the user
(``elicitation/create``). Each is offered only when the user gives what answers
it: a list of roots, an :class:`MCPSampling` (an llmgine provider and model), an
elicitation callback. Requests are converted between MCP's wire shapes and
llmgine's types here, so the provider and the callback see nothing of MCP.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

import attrs

from .._exceptions import ConfigurationError
from .._secrets import scrub
from ..llm import (
    BlobPart,
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    Part,
    Provider,
    Role,
    TextPart,
)

__all__ = [
    "ClientOptions",
    "MCPElicitResult",
    "MCPElicitation",
    "MCPSampling",
    "check_roots",
    "sampling_request",
    "sampling_result",
    "session_callbacks",
]

#: JSON-RPC "internal error": what a callback that failed answers.
_INTERNAL_ERROR = -32603

_STOP_REASONS = {
    FinishReason.STOP: "endTurn",
    FinishReason.LENGTH: "maxTokens",
    FinishReason.TOOL_CALL: "toolUse",
    FinishReason.CONTENT_FILTER: "contentFilter",
    FinishReason.ERROR: "error",
}


def _wire(model: Any) -> dict[str, Any]:
    """An mcp (pydantic) object as its JSON-RPC form, the same in every mcp version."""
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def _positive(_: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value <= 0
    ):
        raise ConfigurationError(
            f"{attribute.name!r} must be a positive int or None (got {value!r})"
        )


def _provider(_: object, attribute: attrs.Attribute[Provider], value: object) -> None:
    if not callable(getattr(value, "complete", None)):
        raise ConfigurationError(
            f"'provider' must be an llmgine Provider (got {type(value).__name__})"
        )


def _model(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"'model' must be a non-empty str (got {value!r})")


@attrs.frozen(kw_only=True)
class MCPSampling:
    """Answer a server's ``sampling/createMessage`` requests with an llmgine provider.

    The request's messages, system prompt, temperature, stop sequences and
    ``maxTokens`` become an ``LLMRequest`` for ``model`` (``max_tokens``, when
    set, caps what the server asks for); the reply's text goes back to the
    server. The server's model preferences are hints only and are not used.
    """

    provider: Provider = attrs.field(validator=_provider)
    model: str = attrs.field(validator=_model)
    max_tokens: int | None = attrs.field(default=None, validator=_positive)


@attrs.frozen(kw_only=True)
class MCPElicitation:
    """A server asks the user for input (``elicitation/create``).

    In ``"form"`` mode, ``schema`` is the JSON Schema (an object of flat,
    primitive properties) of the answer wanted; in ``"url"`` mode the user is
    sent to ``url`` instead. ``server`` is the path of the server's actor.
    """

    server: str
    message: str
    mode: str = "form"
    schema: Mapping[str, Any] | None = None
    url: str | None = None


_ACTIONS = ("accept", "decline", "cancel")


def _action(_: object, attribute: attrs.Attribute[str], value: object) -> None:
    if value not in _ACTIONS:
        raise ConfigurationError(
            f"'action' must be one of 'accept', 'decline', 'cancel' (got {value!r})"
        )


@attrs.frozen(kw_only=True)
class MCPElicitResult:
    """The user's answer to an :class:`MCPElicitation`.

    ``content`` goes with ``"accept"`` in form mode; properties the user left
    out that the schema gives a ``default`` for are filled with it.
    """

    action: Literal["accept", "decline", "cancel"] = attrs.field(validator=_action)
    content: Mapping[str, Any] | None = None


#: Answers elicitation requests: sync or async, given the request.
ElicitationCallback = Callable[
    [MCPElicitation], "MCPElicitResult | Awaitable[MCPElicitResult]"
]


def check_roots(roots: Iterable[str] | Mapping[str, str] | None) -> tuple[Any, ...]:
    """Roots as MCP lists them: ``{"uri": ..., "name": ...}``, each a ``file://`` URI."""
    if roots is None:
        return ()
    if isinstance(roots, str):
        raise ConfigurationError(
            f"'roots' must be a list of file:// URIs or a mapping of them to names"
            f" (got the str {roots!r})"
        )
    named = roots.items() if isinstance(roots, Mapping) else ((r, None) for r in roots)
    listed: list[dict[str, str]] = []
    for uri, name in named:
        if not isinstance(uri, str) or not uri.startswith("file://"):
            raise ConfigurationError(f"a root must be a file:// URI (got {uri!r})")
        listed.append({"uri": uri} if name is None else {"uri": uri, "name": str(name)})
    return tuple(listed)


@attrs.frozen(kw_only=True)
class ClientOptions:
    """What a server's actor offers the server; shared by its incarnations."""

    roots: tuple[Mapping[str, str], ...] = ()
    sampling: MCPSampling | None = None
    elicitation: ElicitationCallback | None = None

    def __attrs_post_init__(self) -> None:
        if self.sampling is not None and not isinstance(self.sampling, MCPSampling):
            raise ConfigurationError(
                f"'sampling' must be an MCPSampling (got {type(self.sampling).__name__})"
            )
        if self.elicitation is not None and not callable(self.elicitation):
            raise ConfigurationError(
                f"'elicitation' must be a callable (got {self.elicitation!r})"
            )


def _part(block: Mapping[str, Any]) -> Part:
    kind = block.get("type")
    if kind == "text":
        return TextPart(text=str(block.get("text", "")))
    if kind in ("image", "audio") and isinstance(block.get("data"), str):
        return BlobPart(mime_type=str(block.get("mimeType", "")), data=block["data"])
    return TextPart(text=json.dumps(dict(block), ensure_ascii=False))


def sampling_request(params: Mapping[str, Any], sampling: MCPSampling) -> LLMRequest:
    """A ``sampling/createMessage`` request's params (wire JSON) as an ``LLMRequest``."""
    messages: list[Message] = []
    for message in params.get("messages") or ():
        content = message.get("content")
        blocks = content if isinstance(content, list) else [content]
        role = Role.ASSISTANT if message.get("role") == "assistant" else Role.USER
        parts = [_part(b) for b in blocks if isinstance(b, Mapping)]
        messages.append(Message(role=role, parts=parts))
    wanted = params.get("maxTokens")
    limit = sampling.max_tokens
    if isinstance(wanted, int) and limit is not None:
        wanted = min(wanted, limit)
    elif not isinstance(wanted, int):
        wanted = limit
    stop = params.get("stopSequences") or ()
    return LLMRequest(
        model=sampling.model,
        messages=messages,
        system=params.get("systemPrompt") or None,
        temperature=params.get("temperature"),
        max_tokens=wanted,
        stop=tuple(str(s) for s in stop),
    )


def sampling_result(response: LLMResponse, model: str) -> dict[str, Any]:
    """An ``LLMResponse`` as a ``CreateMessageResult`` (wire JSON)."""
    return {
        "role": "assistant",
        "content": {"type": "text", "text": response.text},
        "model": response.model or model,
        "stopReason": _STOP_REASONS[response.finish_reason],
    }


def _with_defaults(
    schema: Mapping[str, Any] | None, content: Mapping[str, Any]
) -> dict[str, Any]:
    filled = dict(content)
    properties = (schema or {}).get("properties")
    if isinstance(properties, Mapping):
        for name, spec in properties.items():
            if name not in filled and isinstance(spec, Mapping) and "default" in spec:
                filled[name] = spec["default"]
    return filled


def _check_answer(result: object) -> None:
    if not isinstance(result, MCPElicitResult):
        raise TypeError(
            "the elicitation callback must return an MCPElicitResult"
            f" (got {type(result).__name__})"
        )


def _failed(exc: Exception) -> Any:
    from mcp.types import ErrorData

    text = str(exc)
    message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return ErrorData(code=_INTERNAL_ERROR, message=scrub(message))


def session_callbacks(options: ClientOptions, path: str) -> dict[str, Any]:
    """``ClientSession`` keyword arguments that answer what ``options`` offers."""
    from mcp import types

    callbacks: dict[str, Any] = {}
    if options.roots:
        listing = types.ListRootsResult.model_validate({"roots": list(options.roots)})

        async def list_roots(context: Any) -> Any:
            return listing

        callbacks["list_roots_callback"] = list_roots
    sampling = options.sampling
    if sampling is not None:

        async def sample(context: Any, params: Any) -> Any:
            try:
                request = sampling_request(_wire(params), sampling)
                response = await sampling.provider.complete(request)
                result = sampling_result(response, sampling.model)
            except Exception as exc:
                return _failed(exc)
            return types.CreateMessageResult.model_validate(result)

        callbacks["sampling_callback"] = sample
    answer = options.elicitation
    if answer is not None:

        async def elicit(context: Any, params: Any) -> Any:
            data = _wire(params)
            request = MCPElicitation(
                server=path,
                message=str(data.get("message", "")),
                mode=str(data.get("mode", "form")),
                schema=data.get("requestedSchema"),
                url=data.get("url"),
            )
            try:
                result = answer(request)
                if inspect.isawaitable(result):
                    result = await result
                _check_answer(result)
            except Exception as exc:
                return _failed(exc)
            reply: dict[str, Any] = {"action": result.action}
            if result.action == "accept" and request.mode == "form":
                reply["content"] = _with_defaults(request.schema, result.content or {})
            return types.ElicitResult.model_validate(reply)

        callbacks["elicitation_callback"] = elicit
    return callbacks
