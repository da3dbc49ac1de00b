"""One turn of a chat engine: the loop of model calls and tool calls.

A :class:`Turn` collects the turn's messages on the side; the engine appends
them to the conversation when the turn ends. :attr:`Turn.kept` is the longest
prefix in which every tool call has its result: what a turn stopped by a limit
leaves in the conversation.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._exceptions import EngineError, MaxStepsExceeded
from ..actors import ActorRef
from ..llm import (
    LLMRequest,
    LLMResponse,
    Message,
    Role,
    StreamAccumulator,
    ToolCallPart,
    ToolResultPart,
    Usage,
    split_response,
)
from ._engine import EngineState, EngineStatus
from ._messages import ChatResult, UserInput
from ._stream import ToolExecuted

if TYPE_CHECKING:
    from ._chat import ChatEngine

__all__ = ["Turn"]


class Turn:
    """The state of one turn in progress."""

    __slots__ = ("consistent", "engine", "messages", "steps", "stream", "text", "usage")

    def __init__(self, engine: ChatEngine, message: UserInput) -> None:
        self.engine = engine
        self.text = message.text
        self.stream = message.stream_to
        self.messages: list[Message] = []
        self.consistent = 0
        self.steps = 0
        self.usage = Usage()

    @property
    def kept(self) -> list[Message]:
        """The messages up to the last point where no tool call waits for a result."""
        return self.messages[: self.consistent]

    def _add(self, message: Message, *, consistent: bool) -> None:
        self.messages.append(message)
        if consistent:
            self.consistent = len(self.messages)

    async def run(self) -> ChatResult:
        """Call the model and run its tools until it answers without tool calls."""
        engine = self.engine
        self._add(Message.user(self.text), consistent=True)
        while True:
            if self.steps >= engine.max_steps:
                raise MaxStepsExceeded(
                    f"{engine.name}: the model still called tools after"
                    f" max_steps={engine.max_steps} LLM calls"
                )
            self.steps += 1
            await self._status(EngineState.CALLING_MODEL)
            response = await self._call()
            self.usage += response.usage
            calls = response.tool_calls
            self._add(response.message, consistent=not calls)
            if engine.usage_limits is not None:
                engine.usage_limits.check(self.usage)
            if not calls:
                return ChatResult(
                    text=response.text,
                    steps=self.steps,
                    usage=self.usage,
                    messages=tuple(self.messages),
                )
            await self._status(EngineState.RUNNING_TOOLS)
            results = await self._run_tools(calls)
            for result in results:
                self.messages.append(Message(role=Role.TOOL, parts=(result,)))
            self.consistent = len(self.messages)

    async def _status(self, state: EngineState) -> None:
        engine = self.engine
        if engine.bus is not None:
            await engine.publish(
                EngineStatus(
                    engine=engine.name,
                    conversation_id=engine.conversation.id,
                    state=state,
                    step=self.steps,
                )
            )

    async def send(self, event: Any) -> None:
        """Send a stream event to the turn's reader (if streaming)."""
        if self.stream is None:
            return
        try:
            await self.stream.send(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise EngineError(
                f"{self.engine.name}: the stream's reader is gone;"
                " the turn was cancelled and rolled back"
            ) from exc

    async def _call(self) -> LLMResponse:
        engine = self.engine
        provider = engine.provider
        if isinstance(provider, ActorRef):
            response: LLMResponse = await provider.ask(engine.request(self.messages))
            if self.stream is not None:
                # a ProviderActor answers whole replies: stream each at once
                for event in split_response(response, chunk_size=sys.maxsize):
                    await self.send(event)
            return response
        request: LLMRequest = engine.request(
            self.messages, stream=self.stream is not None
        )
        if self.stream is None:
            return await provider.complete(request)
        accumulator = StreamAccumulator()
        events = provider.stream(request)
        try:
            async for event in events:
                accumulator.add(event)
                await self.send(event)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        return accumulator.response(provider=provider.name)

    async def _run_tools(self, calls: Sequence[ToolCallPart]) -> list[ToolResultPart]:
        """Run one step's calls concurrently; results in the order of the calls."""
        results: list[ToolResultPart | None] = [None] * len(calls)
        errors: list[Exception] = []

        async def run_one(index: int, call: ToolCallPart) -> None:
            try:
                result = await self.engine.tools.execute(call)
                if result.call_id != call.id or result.name != call.name:
                    # Gemini matches results by name: make sure it is there
                    result = attrs.evolve(result, call_id=call.id, name=call.name)
                results[index] = result
                await self.send(ToolExecuted(call=call, result=result))
            except Exception as exc:
                errors.append(exc)
                nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            for index, call in enumerate(calls):
                nursery.start_soon(run_one, index, call, name=f"tool {call.name}")
        if errors:
            raise errors[0]
        return [r for r in results if r is not None]
