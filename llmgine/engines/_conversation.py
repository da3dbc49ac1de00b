"""Conversation history, the context-window policy, and turn boundaries.

A *turn* is a user's message and everything that answered it: the model's
replies, its tool calls and their results. The window trims whole turns, oldest
first, so a tool call is never sent without its results (providers reject that)
and the first message sent is always the user's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .._exceptions import ConfigurationError
from ..llm import (
    Message,
    ReasoningPart,
    Role,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from ..llm._wire import dump_arguments

if TYPE_CHECKING:
    from ._store import ConversationStore

__all__ = [
    "ContextPolicy",
    "ContextWindow",
    "Conversation",
    "estimate_tokens",
    "split_turns",
]

#: Tokens a message costs beyond its content (role, separators), roughly.
_MESSAGE_OVERHEAD = 4
#: What an image or a document counts for: its real cost depends on the vendor.
_BLOB_TOKENS = 256


def _chars(text: str) -> int:
    # ~4 characters per token for English text with the common BPE tokenizers
    return (len(text) + 3) // 4


def estimate_tokens(message: Message) -> int:
    """A rough token count of ``message`` (about four characters a token).

    Good enough to keep a conversation inside a context window with a margin;
    pass your tokenizer as ``ContextWindow(count_tokens=...)`` for exact counts.
    """
    total = _MESSAGE_OVERHEAD
    for part in message.parts:
        match part:
            case TextPart(text=text) | ReasoningPart(text=text):
                total += _chars(text)
            case ToolCallPart(name=name, arguments=arguments):
                total += _chars(name) + _chars(dump_arguments(arguments))
            case ToolResultPart(content=content):
                total += _chars(content)
            case _:  # a BlobPart: what it costs depends on the vendor
                total += _BLOB_TOKENS
    return total


def _opens_turn(message: Message) -> bool:
    return message.role is Role.USER and not any(
        isinstance(p, ToolResultPart) for p in message.parts
    )


def split_turns(messages: Iterable[Message]) -> list[tuple[Message, ...]]:
    """``messages`` cut into turns: each opens with a user's message.

    Messages before the first user message (a greeting, say) form a turn of
    their own.
    """
    turns: list[list[Message]] = []
    for message in messages:
        if not turns or _opens_turn(message):
            turns.append([message])
        else:
            turns[-1].append(message)
    return [tuple(turn) for turn in turns]


class ContextPolicy(Protocol):
    """Chooses which messages of a conversation are sent to the model."""

    def apply(
        self, messages: Sequence[Message], *, system: str | None = None
    ) -> tuple[Message, ...]:
        """The messages to send: a suffix of ``messages`` made of whole turns."""


def _budget(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(
            f"{attribute.name!r} must be a positive int or None (got {value!r})"
        )


@attrs.frozen(kw_only=True)
class ContextWindow:
    """Keep the most recent whole turns within a message and/or token budget.

    The system prompt is always sent (its tokens count toward ``max_tokens``);
    the oldest turns go first, whole; the latest turn (the one being answered)
    is always kept, even alone over budget: the provider then says
    :class:`~llmgine.ContextWindowError` rather than the engine sending a
    question without its context.
    """

    max_messages: int | None = attrs.field(default=None, validator=_budget)
    max_tokens: int | None = attrs.field(default=None, validator=_budget)
    count_tokens: Callable[[Message], int] = attrs.field(
        default=estimate_tokens, eq=False
    )

    def apply(
        self, messages: Sequence[Message], *, system: str | None = None
    ) -> tuple[Message, ...]:
        """The most recent whole turns of ``messages`` that fit the budgets."""
        turns = split_turns(messages)
        if not turns:
            return ()
        count = self.count_tokens
        tokens = count(Message.system(system)) if system else 0
        size = 0
        kept = 0
        for turn in reversed(turns):
            turn_tokens = sum(count(m) for m in turn) if self.max_tokens else 0
            over = (
                self.max_messages is not None and size + len(turn) > self.max_messages
            ) or (self.max_tokens is not None and tokens + turn_tokens > self.max_tokens)
            if over and kept:
                break
            size += len(turn)
            tokens += turn_tokens
            kept += 1
        return tuple(m for turn in turns[len(turns) - kept :] for m in turn)


def _new_id() -> str:
    return os.urandom(16).hex()


class Conversation:
    """The messages of one conversation, what of them is sent, and where they are kept.

    ``window`` (a :class:`ContextWindow` or any :class:`ContextPolicy`) picks
    what each request sends; the conversation itself keeps every message.
    With a ``store`` the messages are saved as turns are appended, and
    :meth:`load` reads them back, so a new engine (or a new process) given the
    same ``id`` and store resumes the conversation. Messages are appended a
    whole turn at a time, to the store first: a turn is in both or in neither.
    """

    def __init__(
        self,
        id: str | None = None,
        *,
        messages: Iterable[Message] = (),
        window: ContextPolicy | None = None,
        store: ConversationStore | None = None,
    ) -> None:
        if id is not None and (not isinstance(id, str) or not id):
            raise ConfigurationError(f"'id' must be a non-empty str (got {id!r})")
        initial = list(messages)
        if store is not None and initial:
            raise ConfigurationError(
                "a Conversation with a store reads its messages from the store:"
                " pass 'messages' or 'store', not both"
            )
        self._id = id if id is not None else _new_id()
        self._messages = initial
        self._window = window
        self._store = store
        self._loaded = store is None

    def __repr__(self) -> str:
        return f"<Conversation {self._id} ({len(self._messages)} messages)>"

    def __len__(self) -> int:
        return len(self._messages)

    @property
    def id(self) -> str:
        """The conversation id (a store keys its messages by it)."""
        return self._id

    @property
    def window(self) -> ContextPolicy | None:
        """The policy that picks what is sent (None: everything)."""
        return self._window

    @property
    def store(self) -> ConversationStore | None:
        """Where the messages are kept, if anywhere."""
        return self._store

    @property
    def loaded(self) -> bool:
        """True once the stored messages were read (always, without a store)."""
        return self._loaded

    @property
    def messages(self) -> tuple[Message, ...]:
        """Every message, oldest first."""
        return tuple(self._messages)

    def turns(self) -> list[tuple[Message, ...]]:
        """The messages cut into turns (see :func:`split_turns`)."""
        return split_turns(self._messages)

    def request_messages(
        self, pending: Sequence[Message] = (), *, system: str | None = None
    ) -> tuple[Message, ...]:
        """The messages a request sends for the turn in progress: the history,
        then ``pending``.

        The window (if any) trims the oldest turns; ``pending`` (the turn being
        answered, opened by its user's message) is always sent whole.
        """
        messages = [*self._messages, *pending]
        if self._window is None:
            return tuple(messages)
        return self._window.apply(messages, system=system)

    async def load(self) -> None:
        """Read the stored messages, replacing those held (nothing without a store)."""
        if self._store is not None:
            self._messages = list(await self._store.load(self._id))
        self._loaded = True

    async def append(self, messages: Sequence[Message]) -> None:
        """Add a turn's messages: to the store, then here (all or none)."""
        if not messages:
            return
        if self._store is not None:
            await self._store.append(self._id, len(self._messages), messages)
        self._messages.extend(messages)

    async def end_turn(self, messages: Sequence[Message]) -> None:
        """Add a durable turn's messages and empty its journal, in one transaction.

        The store must keep journals (see ``ChatEngine(durable=True)``).
        """
        end_turn = getattr(self._store, "end_turn", None)
        if end_turn is None:
            raise ConfigurationError("this conversation's store keeps no turn journal")
        await end_turn(self._id, len(self._messages), messages)
        self._messages.extend(messages)

    async def clear(self) -> None:
        """Forget every message (and delete them from the store)."""
        if self._store is not None:
            await self._store.clear(self._id)
        self._messages.clear()
