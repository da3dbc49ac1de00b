"""Dead letters: every accepted message that was not processed ends up here."""

from __future__ import annotations

import builtins
import enum
import pickle
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import trio

from .._exceptions import LLMgineError

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = [
    "DeadLetter",
    "DeadLetterReason",
    "DeadLetterStore",
    "DeadLetters",
    "SQLiteDeadLetterStore",
]


class DeadLetterReason(enum.Enum):
    """Why a message was not processed."""

    MAILBOX_FULL = "mailbox_full"
    DROPPED_OLDEST = "dropped_oldest"
    ACTOR_STOPPED = "actor_stopped"
    HANDLER_FAILED = "handler_failed"
    CIRCUIT_OPEN = "circuit_open"


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A message that was accepted and not processed.

    ``message`` is what the sender sent; ``recipient`` the recipient's path;
    ``error`` the exception, for ``HANDLER_FAILED``; ``at`` wall-clock seconds.
    """

    message: Any
    recipient: str
    reason: DeadLetterReason
    error: BaseException | None = None
    at: float = attrs.field(factory=time.time)
    id: int = attrs.field(default=0, eq=False)


class DeadLetterStore(Protocol):
    """Where dead letters persist across process restarts."""

    def load(self) -> list[DeadLetter]:
        """Every stored letter, oldest first (runs in a worker thread)."""

    def save(self, letters: Sequence[DeadLetter]) -> list[int]:
        """Store letters; return their ids (runs in a worker thread)."""

    def delete(self, ids: Sequence[int]) -> None:
        """Forget letters (drained or redelivered; runs in a worker thread)."""

    def close(self) -> None:
        """Release the store."""


class SQLiteDeadLetterStore:
    """Dead letters kept in a SQLite file, so they survive a restart of the process.

    Messages and errors are pickled; a message that cannot be pickled is stored
    by its ``repr`` and comes back as that string.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.path, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY"
                " AUTOINCREMENT, recipient TEXT NOT NULL, reason TEXT NOT NULL,"
                " at REAL NOT NULL, message BLOB NOT NULL, error BLOB)"
            )
            db.commit()
            self._db = db
        return self._db

    def load(self) -> list[DeadLetter]:
        """Every stored letter, oldest first."""
        rows = self._conn().execute(
            "SELECT id, recipient, reason, at, message, error FROM dead_letters"
            " ORDER BY id"
        )
        return [
            DeadLetter(
                id=row[0],
                recipient=row[1],
                reason=DeadLetterReason(row[2]),
                at=row[3],
                message=_loads(row[4]),
                error=_load_error(row[5]),
            )
            for row in rows
        ]

    def save(self, letters: Sequence[DeadLetter]) -> list[int]:
        """Store letters and return their ids."""
        db = self._conn()
        ids = []
        with db:
            for letter in letters:
                cursor = db.execute(
                    "INSERT INTO dead_letters (recipient, reason, at, message, error)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (
                        letter.recipient,
                        letter.reason.value,
                        letter.at,
                        _dumps(letter.message),
                        None if letter.error is None else _dumps(letter.error),
                    ),
                )
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def delete(self, ids: Sequence[int]) -> None:
        """Forget the letters with these ids."""
        db = self._conn()
        with db:
            db.executemany("DELETE FROM dead_letters WHERE id = ?", [(i,) for i in ids])

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            self._db.close()
            self._db = None


def _dumps(value: object) -> bytes:
    try:
        return pickle.dumps(value)
    except Exception:
        return pickle.dumps(repr(value))


def _loads(blob: bytes) -> Any:
    return pickle.loads(blob)


def _load_error(blob: bytes | None) -> BaseException | None:
    if blob is None:
        return None
    value = _loads(blob)
    return value if isinstance(value, BaseException) else LLMgineError(str(value))


class DeadLetters:
    """The system's dead-letter office: list, drain and redeliver.

    Counts never shrink: ``count`` and ``by_reason`` include letters already
    drained or redelivered, so the stress invariant can be checked at any time.
    """

    def __init__(
        self,
        *,
        store: DeadLetterStore | None = None,
        on_letter: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        self._letters: deque[DeadLetter] = deque()
        self._unsaved: list[DeadLetter] = []
        self._saved_ids: dict[int, int] = {}  # id(letter) -> store id
        self._store = store
        self._on_letter = on_letter
        self._wake = trio.Event()
        self.count = 0
        self.by_reason: Counter[DeadLetterReason] = Counter()
        self._system: ActorSystem | None = None

    def __len__(self) -> int:
        return len(self._letters)

    def add(self, letter: DeadLetter) -> None:
        """File a dead letter (the runtime calls this; never waits)."""
        self._letters.append(letter)
        self.count += 1
        self.by_reason[letter.reason] += 1
        if self._store is not None:
            self._unsaved.append(letter)
            self._wake.set()
        if self._on_letter is not None:
            self._on_letter(letter)

    def list(self) -> list[DeadLetter]:
        """The letters held now, oldest first."""
        return list(self._letters)

    async def drain(self) -> builtins.list[DeadLetter]:
        """Take every held letter out (and out of the store)."""
        letters = list(self._letters)
        self._letters.clear()
        await self._forget(letters)
        return letters

    async def redeliver(self, letters: Iterable[DeadLetter] | None = None) -> int:
        """Send held letters again to their recipients; return how many went.

        A letter whose recipient no longer exists or refuses it stays held.
        """
        if self._system is None:
            raise LLMgineError("redeliver needs a running actor system")
        chosen = list(self._letters) if letters is None else list(letters)
        sent: builtins.list[DeadLetter] = []
        for letter in chosen:
            ref = self._system.lookup(letter.recipient)
            tell = getattr(ref, "tell_nowait", None)
            if tell is None:
                continue
            try:
                tell(letter.message)
            except LLMgineError:
                continue
            sent.append(letter)
        held = {id(letter) for letter in sent}
        self._letters = deque(x for x in self._letters if id(x) not in held)
        await self._forget(sent)
        return len(sent)

    async def _forget(self, letters: Sequence[DeadLetter]) -> None:
        if self._store is None:
            return
        unsaved = {id(x) for x in self._unsaved}
        gone = {id(x) for x in letters}
        self._unsaved = [x for x in self._unsaved if id(x) not in gone]
        ids = [
            self._saved_ids.pop(id(x), x.id)
            for x in letters
            if id(x) not in unsaved and (id(x) in self._saved_ids or x.id)
        ]
        if ids:
            await trio.to_thread.run_sync(self._store.delete, ids)

    async def _load(self) -> None:
        if self._store is None:
            return
        for letter in await trio.to_thread.run_sync(self._store.load):
            self._letters.append(letter)
            self._saved_ids[id(letter)] = letter.id

    async def flush(self) -> None:
        """Write letters not yet stored to the store."""
        if self._store is None or not self._unsaved:
            return
        batch, self._unsaved = self._unsaved, []
        ids = await trio.to_thread.run_sync(self._store.save, batch)
        for letter, store_id in zip(batch, ids, strict=True):
            self._saved_ids[id(letter)] = store_id

    async def _run_flusher(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            await self.flush()
