"""One turn of a chat engine: the loop of model calls and tool calls.

A :class:`Turn` collects the turn's messages on the side; the engine appends
them to the conversation when the turn ends. A durable turn also writes each
finished step to its :class:`~llmgine.engines._journal.Journal`, and can be
rebuilt from it to go on where it stopped. :attr:`Turn.kept` is the longest
prefix in which every tool call has its result: what a turn stopped by a limit
leaves in the conversation.

A turn with an output type ends only at a reply that validates against it
(see :mod:`._output`); a turn whose model calls a tool declared
``requires_approval`` stops before running it and answers a result with
``pending_approvals``: :meth:`Turn.decide` records the decisions and
:meth:`Turn.run` goes on. A reply the provider paused
(``FinishReason.PAUSED``) is sent back as it is, one more step of the turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs
import trio

from .._exceptions import MaxStepsExceeded, OutputValidationError
from ..llm import (
    FinishReason,
    Message,
    ProviderDelta,
    Role,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from ..llm._wire import dump_arguments
from ..tools import MCPProgress, progress_listener
from ._client import ModelClient
from ._conversation import Conversation
from ._engine import EngineState
from ._journal import (
    AwaitingApproval,
    Journal,
    StepReplied,
    ToolFinished,
    ToolStarted,
    TurnOpened,
    TurnState,
)
from ._messages import ChatResult
from ._output import FINAL_RESULT, Invalid, OutputSpec, accepted, skipped
from ._settings import ToolExecutor, TurnObserver, TurnSettings, build_request
from ._stream import OutputReady, ToolExecuted, ToolProgress

__all__ = ["Turn"]


class Turn:
    """The state of one turn in progress (new, or resumed from its journal)."""

    __slots__ = (
        "_final_indexes",
        "client",
        "consistent",
        "conversation",
        "decisions",
        "finished",
        "journal",
        "messages",
        "native",
        "observer",
        "output",
        "replies",
        "retries",
        "settings",
        "started",
        "steps",
        "text",
        "tools",
        "usage",
    )

    def __init__(
        self,
        settings: TurnSettings,
        observer: TurnObserver,
        client: ModelClient,
        tools: ToolExecutor,
        conversation: Conversation,
        *,
        text: str | None = None,
        resume: TurnState | None = None,
        journal: Journal | None = None,
        output: OutputSpec | None = None,
    ) -> None:
        self.settings = settings
        self.observer = observer
        self.client = client
        self.tools = tools
        self.conversation = conversation
        self.journal = journal
        self.output = output
        self.native: bool | None = None
        self.messages: list[Message] = []
        self.consistent = 0
        self.steps = 0
        self.replies = 0
        self.retries = 0
        self.usage = Usage()
        self.started: set[int] = set()
        self.finished: dict[int, ToolResultPart] = {}
        self.decisions: dict[int, str | None] = {}
        self._final_indexes: set[int] = set()
        if resume is not None:
            self.text = resume.text
            self.messages = list(resume.messages)
            self.steps = self.replies = resume.steps
            self.usage = resume.usage
            self.started = resume.started
            self.finished = resume.finished
            self.consistent = len(self.messages) - (1 if resume.open_calls() else 0)
        else:
            assert text is not None
            self.text = text

    @property
    def kept(self) -> list[Message]:
        """The messages up to the last point where no tool call waits for a result."""
        return self.messages[: self.consistent]

    @property
    def open_calls(self) -> tuple[ToolCallPart, ...]:
        """The tool calls of the last reply, while their results are not all in."""
        last = self.messages[-1] if self.messages else None
        if last is None or last.role is not Role.ASSISTANT:
            return ()
        return last.tool_calls

    def decide(self, approve: Sequence[str], deny: Mapping[str, str]) -> None:
        """Record the decisions on the calls the turn stopped for."""
        index = {call.id: i for i, call in enumerate(self.open_calls)}
        for call_id in approve:
            self.decisions[index[call_id]] = None
        for call_id, reason in deny.items():
            self.decisions[index[call_id]] = reason

    def _add(self, message: Message, *, consistent: bool) -> None:
        self.messages.append(message)
        if consistent:
            self.consistent = len(self.messages)

    def _result(
        self,
        text: str,
        *,
        output: Any = None,
        pending: tuple[ToolCallPart, ...] = (),
    ) -> ChatResult:
        return ChatResult(
            text=text,
            steps=self.steps,
            usage=self.usage,
            messages=tuple(self.messages),
            output=output,
            pending_approvals=pending,
        )

    async def run(self) -> ChatResult:
        """Call the model and run its tools until it answers without tool calls
        (with a valid output, if the turn has an output type), or until a call
        waits for approval."""
        settings = self.settings
        if self.output is not None and self.native is None:
            self.native = await self.client.structured_output()
        if not self.messages:
            self._add(Message.user(self.text), consistent=True)
            if self.journal is not None:
                output = None if self.output is None else self.output.name
                await self.journal.write(TurnOpened(text=self.text, output=output))
        # a resumed turn may stop at a reply whose tool calls have no results yet
        # (a final reply is stored with the turn, never journalled alone)
        calls = self.open_calls
        while True:
            if calls:
                done = await self._step(calls)
                if done is not None:
                    return done
            if self.steps >= settings.max_steps:
                raise MaxStepsExceeded(
                    f"{settings.name}: the model still called tools after"
                    f" max_steps={settings.max_steps} LLM calls"
                )
            self.steps += 1
            if self.observer.publish is not None:
                await self.observer.status(EngineState.CALLING_MODEL, self.steps)
            request = build_request(
                settings,
                self.conversation,
                self.messages,
                stream=self.observer.streaming,
                output=self.output,
                native=bool(self.native),
            )
            if self.observer.streaming:
                self._final_indexes = set()
                response = await self.client.stream(request, self._forward)
            else:  # awaited here: no frame between the turn and the provider
                response = await self.client.complete(request)
            self.replies += 1
            self.usage += response.usage
            calls = response.tool_calls
            # a paused reply goes back as it is: the model continues it
            paused = response.finish_reason is FinishReason.PAUSED
            self._add(response.message, consistent=not calls)
            if (calls or paused) and self.journal is not None:
                await self.journal.write(
                    StepReplied(message=response.message, usage=response.usage)
                )
            if settings.usage_limits is not None:
                settings.usage_limits.check(self.usage)
            if not calls and not paused:
                done = await self._answer(response.message)
                if done is not None:
                    return done

    async def _answer(self, reply: Message) -> ChatResult | None:
        """The result a reply without tool calls gives, or None after a retry."""
        if self.output is None:
            return self._result(reply.text)
        try:
            value = self.output.parse_text(reply.text)
        except Invalid as error:
            self._retry(error)
            prompt = self.output.retry_prompt(error)
            if not self.native:
                prompt += f" Give it by calling the {FINAL_RESULT} tool."
            self._add(Message.user(prompt), consistent=True)
            return None
        await self.observer.send(OutputReady(output=value))
        return self._result(reply.text, output=value)

    def _retry(self, error: Invalid) -> None:
        """Count a reply that did not validate; raise once retries are spent."""
        assert self.output is not None
        self.retries += 1
        allowed = self.settings.output_retries
        if self.retries > allowed:
            raise OutputValidationError(
                f"{self.settings.name}: the reply did not match {self.output.name}"
                f" after {allowed} retries: {error}",
                problems=error.problems,
            )

    def _final_index(self, calls: Sequence[ToolCallPart]) -> int | None:
        if self.output is None or self.native:
            return None
        for index, call in enumerate(calls):
            if call.name == FINAL_RESULT:
                return index
        return None

    async def _step(self, calls: Sequence[ToolCallPart]) -> ChatResult | None:
        """Handle a reply's calls; a result when the turn ends or stops here."""
        final = self._final_index(calls)
        if final is not None and final not in self.finished:
            assert self.output is not None
            call = calls[final]
            try:
                value = self.output.parse_call(call)
            except Invalid as error:
                self._retry(error)
                await self._record(final, call, self.output.rejected(call, error))
            else:
                self._close(
                    [
                        accepted(c) if i == final else skipped(c)
                        for i, c in enumerate(calls)
                    ]
                )
                await self.observer.send(OutputReady(output=value))
                return self._result(dump_arguments(call.arguments), output=value)
        if self.observer.publish is not None:
            await self.observer.status(EngineState.RUNNING_TOOLS, self.steps)
        results, awaiting = await self._run_tools(calls, final)
        if awaiting:
            if self.journal is not None:
                await self.journal.write(AwaitingApproval(indices=tuple(awaiting)))
            pending = tuple(calls[i] for i in awaiting)
            return self._result(self.messages[-1].text, pending=pending)
        self._close(results)
        if self.settings.usage_limits is not None:
            self.settings.usage_limits.check(self.usage)
        return None

    def _close(self, results: Sequence[ToolResultPart]) -> None:
        """Append a step's results (one tool message per call) and end the step."""
        for result in results:
            self.messages.append(Message(role=Role.TOOL, parts=(result,)))
        self.consistent = len(self.messages)
        self.started, self.finished, self.decisions = set(), {}, {}

    async def _forward(self, event: StreamEvent) -> None:
        """Send a stream event on; a final-result call's arguments go as text.

        Provider-specific parts (server-tool blocks) stay in the reply only."""
        if isinstance(event, ProviderDelta):
            return
        if (
            isinstance(event, ToolCallDelta)
            and self.output is not None
            and not self.native
        ):
            if event.name == FINAL_RESULT:
                self._final_indexes.add(event.index)
            if event.index in self._final_indexes:
                if event.arguments:
                    await self.observer.send(TextDelta(text=event.arguments))
                return
        await self.observer.send(event)

    async def _run_tools(
        self, calls: Sequence[ToolCallPart], final: int | None
    ) -> tuple[list[ToolResultPart], list[int]]:
        """Run one step's calls concurrently: their results in the order of the
        calls, and the indices of the calls that wait for approval."""
        results: list[ToolResultPart | None] = [None] * len(calls)
        awaiting: list[int] = []
        runnable: list[int] = []
        for index, call in enumerate(calls):
            done = self.finished.get(index)
            if done is not None:
                results[index] = done
            elif final is not None and call.name == FINAL_RESULT:
                results[index] = await self._record(index, call, _second_final(call))
            elif index in self.decisions and self.decisions[index] is not None:
                reason = str(self.decisions[index])
                results[index] = await self._record(index, call, _denied(call, reason))
            elif (
                index not in self.decisions
                and index not in self.started
                and self._tool_flag(call.name, "requires_approval")
            ):
                awaiting.append(index)
            else:
                runnable.append(index)
        if len(runnable) == 1:  # a single call runs inline: no nursery to open
            index = runnable[0]
            results[index] = await self._run_one(index, calls[index])
            return [r for r in results if r is not None], awaiting
        errors: list[Exception] = []

        async def run_one(index: int, call: ToolCallPart) -> None:
            try:
                results[index] = await self._run_one(index, call)
            except Exception as exc:
                errors.append(exc)
                nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            for index in runnable:
                call = calls[index]
                nursery.start_soon(run_one, index, call, name=f"tool {call.name}")
        if errors:
            raise errors[0]
        return [r for r in results if r is not None], awaiting

    async def _record(
        self, index: int, call: ToolCallPart, result: ToolResultPart
    ) -> ToolResultPart:
        """Keep a call's result (in the journal too) and tell the stream."""
        self.finished[index] = result
        if self.journal is not None:
            await self.journal.write(ToolFinished(index=index, result=result))
        if self.observer.stream is not None:
            await self.observer.send(ToolExecuted(call=call, result=result))
        return result

    async def _run_one(self, index: int, call: ToolCallPart) -> ToolResultPart:
        if index in self.started and not self._tool_flag(call.name, "idempotent"):
            result = _unknown(call)
        else:
            self.started.add(index)
            if self.journal is not None:
                await self.journal.write(ToolStarted(index=index))
            if self.observer.streaming:  # progress reports go to the stream
                token = progress_listener.set(self._progress_of(call))
                try:
                    result = await self.tools.execute(call)
                finally:
                    progress_listener.reset(token)
            else:
                result = await self.tools.execute(call)
            if result.call_id != call.id or result.name != call.name:
                # Gemini matches results by name: make sure it is there
                result = attrs.evolve(result, call_id=call.id, name=call.name)
            if result.usage is not None:  # an engine run as a tool, say
                self.usage += result.usage
        return await self._record(index, call, result)

    def _progress_of(
        self, call: ToolCallPart
    ) -> Callable[[MCPProgress], Awaitable[None]]:
        async def heard(progress: MCPProgress) -> None:
            await self.observer.send(
                ToolProgress(
                    call=call,
                    progress=progress.progress,
                    total=progress.total,
                    message=progress.message,
                )
            )

        return heard

    def _tool_flag(self, name: str, flag: str) -> bool:
        get = getattr(self.tools, "get", None)
        found = get(name) if callable(get) else None
        return getattr(found, flag, False) is True


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


def _denied(call: ToolCallPart, reason: str) -> ToolResultPart:
    return ToolResultPart(
        call_id=call.id,
        name=call.name,
        is_error=True,
        content=f"The user denied this call of {call.name!r}: {reason}",
    )


def _second_final(call: ToolCallPart) -> ToolResultPart:
    return ToolResultPart(
        call_id=call.id,
        name=call.name,
        is_error=True,
        content=f"Only the first {FINAL_RESULT} call of a reply is read.",
    )
