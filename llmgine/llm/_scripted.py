"""A provider that answers from a script: for tests, examples and offline demos."""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TypeAlias

import attrs
import trio

from .._exceptions import ConfigurationError, ProviderError
from ._stream import (
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
    ReasoningPart,
    TextPart,
    ToolCallPart,
)
from ._wire import dump_arguments

__all__ = ["ScriptExhausted", "ScriptItem", "ScriptedProvider", "split_response"]

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


def split_response(response: LLMResponse, *, chunk_size: int = 16) -> list[StreamEvent]:
    """The stream events a provider could have sent for ``response``.

    Text and reasoning come in ``chunk_size``-character deltas, each tool call's
    JSON arguments in two halves; a :class:`StreamFinish` closes the list.
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

    def __repr__(self) -> str:
        return f"ScriptedProvider(name={self._name!r}, remaining={self.remaining})"

    async def _next(self, request: LLMRequest) -> LLMResponse | list[StreamEvent]:
        self.requests.append(request)
        await trio.lowlevel.checkpoint()
        if not self._script:
            raise ScriptExhausted(
                f"the script ran out: call {len(self.requests)} has no scripted response",
                provider=self._name,
            )
        item = self._script.popleft()
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
            reply = LLMResponse(message=Message.assistant(reply))
        if isinstance(reply, LLMResponse):
            finish = reply.finish_reason
            if finish is FinishReason.STOP and reply.tool_calls:
                finish = FinishReason.TOOL_CALL
            return attrs.evolve(
                reply,
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
