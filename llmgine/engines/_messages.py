"""What engines are sent and what they answer: inputs, results and usage limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import trio

from .._exceptions import ConfigurationError, UsageLimitExceeded
from ..llm import Message, ToolCallPart, Usage

__all__ = [
    "AbandonTurn",
    "ApproveTools",
    "ChatResult",
    "ClearConversation",
    "GetHistory",
    "ResumeTurn",
    "UsageLimits",
    "UserInput",
]


def _text(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{attribute.name!r} must be a str (got {type(value).__name__})"
        )


def _channel(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, trio.abc.SendChannel):
        raise ConfigurationError(
            f"{attribute.name!r} must be a trio send channel or None"
            f" (got {type(value).__name__})"
        )


@attrs.frozen
class UserInput:
    """Run one turn of a chat engine with ``text`` as the user's message.

    ``UserInput("hi")`` and ``UserInput(text="hi")`` both work. With
    ``stream_to`` (the send end of a trio memory channel) the engine streams
    the turn's events there as they happen (text deltas, tool calls, tool
    results) and closes the channel when the turn ends, however it ends.
    ``output_type`` overrides the engine's ``output_type`` for this turn.
    """

    text: str = attrs.field(validator=_text)
    stream_to: trio.abc.SendChannel[Any] | None = attrs.field(
        default=None, kw_only=True, validator=_channel, eq=False, repr=False
    )
    output_type: Any = attrs.field(default=None, kw_only=True)


def _ids(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not all(isinstance(item, str) for item in value):  # type: ignore[attr-defined]
        raise ConfigurationError(f"{attribute.name!r} must hold call ids (str)")


def _reasons(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not all(
        isinstance(k, str) and isinstance(v, str)
        for k, v in value.items()  # type: ignore[attr-defined]
    ):
        raise ConfigurationError(
            f"{attribute.name!r} must map call ids (str) to reasons (str)"
        )


def _tuple(value: Any) -> tuple[Any, ...]:
    if isinstance(value, str):
        raise ConfigurationError("'approve' must be a list of call ids, not a str")
    return tuple(value)


def _dict(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"'deny' must map call ids to reasons (got {type(value).__name__})"
        )
    return dict(value)


@attrs.frozen(kw_only=True)
class ApproveTools:
    """Decide the tool calls a turn stopped for, and continue the turn.

    Answers the turn's :class:`ChatResult` (or its next stop for approval).
    Every call of :attr:`ChatResult.pending_approvals` must be decided:
    ``approve`` lists the ids of the calls to run, ``deny`` maps the ids of
    the calls to refuse to the reason the model is given in their error
    results. ``stream_to`` streams the rest of the turn, as for
    :class:`UserInput`. ``output_type`` is the turn's own output type when it
    was opened with one and the engine restarted since (see
    :class:`ResumeTurn`).
    """

    approve: tuple[str, ...] = attrs.field(default=(), converter=_tuple, validator=_ids)
    deny: Mapping[str, str] = attrs.field(
        factory=dict, converter=_dict, validator=_reasons
    )
    stream_to: trio.abc.SendChannel[Any] | None = attrs.field(
        default=None, validator=_channel, eq=False, repr=False
    )
    output_type: Any = None


@attrs.frozen(kw_only=True)
class ResumeTurn:
    """Continue the unfinished turn of a durable chat engine (after a crash).

    Answered with the turn's :class:`ChatResult` (its ``steps``, ``usage`` and
    ``messages`` count the whole turn, before the crash too). Finished LLM
    calls and tool calls are not repeated; see ``ChatEngine(durable=True)``.
    ``stream_to`` streams the rest of the turn, as for :class:`UserInput`.

    The journal keeps the name of the turn's output type, not the type: a
    turn opened with ``UserInput(output_type=T)`` is resumed with
    ``ResumeTurn(output_type=T)``; one of another name is refused.
    """

    output_type: Any = None
    stream_to: trio.abc.SendChannel[Any] | None = attrs.field(
        default=None, validator=_channel, eq=False, repr=False
    )


@attrs.frozen
class AbandonTurn:
    """Drop the unfinished turn of a durable chat engine (answered with None)."""


@attrs.frozen
class ClearConversation:
    """Forget the engine's conversation (and delete it from its store, if any)."""


@attrs.frozen
class GetHistory:
    """Ask an engine for its whole conversation: answered with a tuple of messages."""


@attrs.frozen(kw_only=True)
class ChatResult:
    """What a chat turn answers.

    ``text`` is the final reply's text, ``steps`` the number of LLM calls the
    turn made, ``usage`` their summed token counts (with what its tools spent
    on models, such as engines run as tools), and ``messages`` the messages
    the turn added to the conversation (the user's message first).

    ``output`` is the typed value of a turn with an ``output_type`` (None
    otherwise). ``pending_approvals`` lists the tool calls the turn stopped
    for (tools declared ``@tool(requires_approval=True)``): the turn is not
    over, and not yet in the conversation, until :class:`ApproveTools`
    decides them; ``messages`` are then the turn so far. It is an empty tuple
    for a finished turn.
    """

    text: str
    steps: int
    usage: Usage
    messages: tuple[Message, ...]
    output: Any = None
    pending_approvals: tuple[ToolCallPart, ...] = ()


def _limit(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(
            f"{attribute.name!r} must be a positive int or None (got {value!r})"
        )


@attrs.frozen(kw_only=True)
class UsageLimits:
    """Token budgets for one turn (``None``: no limit).

    The turn's usage (its LLM calls, and what its tools spent on models) is
    checked after every LLM call and after each step's tool calls;
    past a limit the turn stops with :class:`~llmgine.UsageLimitExceeded`.
    """

    max_input_tokens: int | None = attrs.field(default=None, validator=_limit)
    max_output_tokens: int | None = attrs.field(default=None, validator=_limit)
    max_total_tokens: int | None = attrs.field(default=None, validator=_limit)

    def exceeded(self, usage: Usage) -> str | None:
        """Which limit ``usage`` is past, described, or None when within all."""
        checks = (
            ("max_input_tokens", self.max_input_tokens, usage.input_tokens),
            ("max_output_tokens", self.max_output_tokens, usage.output_tokens),
            ("max_total_tokens", self.max_total_tokens, usage.total_tokens),
        )
        for name, limit, used in checks:
            if limit is not None and used > limit:
                return f"{name}={limit} exceeded: the turn used {used} tokens"
        return None

    def check(self, usage: Usage) -> None:
        """Raise :class:`~llmgine.UsageLimitExceeded` when ``usage`` is past a limit."""
        problem = self.exceeded(usage)
        if problem is not None:
            raise UsageLimitExceeded(problem)
