"""What engines are sent and what they answer: inputs, results and usage limits."""

from __future__ import annotations

from typing import Any

import attrs
import trio

from .._exceptions import ConfigurationError, UsageLimitExceeded
from ..llm import Message, Usage

__all__ = [
    "AbandonTurn",
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
    """

    text: str = attrs.field(validator=_text)
    stream_to: trio.abc.SendChannel[Any] | None = attrs.field(
        default=None, kw_only=True, validator=_channel, eq=False, repr=False
    )


@attrs.frozen
class ResumeTurn:
    """Continue the unfinished turn of a durable chat engine (after a crash).

    Answered with the turn's :class:`ChatResult` (its ``steps``, ``usage`` and
    ``messages`` count the whole turn, before the crash too). Finished LLM
    calls and tool calls are not repeated; see ``ChatEngine(durable=True)``.
    """


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
    turn made, ``usage`` their summed token counts, and ``messages`` the
    messages the turn added to the conversation (the user's message first).
    """

    text: str
    steps: int
    usage: Usage
    messages: tuple[Message, ...]


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

    The turn's usage (summed over its LLM calls) is checked after every call;
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
