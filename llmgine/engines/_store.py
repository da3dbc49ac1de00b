"""Where conversations are kept: the store protocol and a SQLite store.

Messages are serialised to JSON through a private cattrs converter
(:func:`make_converter`); each part carries a ``"type"`` tag. The SQLite store
uses the standard library's ``sqlite3`` from a worker thread (``trio.to_thread``),
one short-lived connection per operation, so any number of engines and
processes can share one file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from typing import Any, Protocol

import cattrs
import trio
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_tagged_union

from .._exceptions import ConfigurationError
from ..llm import (
    BlobPart,
    Message,
    Part,
    ProviderPart,
    ReasoningPart,
    Role,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["ConversationStore", "SQLiteConversationStore", "make_converter"]

_TAGS: Mapping[type, str] = {
    TextPart: "text",
    ReasoningPart: "reasoning",
    BlobPart: "blob",
    ToolCallPart: "tool_call",
    ToolResultPart: "tool_result",
    ProviderPart: "provider",
}


def _arguments(value: object, _: object) -> Mapping[str, Any] | str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"tool call arguments must be an object or a str (got {value!r})")


def make_converter() -> cattrs.Converter:
    """The converter between :class:`~llmgine.llm.Message` and JSON-ready dicts."""
    converter = cattrs.Converter()
    for cls in _TAGS:
        converter.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, converter, _cattrs_omit_if_default=True)
        )
    converter.register_structure_hook(
        ToolCallPart,
        make_dict_structure_fn(
            ToolCallPart, converter, arguments=override(struct_hook=_arguments)
        ),
    )
    configure_tagged_union(
        Part, converter, tag_generator=lambda cls: _TAGS[cls], tag_name="type"
    )
    converter.register_unstructure_hook(
        Message,
        lambda m: {
            "role": m.role.value,
            "parts": [converter.unstructure(p, Part) for p in m.parts],
        },
    )
    converter.register_structure_hook(
        Message,
        lambda d, _: Message(
            role=Role(d["role"]),
            parts=[converter.structure(p, Part) for p in d["parts"]],  # type: ignore[arg-type]
        ),
    )
    return converter


_converter = make_converter()


def dump_message(message: Message) -> str:
    """``message`` as one line of JSON."""
    return json.dumps(_converter.unstructure(message, Message), separators=(",", ":"))


def load_message(text: str) -> Message:
    """The message a :func:`dump_message` line describes."""
    return _converter.structure(json.loads(text), Message)


class ConversationStore(Protocol):
    """Keeps conversations' messages by conversation id."""

    async def load(self, conversation_id: str) -> list[Message]:
        """The stored messages of a conversation, oldest first (none: empty)."""

    async def append(
        self, conversation_id: str, start: int, messages: Sequence[Message]
    ) -> None:
        """Store ``messages`` as positions ``start``, ``start + 1``, ... (atomically)."""

    async def clear(self, conversation_id: str) -> None:
        """Delete every message of a conversation."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS llmgine_messages (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (conversation_id, seq)
)
"""

_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS llmgine_turn_journal (
    id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class SQLiteConversationStore:
    """Conversations in a SQLite file (``":memory:"`` is refused: it would not last).

    One row per message; appending a turn is one transaction, and a position
    already taken (another writer got there first) raises
    :class:`sqlite3.IntegrityError` instead of interleaving two histories.

    It also keeps the journal of a durable turn (``ChatEngine(durable=True)``):
    one row per entry, each written in its own transaction, emptied in the
    transaction that stores the finished turn.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 5.0) -> None:
        self._path = os.fspath(path)
        if self._path == ":memory:" or not self._path:
            raise ConfigurationError(
                "SQLiteConversationStore needs a file path: an in-memory database"
                " lives only as long as one connection"
            )
        self._timeout = timeout
        self._ready = False

    def __repr__(self) -> str:
        return f"SQLiteConversationStore({self._path!r})"

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, timeout=self._timeout)
        if not self._ready:
            with connection:
                connection.execute(_SCHEMA)
                connection.execute(_JOURNAL_SCHEMA)
            self._ready = True
        return connection

    async def load(self, conversation_id: str) -> list[Message]:
        """The stored messages of a conversation, oldest first."""

        def read() -> list[str]:
            with closing(self._connect()) as db:
                rows = db.execute(
                    "SELECT body FROM llmgine_messages WHERE conversation_id = ?"
                    " ORDER BY seq",
                    (conversation_id,),
                ).fetchall()
            return [row[0] for row in rows]

        return [load_message(body) for body in await trio.to_thread.run_sync(read)]

    async def append(
        self, conversation_id: str, start: int, messages: Sequence[Message]
    ) -> None:
        """Store ``messages`` at positions ``start``, ``start + 1``, ... in one go."""
        rows = _message_rows(conversation_id, start, messages)

        def write() -> None:
            with closing(self._connect()) as db, db:
                _insert_messages(db, rows)

        await trio.to_thread.run_sync(write)

    async def clear(self, conversation_id: str) -> None:
        """Delete every message of a conversation (and its turn journal)."""

        def delete() -> None:
            with closing(self._connect()) as db, db:
                db.execute(
                    "DELETE FROM llmgine_messages WHERE conversation_id = ?",
                    (conversation_id,),
                )
                db.execute(
                    "DELETE FROM llmgine_turn_journal WHERE conversation_id = ?",
                    (conversation_id,),
                )

        await trio.to_thread.run_sync(delete)

    async def conversations(self) -> list[str]:
        """The ids of the stored conversations, oldest first."""

        def read() -> list[str]:
            with closing(self._connect()) as db:
                rows = db.execute(
                    "SELECT conversation_id FROM llmgine_messages"
                    " GROUP BY conversation_id ORDER BY MIN(created), MIN(rowid)"
                ).fetchall()
            return [row[0] for row in rows]

        return await trio.to_thread.run_sync(read)

    async def load_journal(self, conversation_id: str) -> list[str]:
        """The entries of the conversation's unfinished turn (JSON), oldest first."""

        def read() -> list[str]:
            with closing(self._connect()) as db:
                rows = db.execute(
                    "SELECT body FROM llmgine_turn_journal WHERE conversation_id = ?"
                    " ORDER BY id",
                    (conversation_id,),
                ).fetchall()
            return [row[0] for row in rows]

        return await trio.to_thread.run_sync(read)

    async def write_journal(self, conversation_id: str, entry: str) -> None:
        """Add one journal entry, in a transaction of its own."""
        row = (conversation_id, entry, time.time())

        def write() -> None:
            with closing(self._connect()) as db, db:
                db.execute(
                    "INSERT INTO llmgine_turn_journal (conversation_id, body, created)"
                    " VALUES (?, ?, ?)",
                    row,
                )

        await trio.to_thread.run_sync(write)

    async def end_turn(
        self, conversation_id: str, start: int, messages: Sequence[Message]
    ) -> None:
        """Store a finished turn's messages and empty its journal, in one transaction."""
        rows = _message_rows(conversation_id, start, messages)

        def write() -> None:
            with closing(self._connect()) as db, db:
                _insert_messages(db, rows)
                db.execute(
                    "DELETE FROM llmgine_turn_journal WHERE conversation_id = ?",
                    (conversation_id,),
                )

        await trio.to_thread.run_sync(write)

    async def drop_journal(self, conversation_id: str) -> None:
        """Forget the journal of the conversation's unfinished turn."""

        def delete() -> None:
            with closing(self._connect()) as db, db:
                db.execute(
                    "DELETE FROM llmgine_turn_journal WHERE conversation_id = ?",
                    (conversation_id,),
                )

        await trio.to_thread.run_sync(delete)


def _message_rows(
    conversation_id: str, start: int, messages: Sequence[Message]
) -> list[tuple[str, int, str, str, float]]:
    """The rows of ``messages`` stored at positions ``start``, ``start + 1``, ..."""
    now = time.time()
    return [
        (conversation_id, start + i, m.role.value, dump_message(m), now)
        for i, m in enumerate(messages)
    ]


def _insert_messages(
    db: sqlite3.Connection, rows: list[tuple[str, int, str, str, float]]
) -> None:
    db.executemany(
        "INSERT INTO llmgine_messages"
        " (conversation_id, seq, role, body, created) VALUES (?, ?, ?, ?, ?)",
        rows,
    )
