"""What a turn is given: its settings, and the observer it reports to.

A :class:`~llmgine.engines._turn.Turn` reads nothing of its engine: it gets a
frozen :class:`TurnSettings` (the model, the limits, the tools to offer), a
:class:`TurnObserver` (where status events and stream events go), a model
client (see :mod:`._client`) and a :class:`ToolExecutor`. The checks of a
``ChatEngine``'s options live here too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, TypeAlias

import attrs
import trio

from .._exceptions import ConfigurationError, EngineError
from ..actors import ActorRef
from ..bus import Event
from ..llm import LLMRequest, Message, Provider, ToolCallPart, ToolResultPart, ToolSpec
from ..tools import Tool, ToolLike, ToolRegistry
from ._conversation import Conversation
from ._engine import EngineState, EngineStatus
from ._messages import UsageLimits
from ._output import OutputSpec

__all__ = [
    "ProviderLike",
    "ToolExecutor",
    "ToolsLike",
    "TurnObserver",
    "TurnSettings",
    "build_request",
    "check_positive",
    "check_retries",
    "executor",
]


class ToolExecutor(Protocol):
    """What runs a model's tool calls: a ``ToolRegistry`` or a ``ToolActorRef``."""

    def specs(self) -> Sequence[ToolSpec]:
        """The tools to offer the model."""

    async def execute(self, call: ToolCallPart) -> ToolResultPart:
        """Run one call; the model's and the tool's mistakes come back as results."""


ProviderLike: TypeAlias = Provider | ActorRef
ToolsLike: TypeAlias = ToolExecutor | Iterable[Tool[..., Any] | ToolLike] | None


def executor(tools: object) -> ToolExecutor:
    """What runs the calls, from what ``ChatEngine(tools=...)`` was given."""
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


def check_positive(value: object, what: str, *, integer: bool, optional: bool) -> None:
    """Raise ``ConfigurationError`` unless ``value`` is positive (or an allowed None)."""
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


def check_retries(value: object) -> int:
    """``value`` if it is an int >= 0, else ``ConfigurationError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"'output_retries' must be an int >= 0 (got {value!r})")
    return value


@attrs.frozen(kw_only=True)
class TurnSettings:
    """An engine's settings for its turns (fixed when the engine is made)."""

    name: str
    model: str
    system_prompt: str | None = None
    tool_specs: tuple[ToolSpec, ...] = ()
    max_steps: int = 8
    usage_limits: UsageLimits | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    output: OutputSpec | None = None
    output_retries: int = 2


def build_request(
    settings: TurnSettings,
    conversation: Conversation,
    pending: Sequence[Message],
    *,
    stream: bool = False,
    output: OutputSpec | None = None,
    native: bool = False,
) -> LLMRequest:
    """The request for the next step of a turn that has ``pending`` so far.

    With ``output``, the schema goes as ``response_schema`` when the provider
    has native structured output (``native``), otherwise as the final-result
    tool, which the model is then required to call.
    """
    tools = settings.tool_specs
    schema = None
    choice = None
    if output is not None:
        if native:
            schema = output.schema
        else:
            tools = (*tools, output.tool_spec())
            choice = "required"
    return LLMRequest(
        model=settings.model,
        messages=conversation.request_messages(pending, system=settings.system_prompt),
        system=settings.system_prompt,
        tools=tools,
        tool_choice=choice,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        response_schema=schema,
        stream=stream,
    )


class TurnObserver:
    """Where a turn reports: status events on the engine's bus, events to its stream."""

    __slots__ = ("conversation_id", "name", "publish", "stream")

    def __init__(
        self,
        *,
        name: str,
        conversation_id: str,
        publish: Callable[[Event], Awaitable[None]] | None = None,
        stream: trio.abc.SendChannel[Any] | None = None,
    ) -> None:
        self.name = name
        self.conversation_id = conversation_id
        self.publish = publish
        self.stream = stream

    @property
    def streaming(self) -> bool:
        """True when the turn's events go to a reader."""
        return self.stream is not None

    async def status(self, state: EngineState, step: int) -> None:
        """Publish an :class:`EngineStatus` (nothing without a bus)."""
        if self.publish is not None:
            await self.publish(
                EngineStatus(
                    engine=self.name,
                    conversation_id=self.conversation_id,
                    state=state,
                    step=step,
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
                f"{self.name}: the stream's reader is gone;"
                " the turn was cancelled and rolled back"
            ) from exc
