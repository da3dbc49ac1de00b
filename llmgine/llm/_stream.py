"""Streaming: the events a provider's ``stream()`` yields, and how to rebuild a reply.

Every stream is a sequence of deltas (:class:`TextDelta`, :class:`ReasoningDelta`,
:class:`ToolCallDelta`, and :class:`ProviderDelta` for whole provider-specific
parts) ended by exactly one :class:`StreamFinish` carrying the finish reason,
the usage and the provider's response id and model.
:class:`StreamAccumulator` folds such a sequence back into the
:class:`~llmgine.llm.LLMResponse` that ``complete()`` would have returned.
"""

from __future__ import annotations

from typing import TypeAlias

import attrs

from ._types import (
    FinishReason,
    LLMResponse,
    Part,
    ProviderPart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    Usage,
    _finish,
    assistant_reply,
)
from ._wire import new_call_id, parse_arguments

__all__ = [
    "ProviderDelta",
    "ReasoningDelta",
    "StreamAccumulator",
    "StreamEvent",
    "StreamFinish",
    "TextDelta",
    "ToolCallDelta",
]


@attrs.frozen(kw_only=True)
class TextDelta:
    """A piece of the reply's text."""

    text: str


@attrs.frozen(kw_only=True)
class ReasoningDelta:
    """A piece of the model's reasoning, or its closing ``signature``."""

    text: str = ""
    signature: str | None = None


@attrs.frozen(kw_only=True)
class ToolCallDelta:
    """A piece of tool call number ``index`` (counted from 0 within the reply).

    The first piece of a call carries its ``id`` and ``name``; the ``arguments``
    pieces of one call concatenate to its JSON arguments.
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    signature: str | None = None


@attrs.frozen(kw_only=True)
class ProviderDelta:
    """A whole provider-specific part (an Anthropic server-tool block, say).

    It comes once the provider has streamed the part completely, in its place
    among the reply's parts.
    """

    part: ProviderPart


@attrs.frozen(kw_only=True)
class StreamFinish:
    """The end of a stream: why it stopped, what it cost, what answered."""

    finish_reason: FinishReason = attrs.field(
        default=FinishReason.STOP, converter=_finish
    )
    usage: Usage = attrs.field(factory=Usage)
    model: str | None = None
    id: str | None = None


StreamEvent: TypeAlias = (
    TextDelta | ReasoningDelta | ToolCallDelta | ProviderDelta | StreamFinish
)


class _Call:
    __slots__ = ("arguments", "id", "name", "signature")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name = ""
        self.arguments: list[str] = []
        self.signature: str | None = None

    def part(self) -> ToolCallPart:
        if self.id is None:
            self.id = new_call_id()
        return ToolCallPart(
            id=self.id,
            name=self.name,
            arguments=parse_arguments("".join(self.arguments)),
            signature=self.signature,
        )


class _Pieces:
    __slots__ = ("kind", "signature", "texts")

    def __init__(self, kind: type[TextPart] | type[ReasoningPart]) -> None:
        self.kind = kind
        self.texts: list[str] = []
        self.signature: str | None = None

    def part(self) -> Part:
        text = "".join(self.texts)
        if self.kind is ReasoningPart:
            return ReasoningPart(text=text, signature=self.signature)
        return TextPart(text=text)


class _Whole:
    __slots__ = ("_part",)

    def __init__(self, part: ProviderPart) -> None:
        self._part = part

    def part(self) -> Part:
        return self._part


class StreamAccumulator:
    """Folds stream events into the full :class:`LLMResponse`.

    Parts keep the order they began in; consecutive text (or reasoning) deltas
    join into one part. A tool call that never got an id gets a generated one,
    and a reply that carries tool calls finishes with ``tool_call``.
    """

    __slots__ = ("_calls", "_finish", "_parts")

    def __init__(self) -> None:
        self._parts: list[_Pieces | _Call | _Whole] = []
        self._calls: dict[int, _Call] = {}
        self._finish: StreamFinish | None = None

    @property
    def finished(self) -> bool:
        """True once the :class:`StreamFinish` event was added."""
        return self._finish is not None

    def add(self, event: StreamEvent) -> None:
        """Take one event, in stream order."""
        match event:
            case TextDelta(text=text):
                self._pieces(TextPart).texts.append(text)
            case ReasoningDelta(text=text, signature=signature):
                pieces = self._pieces(ReasoningPart)
                pieces.texts.append(text)
                if signature is not None:
                    pieces.signature = signature
            case ToolCallDelta():
                self._add_call(event)
            case ProviderDelta(part=part):
                self._parts.append(_Whole(part))
            case StreamFinish():
                self._finish = event
            case _:
                raise TypeError(f"not a stream event: {event!r}")

    def _pieces(self, kind: type[TextPart] | type[ReasoningPart]) -> _Pieces:
        last = self._parts[-1] if self._parts else None
        # a signature closes a reasoning block: what follows is a new block
        if isinstance(last, _Pieces) and last.kind is kind and last.signature is None:
            return last
        pieces = _Pieces(kind)
        self._parts.append(pieces)
        return pieces

    def _add_call(self, delta: ToolCallDelta) -> None:
        call = self._calls.get(delta.index)
        if call is None:
            call = self._calls[delta.index] = _Call()
            self._parts.append(call)
        if delta.id:
            call.id = delta.id
        if delta.name:
            call.name = delta.name
        if delta.signature is not None:
            call.signature = delta.signature
        if delta.arguments:
            call.arguments.append(delta.arguments)

    def response(self, *, provider: str | None = None) -> LLMResponse:
        """The reply so far (complete once :attr:`finished`)."""
        parts = tuple(p.part() for p in self._parts)
        finish = self._finish or StreamFinish()
        return assistant_reply(
            parts,
            finish.finish_reason,
            usage=finish.usage,
            model=finish.model,
            id=finish.id,
            provider=provider,
        )
