"""One turn of a chat engine: the loop of model calls and tool calls.

A :class:`Turn` collects the turn's messages on the side; the engine appends
them to the conversation when the turn ends. A durable turn also writes each
finished step to its :class:`~llmgine.engines._journal.Journal`, and can be
rebuilt from it to go on where it stopped. :attr:`Turn.kept` is the longest
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
from ._journal import (
    Journal,
    StepReplied,
    ToolFinished,
    ToolStarted,
    TurnOpened,
    TurnState,
)
from ._messages import ChatResult, UserInput
from ._stream import ToolExecuted

if TYPE_CHECKING:
    from ._chat import ChatEngine

__all__ = ["Turn"]


class Turn:
    """The state of one turn in progress (new, or resumed from its journal)."""

    __slots__ = (
        "consistent",
        "engine",
        "finished",
        "journal",
        "messages",
        "started",
        "steps",
        "stream",
        "text",
        "usage",
    )

    def __init__(
        self,
        engine: ChatEngine,
        message: UserInput | None = None,
        *,
        journal: Journal | None = None,
        resume: TurnState | None = None,
    ) -> None:
        self.engine = engine
        self.journal = journal
        self.stream = None if message is None else message.stream_to
        self.messages: list[Message] = []
        self.consistent = 0
        self.steps = 0
        self.usage = Usage()
        self.started: set[int] = set()
        self.finished: dict[int, ToolResultPart] = {}
        if resume is not None:
            self.text = resume.text
            self.messages = list(resume.messages)
            self.steps = resume.steps
            self.usage = resume.usage
            self.started = resume.started
            self.finished = resume.finished
            self.consistent = len(self.messages) - (1 if resume.open_calls() else 0)
        else:
            assert message is not None
            self.text = message.text

    @property
    def kept(self) -> list[Message]:
        """The messages up to the last point where no tool call waits for a result."""
        return self.messages[: self.consistent]

    def _add(self, message: Message, *, consistent: bool) -> None:
        self.messages.append(message)
        if consistent:
            self.consistent = len(self.messages)

    def _result(self, response: Message) -> ChatResult:
        return ChatResult(
            text=response.text,
            steps=self.steps,
            usage=self.usage,
            messages=tuple(self.messages),
        )

    async def run(self) -> ChatResult:
        """Call the model and run its tools until it answers without tool calls."""
        engine = self.engine
        if not self.messages:
            self._add(Message.user(self.text), consistent=True)
            if self.journal is not None:
                await self.journal.write(TurnOpened(text=self.text))
        # a resumed turn may stop at a reply whose tool calls have no results yet
        # (a final reply is stored with the turn, never journalled alone)
        last = self.messages[-1]
        calls = last.tool_calls if last.role is Role.ASSISTANT else ()
        while True:
            if calls:
                await self._status(EngineState.RUNNING_TOOLS)
                results = await self._run_tools(calls)
                for result in results:
                    self.messages.append(Message(role=Role.TOOL, parts=(result,)))
                self.consistent = len(self.messages)
                self.started, self.finished = set(), {}
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
            if calls and self.journal is not None:
                await self.journal.write(
                    StepReplied(message=response.message, usage=response.usage)
                )
            if engine.usage_limits is not None:
                engine.usage_limits.check(self.usage)
            if not calls:
                return self._result(response.message)

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
                result = self.finished.get(index)
                if result is None:
                    result = await self._run_one(index, call)
                results[index] = result
            except Exception as exc:
                errors.append(exc)
                nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            for index, call in enumerate(calls):
                nursery.start_soon(run_one, index, call, name=f"tool {call.name}")
        if errors:
            raise errors[0]
        return [r for r in results if r is not None]

    async def _run_one(self, index: int, call: ToolCallPart) -> ToolResultPart:
        journal = self.journal
        if index in self.started and not self._idempotent(call.name):
            result = _unknown(call)
        else:
            if journal is not None:
                await journal.write(ToolStarted(index=index))
            result = await self.engine.tools.execute(call)
            if result.call_id != call.id or result.name != call.name:
                # Gemini matches results by name: make sure it is there
                result = attrs.evolve(result, call_id=call.id, name=call.name)
        if journal is not None:
            await journal.write(ToolFinished(index=index, result=result))
        await self.send(ToolExecuted(call=call, result=result))
        return result

    def _idempotent(self, name: str) -> bool:
        get = getattr(self.engine.tools, "get", None)
        found = get(name) if callable(get) else None
        return getattr(found, "idempotent", False) is True


def _unknown(call: ToolCallPart) -> ToolResultPart:
    return ToolResultPart(
        call_id=call.id,
        name=call.name,
        is_error=True,
        content=(
            f"The outcome of this call of {call.name!r} is unknown: it started"
            " before the engine stopped and left no result. It was not run again"
            " because the tool is not declared idempotent; check its effect"
            " before calling it again."
        ),
    )
