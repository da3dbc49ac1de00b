"""A provider that answers from a script: for tests, examples and offline demos."""

from __future__ import annotations

import inspect
import math
import types
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, TypeAlias

import attrs
import trio

from .._exceptions import ConfigurationError, ProviderError
from ._stream import (
    ProviderDelta,
    ReasoningDelta,
    StreamAccumulator,
    StreamEvent,
    StreamFinish,
    TextDelta,
    ToolCallDelta,
)
from ._trace import StreamSpan, llm_span, record_response
from ._types import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    ProviderPart,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from ._wire import dump_arguments

__all__ = [
    "CallLike",
    "ScriptExhausted",
    "ScriptItem",
    "ScriptedProvider",
    "estimate_usage",
    "split_response",
]

Reply: TypeAlias = LLMResponse | str | Sequence[StreamEvent]
ScriptItem: TypeAlias = (
    Reply
    | BaseException
    | type[BaseException]
    | Callable[[LLMRequest], Reply | Awaitable[Reply]]
)
"""One entry of a script: a reply, an error to raise, or a function of the request."""


class ScriptExhausted(ProviderError):
    """A :class:`ScriptedProvider` was called more often than its script allows."""


#: Marks a reply whose usage the provider estimates (``raw`` is never compared).
_ESTIMATE: Mapping[str, Any] = types.MappingProxyType({"llmgine.scripted": "estimate"})
#: Characters per token of the estimate (the usual rule of thumb for English).
_CHARS_PER_TOKEN = 4

CallLike: TypeAlias = ToolCallPart | tuple[str, Mapping[str, Any]]
"""A tool call to script: a ``ToolCallPart``, or ``(name, arguments)``."""


def _part_chars(part: object) -> int:
    if isinstance(part, TextPart | ReasoningPart):
        return len(part.text)
    if isinstance(part, ToolCallPart):
        return len(part.name) + len(dump_arguments(part.arguments))
    if isinstance(part, ToolResultPart):
        return len(part.content)
    return 0


def _tokens(chars: int) -> int:
    return max(1, math.ceil(chars / _CHARS_PER_TOKEN))


def estimate_usage(request: LLMRequest, reply: Message) -> Usage:
    """Plausible token counts for ``reply`` to ``request``: about 4 characters a token.

    Input counts the system prompt, every message and the tools' names,
    descriptions and schemas; output counts the reply's text and tool calls.
    """
    chars = len(request.system or "")
    for message in request.messages:
        chars += sum(_part_chars(part) for part in message.parts)
    for spec in request.tools:
        chars += len(spec.name) + len(spec.description) + len(str(spec.parameters))
    output = sum(_part_chars(part) for part in reply.parts)
    return Usage(input_tokens=_tokens(chars), output_tokens=_tokens(output))


def split_response(response: LLMResponse, *, chunk_size: int = 16) -> list[StreamEvent]:
    """The stream events a provider could have sent for ``response``.

    Text and reasoning come in ``chunk_size``-character deltas, each tool call's
    JSON arguments in two halves, a provider-specific part whole (as
    :class:`ProviderDelta`); a :class:`StreamFinish` closes the list.
    """
    events: list[StreamEvent] = []
    calls = 0
    for part in response.message.parts:
        if isinstance(part, TextPart | ReasoningPart):
            chunks = [
                part.text[i : i + chunk_size]
                for i in range(0, len(part.text), chunk_size)
            ]
            if isinstance(part, TextPart):
                events.extend(TextDelta(text=c) for c in chunks)
            else:
                events.extend(ReasoningDelta(text=c) for c in chunks)
                if part.signature is not None:
                    events.append(ReasoningDelta(signature=part.signature))
        elif isinstance(part, ToolCallPart):
            arguments = dump_arguments(part.arguments)
            half = len(arguments) // 2
            events.append(
                ToolCallDelta(
                    index=calls,
                    id=part.id,
                    name=part.name,
                    arguments=arguments[:half],
                    signature=part.signature,
                )
            )
            events.append(ToolCallDelta(index=calls, arguments=arguments[half:]))
            calls += 1
        elif isinstance(part, ProviderPart):  # whole, in its place
            events.append(ProviderDelta(part=part))
    events.append(
        StreamFinish(
            finish_reason=response.finish_reason,
            usage=response.usage,
            model=response.model,
            id=response.id,
        )
    )
    return events


class ScriptedProvider:
    """Answers each call with the next entry of its script.

    An :class:`LLMResponse` is returned (a plain string becomes an assistant
    text reply), an exception (instance or class) is raised, a list of stream
    events is replayed, and a callable is called with the request (sync or
    async) and its result used. ``stream()`` splits a scripted response into
    deltas. Every request received is kept in :attr:`requests`; a call past the
    end of the script raises :class:`ScriptExhausted`.

    :meth:`text`, :meth:`tool_call` and :meth:`tool_calls` script a reply in
    one line. A plain string and the replies they build report plausible
    token usage (:func:`estimate_usage`: about 4 characters a token of the
    request in, of the reply out), and their tool calls get ids ``call_1``,
    ``call_2``, ... in the order this provider sends them. An
    :class:`LLMResponse` built by hand is answered with the usage it carries.
    """

    def __init__(
        self,
        responses: Iterable[ScriptItem] = (),
        *,
        name: str = "scripted",
        chunk_size: int = 16,
    ) -> None:
        if (
            isinstance(chunk_size, bool)
            or not isinstance(chunk_size, int)
            or chunk_size < 1
        ):
            raise ConfigurationError(
                f"'chunk_size' must be a positive int (got {chunk_size!r})"
            )
        self._script: deque[ScriptItem] = deque(responses)
        self._name = name
        self._calls = 0
        self._chunk_size = chunk_size
        self.requests: list[LLMRequest] = []
        """Every request received, in order."""
        self.closed = False
        """True once :meth:`aclose` was called."""

    @property
    def name(self) -> str:
        """The name traces report (``"scripted"`` unless given)."""
        return self._name

    @property
    def server_address(self) -> str | None:
        """None: a script has no server."""
        return None

    @property
    def server_port(self) -> int | None:
        """None: a script has no server."""
        return None

    @property
    def remaining(self) -> int:
        """How many script entries are left."""
        return len(self._script)

    def add(self, *items: ScriptItem) -> None:
        """Append entries to the script."""
        self._script.extend(items)

    @staticmethod
    def text(text: str, *, usage: Usage | None = None) -> LLMResponse:
        """A reply with ``text``; without ``usage`` the provider estimates it."""
        return _reply([TextPart(text=text)], usage)

    @staticmethod
    def tool_call(name: str, /, **arguments: Any) -> LLMResponse:
        """A reply calling tool ``name`` with ``arguments``.

        ``ScriptedProvider.tool_call("get_weather", city="Paris")``; the call's
        id is given when the provider sends it (``call_1``, ...).
        """
        return _reply([ToolCallPart(id="", name=name, arguments=arguments)], None)

    @staticmethod
    def tool_calls(
        *calls: CallLike, text: str | None = None, usage: Usage | None = None
    ) -> LLMResponse:
        """A reply calling several tools in one step (they run concurrently).

        Each call is ``(name, arguments)`` or a ``ToolCallPart`` (whose id is
        kept); ``text`` goes before the calls, as models sometimes say what
        they are about to do.
        """
        parts: list[TextPart | ToolCallPart] = []
        if text is not None:
            parts.append(TextPart(text=text))
        for call in calls:
            if isinstance(call, ToolCallPart):
                parts.append(call)
                continue
            if (
                not isinstance(call, tuple)
                or len(call) != 2
                or not isinstance(call[0], str)
                or not isinstance(call[1], Mapping)
            ):
                raise ConfigurationError(
                    "each call must be a ToolCallPart or a (name, arguments) tuple"
                    f" (got {call!r})"
                )
            parts.append(ToolCallPart(id="", name=call[0], arguments=dict(call[1])))
        if not calls:
            raise ConfigurationError("tool_calls() needs at least one call")
        return _reply(parts, usage)

    def __repr__(self) -> str:
        return f"ScriptedProvider(name={self._name!r}, remaining={self.remaining})"

    def _take(self) -> ScriptItem:
        """The next script entry (raises :class:`ScriptExhausted` past the end)."""
        if not self._script:
            raise ScriptExhausted(
                f"the script ran out: call {len(self.requests)} has no scripted response",
                provider=self._name,
            )
        return self._script.popleft()

    async def _next(self, request: LLMRequest) -> LLMResponse | list[StreamEvent]:
        self.requests.append(request)
        await trio.lowlevel.checkpoint()
        item = self._take()
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, type) and issubclass(item, BaseException):
            if issubclass(item, ProviderError):
                raise item(f"scripted {item.__name__}", provider=self._name)
            raise item()
        reply: object = item
        if callable(reply):
            result = reply(request)
            reply = await result if inspect.isawaitable(result) else result
        if isinstance(reply, str):
            reply = _reply([TextPart(text=reply)], None)
        if isinstance(reply, LLMResponse):
            finish = reply.finish_reason
            if finish is FinishReason.STOP and reply.tool_calls:
                finish = FinishReason.TOOL_CALL
            message, usage, raw = reply.message, reply.usage, reply.raw
            if any(isinstance(p, ToolCallPart) and not p.id for p in message.parts):
                message = attrs.evolve(message, parts=self._number(message.parts))
            if raw is _ESTIMATE:
                usage, raw = estimate_usage(request, message), None
            return attrs.evolve(
                reply,
                message=message,
                usage=usage,
                raw=raw,
                provider=self._name,
                model=reply.model or request.model,
                finish_reason=finish,
            )
        if isinstance(reply, list | tuple):
            return list(reply)
        raise ConfigurationError(
            "a script entry must give an LLMResponse, a str or a list of stream "
            f"events (got {type(reply).__name__})"
        )

    def _number(self, parts: Iterable[Any]) -> list[Any]:
        """``parts`` with an id for each tool call that has none."""
        numbered = []
        for part in parts:
            if isinstance(part, ToolCallPart) and not part.id:
                self._calls += 1
                part = attrs.evolve(part, id=f"call_{self._calls}")
            numbered.append(part)
        return numbered

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """The next scripted reply to ``request``."""
        with llm_span(self, request) as span:
            reply = await self._next(request)
            if isinstance(reply, list):
                accumulator = StreamAccumulator()
                for event in reply:
                    accumulator.add(event)
                reply = accumulator.response(provider=self._name)
            record_response(span, reply)
            return reply

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """The next scripted reply to ``request``, as stream events."""
        span = StreamSpan(self, request)
        accumulator = StreamAccumulator()
        error: BaseException | None = None
        try:
            reply = await self._next(request)
            if isinstance(reply, LLMResponse):
                reply = split_response(reply, chunk_size=self._chunk_size)
            for event in reply:
                await trio.lowlevel.checkpoint()
                accumulator.add(event)
                yield event
        except GeneratorExit:
            raise
        except BaseException as exc:
            error = exc
            raise
        finally:
            response = accumulator.response(provider=self._name)
            span.finish(response if error is None else None, error)

    async def aclose(self) -> None:
        """Mark the provider closed (there is nothing to release)."""
        self.closed = True


def _reply(parts: Sequence[Any], usage: Usage | None) -> LLMResponse:
    """An assistant reply; without ``usage``, marked for the provider to estimate."""
    return LLMResponse(
        message=Message(role="assistant", parts=parts),
        usage=Usage() if usage is None else usage,
        raw=_ESTIMATE if usage is None else None,
    )
