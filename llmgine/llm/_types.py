"""The standard LLM contract: one request and one response shape for every provider."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

__all__ = [
    "BlobPart",
    "FinishReason",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "Part",
    "ProviderPart",
    "ReasoningPart",
    "Role",
    "TextPart",
    "ToolCallPart",
    "ToolChoice",
    "ToolResultPart",
    "ToolSpec",
    "Usage",
]


class Role(enum.StrEnum):
    """Who speaks a message. Plain strings (``"user"``) are accepted too."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class FinishReason(enum.StrEnum):
    """Why the model stopped, as the OpenTelemetry GenAI conventions name it."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALL = "tool_call"
    CONTENT_FILTER = "content_filter"
    ERROR = "error"
    #: Not in the OpenTelemetry set: the provider paused a long turn (Anthropic's
    #: ``pause_turn``, while its server tools run); send the conversation back,
    #: the paused reply included and nothing added, and the model goes on.
    PAUSED = "paused"


def _role(value: Role | str) -> Role:
    return value if isinstance(value, Role) else Role(value)


def _finish(value: FinishReason | str) -> FinishReason:
    return value if isinstance(value, FinishReason) else FinishReason(value)


@attrs.frozen(kw_only=True)
class TextPart:
    """Plain text."""

    text: str


@attrs.frozen(kw_only=True)
class ReasoningPart:
    """The model's reasoning ("thinking"), with the provider's signature if any."""

    text: str
    signature: str | None = None


@attrs.frozen(kw_only=True)
class BlobPart:
    """Binary content (an image, audio, a PDF) inline as base64, or by URL."""

    mime_type: str
    data: str | None = None
    url: str | None = None


@attrs.frozen(kw_only=True)
class ToolCallPart:
    """The model asks for a tool to be called.

    ``arguments`` is a dict, or the raw string when the model's JSON did not parse.
    ``signature`` is an opaque token some providers attach to a call and expect
    back with it (Gemini's thought signatures).
    """

    id: str
    name: str
    arguments: Mapping[str, Any] | str = attrs.field(factory=dict)
    signature: str | None = None


@attrs.frozen(kw_only=True)
class ToolResultPart:
    """The result of a tool call, sent back to the model.

    ``name`` is the tool's name; Gemini matches results by name, so engines fill it.
    ``usage`` is what the call itself spent on models (a tool that runs an
    engine, say): a chat engine adds it to the turn's usage. It is never sent
    to the model.
    """

    call_id: str
    content: str
    is_error: bool = False
    name: str | None = None
    usage: Usage | None = None


def _data(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"'data' must be a mapping (got {type(value).__name__})")
    return dict(value)


@attrs.frozen(kw_only=True)
class ProviderPart:
    """Content only one provider understands, kept to be sent back to it verbatim.

    ``provider`` names the codec that made it (``"anthropic"``); ``data`` is the
    block as that provider sent it (an Anthropic ``server_tool_use`` or
    ``web_search_tool_result`` block, say). Its codec encodes it back
    unchanged; every other codec leaves it out of the request.
    """

    provider: str
    data: Mapping[str, Any] = attrs.field(converter=_data)


Part: TypeAlias = (
    TextPart | ReasoningPart | BlobPart | ToolCallPart | ToolResultPart | ProviderPart
)


def _parts(value: Iterable[Part]) -> tuple[Part, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Message:
    """One message of a conversation."""

    role: Role = attrs.field(converter=_role)
    parts: tuple[Part, ...] = attrs.field(converter=_parts)

    @classmethod
    def system(cls, text: str) -> Message:
        """A system message with one text part."""
        return cls(role=Role.SYSTEM, parts=(TextPart(text=text),))

    @classmethod
    def user(cls, text: str) -> Message:
        """A user message with one text part."""
        return cls(role=Role.USER, parts=(TextPart(text=text),))

    @classmethod
    def assistant(cls, text: str) -> Message:
        """An assistant message with one text part."""
        return cls(role=Role.ASSISTANT, parts=(TextPart(text=text),))

    @property
    def text(self) -> str:
        """The concatenated text parts."""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        """The tool calls this message carries, in order."""
        return tuple(p for p in self.parts if isinstance(p, ToolCallPart))


@attrs.frozen(kw_only=True)
class ToolSpec:
    """A tool as providers describe it to the model: ``parameters`` is JSON Schema."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = attrs.field(
        factory=lambda: {"type": "object", "properties": {}}
    )


@attrs.frozen(kw_only=True)
class ToolChoice:
    """Whether and which tools the model may call.

    ``mode`` is ``"auto"``, ``"none"``, ``"required"``, or ``"tool"`` with ``name``.
    """

    mode: str = "auto"
    name: str | None = None

    @classmethod
    def tool(cls, name: str) -> ToolChoice:
        """Force a call to the named tool."""
        return cls(mode="tool", name=name)


@attrs.frozen(kw_only=True)
class Usage:
    """Token counts of one call (or a sum of calls).

    ``input_tokens`` counts every input token, cached ones included, as the
    OpenTelemetry GenAI conventions define it.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
        )


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return tuple(value)


def _tools(value: Iterable[ToolSpec]) -> tuple[ToolSpec, ...]:
    return tuple(value)


def _stop(value: Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _tool_choice(value: ToolChoice | str | None) -> ToolChoice | None:
    if value is None or isinstance(value, ToolChoice):
        return value
    if value in ("auto", "none", "required"):
        return ToolChoice(mode=value)
    return ToolChoice.tool(value)


@attrs.frozen(kw_only=True)
class LLMRequest:
    """One call to a model, in provider-neutral form.

    ``system`` is the system prompt (providers that take it inline get it as the
    first message). ``extra`` is merged into the provider's wire JSON untouched.
    """

    model: str
    messages: tuple[Message, ...] = attrs.field(converter=_messages)
    system: str | None = None
    tools: tuple[ToolSpec, ...] = attrs.field(default=(), converter=_tools)
    tool_choice: ToolChoice | None = attrs.field(default=None, converter=_tool_choice)
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = attrs.field(default=(), converter=_stop)
    seed: int | None = None
    response_schema: Mapping[str, Any] | None = None
    stream: bool = False
    extra: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class LLMResponse:
    """A model's reply. ``model`` and ``id`` are what the provider reported."""

    message: Message
    finish_reason: FinishReason = attrs.field(
        default=FinishReason.STOP, converter=_finish
    )
    usage: Usage = attrs.field(factory=Usage)
    model: str | None = None
    id: str | None = None
    provider: str | None = None
    raw: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def text(self) -> str:
        """The reply's text."""
        return self.message.text

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        """The tool calls of the reply, in order."""
        return self.message.tool_calls


MessageSeq: TypeAlias = Sequence[Message]


def assistant_reply(
    parts: Sequence[Part],
    finish_reason: FinishReason,
    *,
    usage: Usage,
    model: str | None,
    id: str | None,
    provider: str | None,
    raw: Mapping[str, Any] | None = None,
) -> LLMResponse:
    """An assistant reply as every codec builds it.

    The finish reason is ``tool_call`` whenever the reply carries tool calls,
    whatever the provider said (Gemini says ``STOP``), unless the reply was cut
    off (``length``): truncated calls are not a tool turn.
    """
    if finish_reason is not FinishReason.LENGTH:
        for part in parts:
            if isinstance(part, ToolCallPart):
                finish_reason = FinishReason.TOOL_CALL
                break
    return LLMResponse(
        message=Message(role=Role.ASSISTANT, parts=parts),
        finish_reason=finish_reason,
        usage=usage,
        model=model,
        id=id,
        provider=provider,
        raw=raw,
    )
