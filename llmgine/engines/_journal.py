"""The journal of a durable turn: what finished, written as it finishes.

A durable :class:`~llmgine.engines.ChatEngine` writes one entry per event,
each in its own transaction of the conversation's store: the user's input when
the turn opens, the model's reply at the end of each step, and for each tool
call a *started* entry before it runs and a *finished* entry with its result.
A turn that stops for tool approval writes which calls wait: the journal then
holds the pending approval until the calls are decided.
The turn's end moves its messages into the conversation and empties the
journal in one transaction. Entries are JSON through the store's cattrs
converter: data, never code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol, TypeAlias

import attrs

from .._exceptions import ConfigurationError, EngineError
from ..llm import Message, Role, ToolCallPart, ToolResultPart, Usage
from ._store import make_converter

__all__ = [
    "AwaitingApproval",
    "Journal",
    "JournalStore",
    "StepReplied",
    "ToolFinished",
    "ToolStarted",
    "TurnOpened",
    "TurnState",
]


@attrs.frozen(kw_only=True)
class TurnOpened:
    """The user's input opened a turn.

    ``output`` names the turn's output type (None: plain text); ``known`` is
    False for a journal written before the name was kept.
    """

    text: str
    output: str | None = None
    known: bool = True


@attrs.frozen(kw_only=True)
class StepReplied:
    """The model replied (with tool calls): one finished LLM call."""

    message: Message
    usage: Usage


@attrs.frozen(kw_only=True)
class ToolStarted:
    """The tool call at ``index`` of the last reply is about to run."""

    index: int


@attrs.frozen(kw_only=True)
class ToolFinished:
    """The tool call at ``index`` of the last reply finished with ``result``."""

    index: int
    result: ToolResultPart


@attrs.frozen(kw_only=True)
class AwaitingApproval:
    """The tool calls at ``indices`` of the last reply wait for approval."""

    indices: tuple[int, ...]


Entry: TypeAlias = (
    TurnOpened | StepReplied | ToolStarted | ToolFinished | AwaitingApproval
)

_KINDS: dict[str, type[Any]] = {
    "opened": TurnOpened,
    "replied": StepReplied,
    "started": ToolStarted,
    "finished": ToolFinished,
    "awaiting": AwaitingApproval,
}
_NAMES = {cls: kind for kind, cls in _KINDS.items()}
_converter = make_converter()


def dump_entry(entry: Entry) -> str:
    """``entry`` as one line of JSON, tagged with its ``"kind"``."""
    data: dict[str, Any] = {"kind": _NAMES[type(entry)]}
    match entry:
        case TurnOpened(text=text, output=output):
            data["text"] = text
            data["output"] = output
        case StepReplied(message=message, usage=usage):
            data["message"] = _converter.unstructure(message, Message)
            data["usage"] = _converter.unstructure(usage, Usage)
        case ToolStarted(index=index):
            data["index"] = index
        case AwaitingApproval(indices=indices):
            data["indices"] = list(indices)
        case _:  # ToolFinished
            data["index"] = entry.index
            data["result"] = _converter.unstructure(entry.result, ToolResultPart)
    return json.dumps(data, separators=(",", ":"))


def load_entry(text: str) -> Entry:
    """The entry a :func:`dump_entry` line describes (``EngineError`` if unreadable)."""
    try:
        data = json.loads(text)
        match data.get("kind"):
            case "opened":
                output = data.get("output")
                return TurnOpened(
                    text=str(data["text"]),
                    output=None if output is None else str(output),
                    known="output" in data,
                )
            case "replied":
                return StepReplied(
                    message=_converter.structure(data["message"], Message),
                    usage=_converter.structure(data["usage"], Usage),
                )
            case "started":
                return ToolStarted(index=int(data["index"]))
            case "finished":
                return ToolFinished(
                    index=int(data["index"]),
                    result=_converter.structure(data["result"], ToolResultPart),
                )
            case "awaiting":
                return AwaitingApproval(indices=tuple(int(i) for i in data["indices"]))
    except Exception as exc:
        raise EngineError(f"a turn journal entry cannot be read: {exc}") from None
    raise EngineError(f"a turn journal entry has an unknown kind: {data.get('kind')!r}")


class JournalStore(Protocol):
    """A conversation store that also keeps the journal of an unfinished turn."""

    async def load_journal(self, conversation_id: str) -> list[str]:
        """The journal's entries (JSON lines), oldest first."""

    async def write_journal(self, conversation_id: str, entry: str) -> None:
        """Add one entry, in a transaction of its own."""

    async def end_turn(
        self, conversation_id: str, start: int, messages: Sequence[Message]
    ) -> None:
        """Store a finished turn's ``messages`` and empty the journal, atomically."""

    async def drop_journal(self, conversation_id: str) -> None:
        """Forget the journal (the unfinished turn is abandoned)."""


def journal_store(store: object) -> JournalStore:
    """``store`` if it keeps journals; otherwise ``ConfigurationError``."""
    needed = ("load_journal", "write_journal", "end_turn", "drop_journal")
    if store is None:
        raise ConfigurationError(
            "durable=True needs a conversation with a store, e.g."
            " Conversation(id, store=SQLiteConversationStore(path))"
        )
    missing = [name for name in needed if not callable(getattr(store, name, None))]
    if missing:
        raise ConfigurationError(
            f"durable=True needs a store that keeps turn journals;"
            f" {type(store).__name__} has no {', '.join(missing)}"
        )
    return store  # type: ignore[return-value]


@attrs.define(eq=False)
class TurnState:
    """An unfinished turn, rebuilt from its journal.

    ``messages`` holds the turn so far (the user's message first, then every
    finished step; the last step's tool results only once all are in);
    ``started``, ``finished`` and ``awaiting`` (calls waiting for approval)
    describe the tool calls of the last reply; ``usage`` counts the turn's
    LLM calls and what its finished tool calls spent.
    """

    text: str
    messages: list[Message]
    steps: int = 0
    usage: Usage = attrs.Factory(Usage)
    started: set[int] = attrs.Factory(set)
    finished: dict[int, ToolResultPart] = attrs.Factory(dict)
    awaiting: set[int] = attrs.Factory(set)
    #: The name of the turn's output type, as the journal keeps it.
    output: str | None = None
    #: False for a journal that did not keep it.
    output_known: bool = False

    @classmethod
    def rebuild(cls, entries: Sequence[Entry]) -> TurnState:
        """The state the ``entries`` of one journal describe."""
        if not entries or not isinstance(entries[0], TurnOpened):
            raise EngineError("a turn journal must open with the user's input")
        opened = entries[0]
        state = cls(
            text=opened.text,
            messages=[Message.user(opened.text)],
            output=opened.output,
            output_known=opened.known,
        )
        for entry in entries[1:]:
            match entry:
                case StepReplied(message=message, usage=usage):
                    state.close_step()
                    state.messages.append(message)
                    state.steps += 1
                    state.usage += usage
                case ToolStarted(index=index):
                    state.started.add(index)
                    state.awaiting.discard(index)
                case ToolFinished(index=index, result=result):
                    state.finished[index] = result
                    state.awaiting.discard(index)
                    if result.usage is not None:
                        state.usage += result.usage
                case AwaitingApproval(indices=indices):
                    calls = len(state.open_calls())
                    state.awaiting.update(
                        i for i in indices if 0 <= i < calls and i not in state.finished
                    )
                case _:
                    raise EngineError("a turn journal holds a second opening")
        return state

    def open_calls(self) -> tuple[ToolCallPart, ...]:
        """The tool calls of the last reply, if their results are not in yet."""
        last = self.messages[-1]
        return last.tool_calls if last.role is Role.ASSISTANT else ()

    def close_step(self) -> None:
        """Append the last reply's tool results (all in) and start a new step."""
        calls = self.open_calls()
        for index in range(len(calls)):
            result = self.finished.get(index)
            if result is None:
                raise EngineError("a turn journal holds a reply before its tool results")
            self.messages.append(Message(role=Role.TOOL, parts=(result,)))
        self.started = set()
        self.finished = {}
        self.awaiting = set()


class Journal:
    """Writes a durable turn's entries to its conversation's store."""

    __slots__ = ("conversation_id", "store")

    def __init__(self, store: JournalStore, conversation_id: str) -> None:
        self.store = store
        self.conversation_id = conversation_id

    async def load(self) -> TurnState | None:
        """The unfinished turn in the store, or None."""
        lines = await self.store.load_journal(self.conversation_id)
        if not lines:
            return None
        return TurnState.rebuild([load_entry(line) for line in lines])

    async def write(self, entry: Entry) -> None:
        """Write one entry (its own transaction)."""
        await self.store.write_journal(self.conversation_id, dump_entry(entry))

    async def drop(self) -> None:
        """Forget the unfinished turn."""
        await self.store.drop_journal(self.conversation_id)
