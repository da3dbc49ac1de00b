"""A SQLite file that keeps dead letters across restarts of the process."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from .._exceptions import ConfigurationError
from ._dead_letters import DeadLetter, DeadLetterReason, Row
from ._letter_codec import (
    decode_error,
    decode_message,
    encode_error,
    encode_message,
    make_converter,
    scrub_text,
)

__all__ = ["SQLiteDeadLetterStore"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS dead_letters (id INTEGER PRIMARY KEY,"
    " recipient TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL,"
    " message TEXT NOT NULL, error TEXT)"
)
_INSERT = (
    "INSERT OR REPLACE INTO dead_letters (id, recipient, reason, at, message, error)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


class SQLiteDeadLetterStore:
    """Dead letters kept in a SQLite file, so they survive a restart of the process.

    Pass it to ``open_actor_system(..., dead_letter_store=...)``. A letter is
    in the file within ``flush_interval`` seconds of being filed, however fast
    letters come: the system's writer gathers what was filed meanwhile into
    one transaction (WAL journal, ``synchronous=NORMAL``), so its batches grow
    with the rate instead of falling behind. Every way out of
    ``open_actor_system`` writes what is left. After a ``kill -9`` at most the
    last ``flush_interval`` is missing and the file is intact (a power cut
    may also lose the transactions since the last WAL checkpoint).

    Letters are stored as data, never as code (see :class:`StoredMessage`):
    loading imports nothing and runs nothing named in the file; a row that
    cannot be read is skipped and counted in :attr:`skipped`. One actor system
    at a time may use a file.
    """

    def __init__(self, path: str | Path, *, flush_interval: float = 0.1) -> None:
        if (
            isinstance(flush_interval, bool)
            or not isinstance(flush_interval, int | float)
            or not math.isfinite(flush_interval)
            or flush_interval <= 0
        ):
            raise ConfigurationError(
                "'flush_interval' must be a positive number of seconds"
                f" (got {flush_interval!r})"
            )
        self.path = Path(path)
        self.flush_interval = float(flush_interval)
        #: Rows that could not be read by :meth:`load` (left in the file).
        self.skipped = 0
        self._converter = make_converter()
        self._db: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"<SQLiteDeadLetterStore {str(self.path)!r}>"

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            try:
                db.execute("PRAGMA busy_timeout=5000")
                db.execute("PRAGMA journal_mode=WAL")
                # NORMAL: a commit reaches the OS (which outlives a killed
                # process) without an fsync; only a power cut can undo it.
                db.execute("PRAGMA synchronous=NORMAL")
                # Checkpoints (which do fsync) run in a worker thread, through
                # checkpoint(), so no write on the event loop waits for one;
                # closing the last connection checkpoints what is left.
                db.execute("PRAGMA wal_autocheckpoint=0")
                db.execute(_SCHEMA)
            except sqlite3.DatabaseError as exc:
                db.close()
                raise ConfigurationError(
                    f"'path' must name a SQLite dead-letter file ({exc};"
                    f" got {str(self.path)!r})"
                ) from exc
            self._db = db
        return self._db

    def encode(self, letter: DeadLetter) -> Row:
        """The row ``letter`` is written as (called when it is filed; never raises)."""
        return (
            letter.id,
            scrub_text(letter.recipient),
            letter.reason.value,
            letter.at,
            encode_message(self._converter, letter.message),
            encode_error(letter.error),
        )

    def write(self, rows: Sequence[Row], deleted: Sequence[int]) -> None:
        """Store ``rows`` and forget the letters ``deleted``, in one transaction.

        The system calls it in its own thread (a worker thread would wait for
        the GIL at every row while the event loop is busy); with WAL and
        ``synchronous=NORMAL`` a commit waits for no fsync.
        """
        db = self._conn()
        db.execute("BEGIN")
        try:
            if rows:
                db.executemany(_INSERT, rows)
            if deleted:
                db.executemany(
                    "DELETE FROM dead_letters WHERE id = ?", [(i,) for i in deleted]
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def load(self, limit: int) -> tuple[list[DeadLetter], int]:
        """The newest ``limit`` readable letters, oldest first, and the highest id.

        Rows that cannot be read are skipped, counted in :attr:`skipped` and
        left in the file.
        """
        db = self._conn()
        (last,) = db.execute("SELECT coalesce(max(id), 0) FROM dead_letters").fetchone()
        rows = db.execute(
            "SELECT id, recipient, reason, at, message, error FROM dead_letters"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        letters = []
        for row in reversed(rows):
            letter = self._decode(row)
            if letter is None:
                self.skipped += 1
            else:
                letters.append(letter)
        return letters, int(last) if isinstance(last, int) else 0

    def _decode(self, row: tuple[object, ...]) -> DeadLetter | None:
        store_id, recipient, reason, at, message, error = row
        try:
            if not (
                isinstance(store_id, int)
                and isinstance(recipient, str)
                and isinstance(reason, str)
                and isinstance(at, int | float)
            ):
                return None
            return DeadLetter(
                id=store_id,
                recipient=recipient,
                reason=DeadLetterReason(reason),
                at=float(at),
                message=decode_message(self._converter, message),
                error=decode_error(error),
            )
        except Exception:  # not ours, tampered with, or from a later version
            return None

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the file (passive: writes go on meanwhile).

        The system calls it in a worker thread, about once a second while
        letters are written; it uses a connection of its own.
        """
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None
            )
            self._checkpointer.execute("PRAGMA busy_timeout=5000")
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        """Close the database (it opens again when used)."""
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._db is not None:
            self._db.close()
            self._db = None
