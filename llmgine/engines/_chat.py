"""``ChatEngine``: the tool-calling chat loop, as an actor.

One turn: the user's message goes to the model with the conversation so far;
the tool calls of each reply run concurrently and their results go back as one
tool message per call, in the order of the calls; this repeats until a reply
without tool calls. A turn's messages are appended to the conversation only
when the turn ends (see :meth:`ChatEngine.handle` for what a failed turn keeps).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import trio

from .._exceptions import (
    AskTimeout,
    ConfigurationError,
    EngineError,
    LLMgineError,
    MaxStepsExceeded,
    OutputValidationError,
    UsageLimitExceeded,
)
from ..actors import ActorRef, Failure, RecordKind, traced
from ..bus import Event
from ..llm import LLMRequest, Message, ToolCallPart
from ._client import model_client
from ._conversation import Conversation
from ._engine import Engine, EventPublisher, TurnFinished, TurnStarted
from ._journal import Journal, TurnState, journal_store
from ._messages import (
    AbandonTurn,
    ApproveTools,
    ChatResult,
    ClearConversation,
    ResumeTurn,
    UsageLimits,
    UserInput,
)
from ._output import FINAL_RESULT, OutputSpec, output_spec
from ._settings import (
    ProviderLike,
    ToolsLike,
    TurnObserver,
    TurnSettings,
    build_request,
    check_positive,
    check_retries,
    executor,
)
from ._turn import Turn

__all__ = ["ChatEngine"]


class ChatEngine(Engine):
    """A chat with a model that may call tools, one turn per :class:`UserInput`.

    ``provider`` is a provider object (anything with ``complete``/``stream``)
    or the ref of a :class:`~llmgine.llm.ProviderActor`. ``tools`` is a
    ``ToolRegistry``, a ``ToolActorRef``, or a list of tools. A turn may make
    at most ``max_steps`` LLM calls and stay within ``usage_limits``;
    ``turn_timeout`` (seconds) cancels a turn that takes longer.

    ``output_type`` (an attrs class, a dataclass, a ``TypedDict`` or a plain
    type such as ``int`` or ``list[str]``) makes every turn answer a typed
    value in :attr:`ChatResult.output`: the model is given its JSON Schema
    (natively where the provider has structured output, as a final-result
    tool otherwise); a reply that does not validate goes back to the model
    with the problems, at most ``output_retries`` times, after which the ask
    raises :class:`~llmgine.OutputValidationError`. ``UserInput(text,
    output_type=T)`` sets it for one turn.

    A call of a tool declared ``@tool(requires_approval=True)`` stops the
    turn before it runs: the answer's :attr:`ChatResult.pending_approvals`
    lists such calls, and :class:`ApproveTools` decides them and continues.

    ``durable=True`` (the conversation needs a store that keeps journals, such
    as :class:`SQLiteConversationStore`) journals each turn as it goes: the
    user's input, each reply with tool calls, each tool call as it starts and
    as it finishes, the calls waiting for approval. A turn that did not finish
    (a crash, an error, a cancellation, a pending approval) stays unfinished:
    :class:`ResumeTurn` continues it without repeating what finished,
    :class:`AbandonTurn` drops it, and a :class:`UserInput` meanwhile is
    refused with :class:`~llmgine.EngineError`.

    ``name`` (``gen_ai.agent.name`` in traces) defaults to the name the engine
    is spawned under. Spawn it as any actor::

        engine = await system.spawn(
            ChatEngine, provider, model="gpt-4o-mini", tools=registry,
            system_prompt="Be brief.", output_type=Weather, name="chat")
        result = await engine.ask(UserInput(text="Weather in Paris?"), timeout=60)
        result.output  # a Weather
    """

    default_name = "chat"

    def __init__(
        self,
        provider: ProviderLike,
        *,
        model: str,
        tools: ToolsLike = None,
        system_prompt: str | None = None,
        max_steps: int = 8,
        usage_limits: UsageLimits | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        name: str | None = None,
        conversation: Conversation | None = None,
        bus: EventPublisher | None = None,
        turn_timeout: float | None = None,
        durable: bool = False,
        output_type: Any = None,
        output_retries: int = 2,
    ) -> None:
        super().__init__(name=name, conversation=conversation, bus=bus)
        if not isinstance(provider, ActorRef) and not callable(
            getattr(provider, "complete", None)
        ):
            raise ConfigurationError(
                "'provider' must be a provider (with complete()) or a ProviderActor's"
                f" ref (got {type(provider).__name__})"
            )
        if not isinstance(model, str) or not model:
            raise ConfigurationError(f"'model' must be a non-empty str (got {model!r})")
        if system_prompt is not None and not isinstance(system_prompt, str):
            raise ConfigurationError(
                f"'system_prompt' must be a str or None (got {system_prompt!r})"
            )
        check_positive(max_steps, "max_steps", integer=True, optional=False)
        if usage_limits is not None and not isinstance(usage_limits, UsageLimits):
            raise ConfigurationError(
                "'usage_limits' must be a UsageLimits or None"
                f" (got {type(usage_limits).__name__})"
            )
        check_positive(max_tokens, "max_tokens", integer=True, optional=True)
        check_positive(turn_timeout, "turn_timeout", integer=False, optional=True)
        if not isinstance(durable, bool):
            raise ConfigurationError(f"'durable' must be a bool (got {durable!r})")
        self.provider = provider
        """The provider object or ProviderActor ref the engine calls."""
        self.client = model_client(provider)
        self.tools = executor(tools)
        """What runs the model's tool calls."""
        tool_specs = tuple(self.tools.specs())
        self.settings = TurnSettings(
            name=self.name,
            model=model,
            system_prompt=system_prompt,
            tool_specs=tool_specs,
            max_steps=max_steps,
            usage_limits=usage_limits,
            temperature=temperature,
            max_tokens=max_tokens,
            output=None if output_type is None else self._output(output_type),
            output_retries=check_retries(output_retries),
        )
        """What every turn of this engine runs with."""
        self.turn_timeout = None if turn_timeout is None else float(turn_timeout)
        self.journal: Journal | None = None
        """Where a durable engine journals its turns (None unless ``durable``)."""
        if durable:
            store = journal_store(self.conversation.store)
            self.journal = Journal(store, self.conversation.id)
        self._unfinished: str | None = None
        self._unreadable: EngineError | None = None
        self._paused: Turn | None = None
        self._awaiting: tuple[ToolCallPart, ...] = ()

    @property
    def model(self) -> str:
        """The model each request names."""
        return self.settings.model

    @property
    def durable(self) -> bool:
        """True when turns are journalled and can be resumed after a crash."""
        return self.journal is not None

    @property
    def unfinished(self) -> str | None:
        """The user's input of the unfinished durable turn, or None."""
        return self._unfinished

    @property
    def pending_approvals(self) -> tuple[ToolCallPart, ...]:
        """The tool calls the current turn waits for approval of (or empty)."""
        return self._awaiting

    def _output(self, output_type: Any) -> OutputSpec:
        spec = output_spec(output_type)
        if any(t.name == FINAL_RESULT for t in self.tools.specs()):
            raise ConfigurationError(
                f"a tool is named {FINAL_RESULT!r}: with an output_type that name is"
                " the engine's own final-result tool"
            )
        return spec

    async def on_start(self) -> None:
        """Load the conversation, and a durable engine's unfinished turn if any."""
        await super().on_start()
        if self.settings.name != self.name:  # named after the actor it runs as
            self.settings = attrs.evolve(self.settings, name=self.name)
        if self.journal is None:
            return
        self._unreadable = None
        try:
            state = await self.journal.load()
        except EngineError as exc:
            self._unreadable = exc
            self._unfinished = "(unreadable)"
            return
        self._unfinished = None if state is None else state.text
        self._awaiting = () if state is None else _awaiting(state)

    def __repr__(self) -> str:
        return f"<ChatEngine {self.name} model={self.model!r}>"

    def request(self, pending: Sequence[Message], *, stream: bool = False) -> LLMRequest:
        """The request for the next step of a turn that has ``pending`` so far."""
        return build_request(self.settings, self.conversation, pending, stream=stream)

    def _new_turn(
        self,
        stream: trio.abc.SendChannel[Any] | None,
        *,
        text: str | None = None,
        resume: TurnState | None = None,
        output: OutputSpec | None = None,
    ) -> Turn:
        observer = TurnObserver(
            name=self.name,
            conversation_id=self.conversation.id,
            publish=None if self.bus is None else self.publish,
            stream=stream,
        )
        return Turn(
            self.settings,
            observer,
            self.client,
            self.tools,
            self.conversation,
            text=text,
            resume=resume,
            journal=self.journal,
            output=output if output is not None else self.settings.output,
        )

    async def handle(self, message: Any) -> Any:
        """Run a turn for a :class:`UserInput`; continue one for
        :class:`ApproveTools` and :class:`ResumeTurn`; drop one for
        :class:`AbandonTurn`.

        Answers a :class:`ChatResult` after appending the turn to the
        conversation (a turn that stops for approval is appended when it
        ends). A failed turn is answered as a
        :class:`~llmgine.actors.Failure` (the engine is not restarted):

        - ``MaxStepsExceeded``, ``UsageLimitExceeded`` and
          ``OutputValidationError`` keep what happened, up to the last
          consistent point: every kept tool call has its result (a reply
          whose tool calls were not run is not kept);
        - provider, circuit-breaker, timeout and runtime errors roll the turn
          back: the conversation is as it was, and the same input can be sent
          again;
        - cancellation (the actor halted, ``turn_timeout``, the stream's reader
          gone, the asker gave up) rolls back too: a turn is appended whole or
          not at all, so sending the same input again makes one turn.

        With ``durable=True`` nothing of an unfinished turn is in the
        conversation either, but its journal stays (whatever stopped it): the
        next :class:`UserInput` is refused until :class:`ResumeTurn` or
        :class:`AbandonTurn`. Any other exception is a bug and restarts the
        engine.
        """
        match message:
            case UserInput():
                refused: LLMgineError | None = self._refusal()
                if refused is None and message.output_type is not None:
                    try:
                        output: OutputSpec | None = self._output(message.output_type)
                    except ConfigurationError as exc:
                        refused = exc
                else:
                    output = None
                if refused is not None:
                    if message.stream_to is not None:
                        await _close(message.stream_to)
                    return Failure(refused)
                turn = self._new_turn(message.stream_to, text=message.text, output=output)
                return await self._turn(turn)
            case ApproveTools():
                return await self._approve(message)
            case ResumeTurn():
                return await self._resume(message)
            case AbandonTurn():
                self._paused = None
                self._awaiting = ()
                if self.journal is not None and self._unfinished is not None:
                    await self.journal.drop()
                    self._unfinished = None
                    self._unreadable = None
                return None
        return await super().handle(message)

    def _refusal(self) -> EngineError | None:
        """Why a new turn cannot start now (an unfinished one), or None."""
        if self._awaiting:
            calls = ", ".join(f"{c.name} ({c.id})" for c in self._awaiting)
            return EngineError(
                f"{self.name}: the turn in progress waits for approval of {calls};"
                " ask ApproveTools(approve=[...], deny={...}) to continue it or"
                " AbandonTurn() to drop it"
            )
        if self._unfinished is not None:
            return EngineError(
                f"{self.name}: conversation {self.conversation.id} has an"
                f" unfinished turn ({self._unfinished!r}); ask ResumeTurn()"
                " to continue it or AbandonTurn() to drop it"
            )
        return None

    async def receive(self, message: Any) -> Any:
        """Answer :class:`ClearConversation` (which also drops an unfinished turn)."""
        answer = await super().receive(message)
        if isinstance(message, ClearConversation) and not isinstance(answer, Failure):
            self._unfinished = None
            self._unreadable = None
            self._paused = None
            self._awaiting = ()
        return answer

    async def _stopped_turn(self, output_type: Any, asked: str) -> Turn | EngineError:
        """The turn that waits for approval (rebuilt from the journal if need be).

        ``output_type`` is what the message (``asked``) gave: a rebuilt turn
        takes it, else the engine's own; either must bear the name its journal
        kept.
        """
        try:
            output = (
                self.settings.output if output_type is None else self._output(output_type)
            )
        except ConfigurationError as exc:
            return EngineError(f"{self.name}: {exc}")
        if self._paused is not None:
            held = self._paused.output
            if output_type is not None and _name(output) != _name(held):
                return _output_mismatch(self.name, _name(held), _name(output), asked)
            return self._paused
        if self.journal is None or self._unfinished is None:
            return EngineError(f"{self.name}: there is no unfinished turn")
        if self._unreadable is not None:
            return EngineError(
                f"{self.name}: the unfinished turn cannot be resumed"
                f" ({self._unreadable}); AbandonTurn() drops it"
            )
        state = await self.journal.load()
        if state is None:  # another engine on the same store finished it
            self._unfinished = None
            self._awaiting = ()
            return EngineError(f"{self.name}: there is no unfinished turn")
        if state.output_known and state.output != _name(output):
            return _output_mismatch(self.name, state.output, _name(output), asked)
        return self._new_turn(None, resume=state, output=output)

    async def _approve(self, message: ApproveTools) -> ChatResult | Failure:
        if not self._awaiting:
            if message.stream_to is not None:
                await _close(message.stream_to)
            return Failure(EngineError(f"{self.name}: no tool call waits for approval"))
        waiting = {call.id for call in self._awaiting}
        decided = [*message.approve, *message.deny]
        problem = None
        unknown = [i for i in decided if i not in waiting]
        twice = set(message.approve) & set(message.deny)
        missing = [i for i in sorted(waiting) if i not in decided]
        if unknown:
            problem = f"no call waits for approval with id {', '.join(unknown)}"
        elif twice:
            problem = f"approved and denied at once: {', '.join(sorted(twice))}"
        elif missing:
            problem = f"decide every pending call; undecided: {', '.join(missing)}"
        turn = (
            await self._stopped_turn(message.output_type, "ApproveTools")
            if problem is None
            else None
        )
        if isinstance(turn, EngineError) or turn is None:
            if message.stream_to is not None:
                await _close(message.stream_to)
            error = turn if turn is not None else EngineError(f"{self.name}: {problem}")
            return Failure(error)
        turn.observer.stream = message.stream_to
        turn.decide(message.approve, message.deny)
        return await self._turn(turn)

    async def _resume(self, message: ResumeTurn) -> ChatResult | Failure:
        turn = await self._stopped_turn(message.output_type, "ResumeTurn")
        if isinstance(turn, EngineError):
            if message.stream_to is not None:
                await _close(message.stream_to)
            return Failure(turn)
        turn.observer.stream = message.stream_to
        return await self._turn(turn)

    async def _turn(self, turn: Turn) -> ChatResult | Failure:
        if turn.journal is not None:
            self._unfinished = turn.text
        self._paused = None
        self._awaiting = ()
        try:
            outcome = await self._attempt(turn)
        finally:
            if turn.observer.stream is not None:
                await _close(turn.observer.stream)
        if isinstance(outcome, ChatResult) and outcome.pending_approvals:
            self._paused = turn
            self._awaiting = outcome.pending_approvals
        if self.bus is not None:
            await self.publish(self._finished(turn, outcome))
        return Failure(outcome) if isinstance(outcome, Exception) else outcome

    async def _attempt(self, turn: Turn) -> ChatResult | Exception:
        """The turn's result, or the error to answer with (the turn then kept or
        rolled back as :meth:`handle` says)."""
        name = self.name
        if self.bus is not None:
            await self.publish(
                TurnStarted(
                    engine=name, conversation_id=self.conversation.id, text=turn.text
                )
            )
        try:
            with traced(
                RecordKind.ENGINE_RUN,
                f"invoke_agent {name}",
                actor=None if self._context is None else self._context.path,
            ) as span:
                if span.recording:
                    span.update(self._span_attributes())
                try:
                    if self.turn_timeout is None:
                        result = await turn.run()
                    else:
                        result = await self._run_within(turn, self.turn_timeout)
                finally:
                    if span.recording:
                        span.update(_ended(turn))
        except (MaxStepsExceeded, UsageLimitExceeded, OutputValidationError) as exc:
            return await self._commit(turn, turn.kept) or exc
        except LLMgineError as exc:
            return exc
        if result.pending_approvals:
            return result  # the turn goes on after ApproveTools: nothing to store yet
        return await self._commit(turn, turn.messages) or result

    async def _run_within(self, turn: Turn, timeout: float) -> ChatResult:
        with trio.move_on_after(timeout):
            return await turn.run()
        what = (
            "is unfinished: ResumeTurn() continues it, AbandonTurn() drops it"
            if turn.journal is not None
            else "was rolled back"
        )
        raise AskTimeout(
            f"the turn of {self.name} did not finish within {timeout:g}s and {what}"
        )

    async def _commit(self, turn: Turn, messages: Sequence[Any]) -> Exception | None:
        try:
            if turn.journal is None:
                await self.conversation.append(messages)
            else:
                await self.conversation.end_turn(messages)
                self._unfinished = None
        except Exception as exc:  # the store's error: the engine itself is fine
            return exc
        return None

    def _finished(self, turn: Turn, outcome: ChatResult | Exception) -> Event:
        return TurnFinished(
            engine=self.name,
            conversation_id=self.conversation.id,
            steps=turn.steps,
            usage=turn.usage,
            text=outcome.text if isinstance(outcome, ChatResult) else None,
            error=_describe(outcome) if isinstance(outcome, Exception) else None,
        )

    def _span_attributes(self) -> dict[str, object]:
        attributes: dict[str, object] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": self.name,
            "gen_ai.request.model": self.model,
            "gen_ai.conversation.id": self.conversation.id,
            "llmgine.engine.max_steps": self.settings.max_steps,
        }
        provider_name = self.client.name
        if provider_name:
            attributes["gen_ai.provider.name"] = provider_name
        return attributes


def _name(output: OutputSpec | None) -> str | None:
    return None if output is None else output.name


def _output_mismatch(
    engine: str, kept: str | None, given: str | None, asked: str
) -> EngineError:
    def what(name: str | None) -> str:
        return "no output type" if name is None else f"output type {name}"

    return EngineError(
        f"{engine}: the unfinished turn was opened with {what(kept)}, not"
        f" {what(given)}; continue it with {asked}(output_type=...) of that type"
        " (or drop it with AbandonTurn())"
    )


def _ended(turn: Turn) -> dict[str, object]:
    """What an ``invoke_agent`` span learns when the turn ends."""
    ended: dict[str, object] = {"llmgine.engine.steps": turn.steps}
    if turn.replies:  # the usage is known once a reply came
        ended["gen_ai.usage.input_tokens"] = turn.usage.input_tokens
        ended["gen_ai.usage.output_tokens"] = turn.usage.output_tokens
    return ended


def _awaiting(state: TurnState) -> tuple[ToolCallPart, ...]:
    calls = state.open_calls()
    return tuple(calls[i] for i in sorted(state.awaiting))


def _describe(error: BaseException) -> str:
    text = str(error)
    name = type(error).__name__
    return f"{name}: {text}" if text else name


async def _close(channel: trio.abc.SendChannel[Any]) -> None:
    if isinstance(channel, trio.MemorySendChannel):
        channel.close()  # no checkpoint: safe while cancelled or failing
    else:
        await channel.aclose()
