"""Streaming a turn: the events an engine sends, and ``stream_turn`` to read them.

``ask(UserInput(text, stream_to=send_channel))`` makes the engine stream the
turn: every :class:`~llmgine.llm.StreamEvent` the provider yields (text and
reasoning deltas, tool-call pieces, one :class:`~llmgine.llm.StreamFinish`
per step), a :class:`ToolProgress` for each progress report of a running tool
call (MCP tools send them), a :class:`ToolExecuted` as each tool call
finishes, and for a
structured turn an :class:`OutputReady` with the typed value. The engine
closes the channel when the turn ends, so ``async for`` over the receiving end
simply ends. :func:`stream_turn` wraps that pattern.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import attrs
import trio

from .._exceptions import ConfigurationError
from ..actors import ActorRef
from ..llm import (
    ReasoningDelta,
    StreamFinish,
    TextDelta,
    ToolCallDelta,
    ToolCallPart,
    ToolResultPart,
)
from ._messages import ChatResult, UserInput

__all__ = [
    "OutputReady",
    "ToolExecuted",
    "ToolProgress",
    "TurnEvent",
    "TurnStream",
    "stream_turn",
]


@attrs.frozen(kw_only=True)
class ToolProgress:
    """A running tool call reported how far it got (an MCP progress notification).

    ``progress`` grows with each report; ``total`` and ``message`` are None
    when the tool sent none.
    """

    call: ToolCallPart
    progress: float
    total: float | None = None
    message: str | None = None


@attrs.frozen(kw_only=True)
class ToolExecuted:
    """A tool call of the turn finished with ``result``.

    Sent as each call finishes, so calls of one step can arrive out of order;
    the conversation still gets the results in the order of the calls.
    """

    call: ToolCallPart
    result: ToolResultPart


@attrs.frozen(kw_only=True)
class OutputReady:
    """A structured turn's typed ``output``, sent once it validated.

    The reply's JSON streams before it as :class:`~llmgine.llm.TextDelta`
    pieces (also when the provider gives it as a final-result tool call); a
    reply that did not validate streams too, before the model's next try.
    """

    output: Any


TurnEvent: TypeAlias = (
    TextDelta
    | ReasoningDelta
    | ToolCallDelta
    | StreamFinish
    | ToolProgress
    | ToolExecuted
    | OutputReady
)
"""What a streaming turn sends."""


class TurnStream:
    """The events of one streaming turn (iterate it), then its :attr:`result`."""

    __slots__ = ("_ended", "_error", "_receive", "_result")

    def __init__(self, receive: trio.MemoryReceiveChannel[TurnEvent]) -> None:
        self._receive = receive
        self._ended = False
        self._result: ChatResult | None = None
        self._error: BaseException | None = None

    def __aiter__(self) -> TurnStream:
        return self

    async def __anext__(self) -> TurnEvent:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            self._ended = True
            raise StopAsyncIteration from None

    @property
    def ended(self) -> bool:
        """True once every event was read: the turn is over."""
        return self._ended

    @property
    def result(self) -> ChatResult | None:
        """The turn's result, once the ``stream_turn`` block has exited normally."""
        return self._result


@asynccontextmanager
async def stream_turn(
    engine: ActorRef,
    text: str,
    *,
    buffer: int = 64,
    timeout: float | None = None,
    output_type: Any = None,
) -> AsyncIterator[TurnStream]:
    """Run a turn of ``engine`` and yield its events as they come.

    ::

        async with stream_turn(engine, "Hi!") as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    print(event.text, end="")
        print(stream.result.usage)

    Leaving the block after the last event waits for the engine's answer:
    :attr:`TurnStream.result` is then set, or the turn's error is raised.
    Leaving it early (``break``, an exception) cancels the turn: the engine
    rolls it back the next time it has an event to send. ``buffer`` events
    may wait unread before the engine waits for the reader; ``timeout`` is
    the ask's; ``output_type`` that of the turn (see :class:`UserInput`).
    """
    if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 0:
        raise ConfigurationError(f"'buffer' must be an int >= 0 (got {buffer!r})")
    send, receive = trio.open_memory_channel[TurnEvent](buffer)
    stream = TurnStream(receive)

    async def ask() -> None:
        try:
            stream._result = await engine.ask(
                UserInput(text, stream_to=send, output_type=output_type),
                timeout=timeout,
            )
        except Exception as exc:
            stream._error = exc
        finally:
            # the engine closes it too; this covers an ask that never arrived
            send.close()

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            with receive:
                try:
                    yield stream
                except BaseException:
                    nursery.cancel_scope.cancel()
                    raise
            if not stream._ended:
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # only the body can raise in the nursery (ask() catches what it meets)
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise  # pragma: no cover - one body, one error
    if stream._ended and stream._error is not None:
        raise stream._error
