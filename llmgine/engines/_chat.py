"""``ChatEngine``: the tool-calling chat loop, as an actor.

One turn: the user's message goes to the model with the conversation so far;
the tool calls of each reply run concurrently and their results go back as one
tool message per call, in the order of the calls; this repeats until a reply
without tool calls. A turn's messages are appended to the conversation only
when the turn ends (see :meth:`ChatEngine.handle` for what a failed turn keeps).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, TypeAlias

import trio

from .._exceptions import (
    AskTimeout,
    ConfigurationError,
    EngineError,
    LLMgineError,
    MaxStepsExceeded,
    UsageLimitExceeded,
)
from ..actors import ActorRef, Failure, RecordKind, traced
from ..bus import Event
from ..llm import LLMRequest, Provider, ToolCallPart, ToolResultPart, ToolSpec
from ..tools import Tool, ToolLike, ToolRegistry
from ._conversation import Conversation
from ._engine import Engine, EventPublisher, TurnFinished, TurnStarted
from ._journal import Journal, journal_store
from ._messages import (
    AbandonTurn,
    ChatResult,
    ClearConversation,
    ResumeTurn,
    UsageLimits,
    UserInput,
)
from ._turn import Turn

__all__ = ["ChatEngine", "ToolExecutor"]


class ToolExecutor(Protocol):
    """What runs a model's tool calls: a ``ToolRegistry`` or a ``ToolActorRef``."""

    def specs(self) -> Sequence[ToolSpec]:
        """The tools to offer the model."""

    async def execute(self, call: ToolCallPart) -> ToolResultPart:
        """Run one call; the model's and the tool's mistakes come back as results."""


ProviderLike: TypeAlias = Provider | ActorRef
ToolsLike: TypeAlias = ToolExecutor | Iterable[Tool[..., Any] | ToolLike] | None


def _tools(tools: object) -> ToolExecutor:
    if tools is None:
        return ToolRegistry()
    if callable(getattr(tools, "execute", None)) and callable(
        getattr(tools, "specs", None)
    ):
        return tools  # type: ignore[return-value]
    if isinstance(tools, Iterable) and not isinstance(tools, str | bytes):
        return ToolRegistry(tools)
    raise ConfigurationError(
        "'tools' must be a ToolRegistry, a ToolActorRef, a list of tools or None"
        f" (got {type(tools).__name__})"
    )


def _positive(value: object, what: str, *, integer: bool, optional: bool) -> None:
    if value is None and optional:
        return
    kind = "int" if integer else "number of seconds"
    if (
        isinstance(value, bool)
        or not isinstance(value, int if integer else int | float)
        or value <= 0
    ):
        alternative = " or None" if optional else ""
        raise ConfigurationError(
            f"{what!r} must be a positive {kind}{alternative} (got {value!r})"
        )


class ChatEngine(Engine):
    """A chat with a model that may call tools, one turn per :class:`UserInput`.

    ``provider`` is a provider object (anything with ``complete``/``stream``)
    or the ref of a :class:`~llmgine.llm.ProviderActor`. ``tools`` is a
    ``ToolRegistry``, a ``ToolActorRef``, or a list of tools. A turn may make
    at most ``max_steps`` LLM calls and stay within ``usage_limits``;
    ``turn_timeout`` (seconds) cancels a turn that takes longer.

    ``durable=True`` (the conversation needs a store that keeps journals, such
    as :class:`SQLiteConversationStore`) journals each turn as it goes: the
    user's input, each reply with tool calls, each tool call as it starts and
    as it finishes. A turn that did not finish (a crash, an error, a
    cancellation) stays unfinished: :class:`ResumeTurn` continues it without
    repeating what finished, :class:`AbandonTurn` drops it, and a
    :class:`UserInput` meanwhile is refused with :class:`~llmgine.EngineError`.
    Spawn it with ``functools.partial``::

        engine = await system.spawn(functools.partial(
            ChatEngine, provider=provider, model="gpt-4o-mini", tools=registry,
            system_prompt="Be brief.", max_steps=8), name="chat")
        result = await engine.ask(UserInput(text="Weather in Paris?"), timeout=60)
    """

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
        name: str = "chat",
        conversation: Conversation | None = None,
        bus: EventPublisher | None = None,
        turn_timeout: float | None = None,
        durable: bool = False,
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
        _positive(max_steps, "max_steps", integer=True, optional=False)
        if usage_limits is not None and not isinstance(usage_limits, UsageLimits):
            raise ConfigurationError(
                "'usage_limits' must be a UsageLimits or None"
                f" (got {type(usage_limits).__name__})"
            )
        _positive(max_tokens, "max_tokens", integer=True, optional=True)
        _positive(turn_timeout, "turn_timeout", integer=False, optional=True)
        self.provider = provider
        """The provider object or ProviderActor ref the engine calls."""
        self.model = model
        self.tools = _tools(tools)
        """What runs the model's tool calls."""
        self.tool_specs: tuple[ToolSpec, ...] = tuple(self.tools.specs())
        self.system_prompt = system_prompt
        self.max_steps = max_steps
        self.usage_limits = usage_limits
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.turn_timeout = None if turn_timeout is None else float(turn_timeout)
        if not isinstance(durable, bool):
            raise ConfigurationError(f"'durable' must be a bool (got {durable!r})")
        self.journal: Journal | None = None
        """Where a durable engine journals its turns (None unless ``durable``)."""
        if durable:
            store = journal_store(self.conversation.store)
            self.journal = Journal(store, self.conversation.id)
        self._unfinished: str | None = None
        self._unreadable: EngineError | None = None

    @property
    def durable(self) -> bool:
        """True when turns are journalled and can be resumed after a crash."""
        return self.journal is not None

    @property
    def unfinished(self) -> str | None:
        """The user's input of the unfinished durable turn, or None."""
        return self._unfinished

    async def on_start(self) -> None:
        """Load the conversation, and a durable engine's unfinished turn if any."""
        await super().on_start()
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

    def __repr__(self) -> str:
        return f"<ChatEngine {self.name} model={self.model!r}>"

    def request(self, pending: Sequence[Any], *, stream: bool = False) -> LLMRequest:
        """The request for the next step of a turn that has ``pending`` so far."""
        return LLMRequest(
            model=self.model,
            messages=self.conversation.context(pending, system=self.system_prompt),
            system=self.system_prompt,
            tools=self.tool_specs,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            stream=stream,
        )

    async def handle(self, message: Any) -> Any:
        """Run a turn for a :class:`UserInput`.

        Answers a :class:`ChatResult` after appending the turn to the
        conversation. A failed turn is answered as a
        :class:`~llmgine.actors.Failure` (the engine is not restarted):

        - ``MaxStepsExceeded`` and ``UsageLimitExceeded`` keep what happened,
          up to the last consistent point: every kept tool call has its result
          (a reply whose tool calls were not run is not kept);
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
                if self._unfinished is not None:
                    if message.stream_to is not None:
                        await _close(message.stream_to)
                    return Failure(
                        EngineError(
                            f"{self.name}: conversation {self.conversation.id} has an"
                            f" unfinished turn ({self._unfinished!r}); ask ResumeTurn()"
                            " to continue it or AbandonTurn() to drop it"
                        )
                    )
                return await self._turn(Turn(self, message, journal=self.journal))
            case ResumeTurn():
                return await self._resume()
            case AbandonTurn():
                if self.journal is not None and self._unfinished is not None:
                    await self.journal.drop()
                    self._unfinished = None
                    self._unreadable = None
                return None
        return await super().handle(message)

    async def receive(self, message: Any) -> Any:
        """Answer :class:`ClearConversation` (which also drops an unfinished turn)."""
        answer = await super().receive(message)
        if isinstance(message, ClearConversation) and not isinstance(answer, Failure):
            self._unfinished = None
            self._unreadable = None
        return answer

    async def _resume(self) -> ChatResult | Failure:
        if self.journal is None or self._unfinished is None:
            return Failure(EngineError(f"{self.name}: there is no unfinished turn"))
        if self._unreadable is not None:
            return Failure(
                EngineError(
                    f"{self.name}: the unfinished turn cannot be resumed"
                    f" ({self._unreadable}); AbandonTurn() drops it"
                )
            )
        state = await self.journal.load()
        if state is None:  # another engine on the same store finished it
            self._unfinished = None
            return Failure(EngineError(f"{self.name}: there is no unfinished turn"))
        return await self._turn(Turn(self, journal=self.journal, resume=state))

    async def _turn(self, turn: Turn) -> ChatResult | Failure:
        if turn.journal is not None:
            self._unfinished = turn.text
        try:
            outcome = await self._attempt(turn)
        finally:
            if turn.stream is not None:
                await _close(turn.stream)
        await self.publish(self._finished(turn, outcome))
        return Failure(outcome) if isinstance(outcome, Exception) else outcome

    async def _attempt(self, turn: Turn) -> ChatResult | Exception:
        """The turn's result, or the error to answer with (the turn then kept or
        rolled back as :meth:`handle` says)."""
        await self.publish(
            TurnStarted(
                engine=self.name, conversation_id=self.conversation.id, text=turn.text
            )
        )
        try:
            with traced(
                RecordKind.ENGINE_RUN,
                f"invoke_agent {self.name}",
                self._span_attributes(),
                actor=None if self._context is None else self._context.path,
            ) as span:
                try:
                    result = await self._run(turn)
                finally:
                    span.update(
                        {
                            "gen_ai.usage.input_tokens": turn.usage.input_tokens,
                            "gen_ai.usage.output_tokens": turn.usage.output_tokens,
                            "llmgine.engine.steps": turn.steps,
                        }
                    )
        except (MaxStepsExceeded, UsageLimitExceeded) as exc:
            return await self._commit(turn, turn.kept) or exc
        except LLMgineError as exc:
            return exc
        return await self._commit(turn, turn.messages) or result

    async def _run(self, turn: Turn) -> ChatResult:
        if self.turn_timeout is None:
            return await turn.run()
        with trio.move_on_after(self.turn_timeout):
            return await turn.run()
        what = (
            "is unfinished: ResumeTurn() continues it, AbandonTurn() drops it"
            if turn.journal is not None
            else "was rolled back"
        )
        raise AskTimeout(
            f"the turn of {self.name} did not finish within {self.turn_timeout:g}s"
            f" and {what}"
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
            "llmgine.engine.max_steps": self.max_steps,
        }
        provider_name = getattr(self.provider, "name", None)
        if isinstance(provider_name, str) and not isinstance(self.provider, ActorRef):
            attributes["gen_ai.provider.name"] = provider_name
        return attributes


def _describe(error: BaseException) -> str:
    text = str(error)
    name = type(error).__name__
    return f"{name}: {text}" if text else name


async def _close(channel: trio.abc.SendChannel[Any]) -> None:
    if isinstance(channel, trio.MemorySendChannel):
        channel.close()  # no checkpoint: safe while cancelled or failing
    else:
        await channel.aclose()
