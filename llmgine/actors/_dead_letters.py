"""Dead letters: every accepted message that was not processed ends up here."""

from __future__ import annotations

import builtins
import enum
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import attrs
import trio

from .._exceptions import ConfigurationError, LLMgineError
from ._letter_codec import StoredMessage

if TYPE_CHECKING:
    from ._system import ActorSystem

__all__ = [
    "DeadLetter",
    "DeadLetterReason",
    "DeadLetterStatistics",
    "DeadLetterStore",
    "DeadLetters",
    "Row",
]

_log = logging.getLogger("llmgine.actors")


class DeadLetterReason(enum.Enum):
    """Why a message was not processed."""

    MAILBOX_FULL = "mailbox_full"
    DROPPED_OLDEST = "dropped_oldest"
    ACTOR_STOPPED = "actor_stopped"
    HANDLER_FAILED = "handler_failed"
    CIRCUIT_OPEN = "circuit_open"
    #: The node (a process of a cluster) holding the message died before
    #: acknowledging that it was processed.
    NODE_LOST = "node_lost"


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A message that was accepted and not processed.

    ``message`` is what the sender sent; ``recipient`` the recipient's path;
    ``error`` the exception, for ``HANDLER_FAILED`` (a :class:`StoredError`
    once loaded from a store); ``at`` wall-clock seconds; ``id`` numbers the
    letters of a system (and of its store) in the order they were filed.
    """

    message: Any
    recipient: str
    reason: DeadLetterReason
    error: BaseException | None = None
    at: float = attrs.field(factory=time.time)
    id: int = attrs.field(default=0, eq=False)


#: One letter as a store writes it (its shape is the store's business).
Row: TypeAlias = tuple[Any, ...]


class DeadLetterStore(Protocol):
    """Where dead letters persist across process restarts.

    The system encodes each letter when it is filed (so what is stored is the
    message as it was then) and hands batches to :meth:`write`, one at a time,
    within ``flush_interval`` seconds; :meth:`load` runs in a worker thread.
    """

    flush_interval: float

    def encode(self, letter: DeadLetter) -> Row:
        """The row ``letter`` is written as (called when it is filed; never raises)."""

    def write(self, rows: Sequence[Row], deleted: Sequence[int]) -> None:
        """Store rows and forget letters by id, in one transaction (quick: no fsync)."""

    def load(self, limit: int) -> tuple[builtins.list[DeadLetter], int]:
        """The newest ``limit`` readable letters, oldest first, and the highest id."""

    def close(self) -> None:
        """Release the store."""


@attrs.frozen(kw_only=True)
class DeadLetterStatistics:
    """What the dead-letter office holds and has done.

    ``count + loaded == held + evicted + drained + redelivered`` at all times.
    ``stored`` counts letters written to the store; ``pending`` the letters
    filed, drained or redelivered whose change is not in the store yet;
    ``skipped`` stored rows that could not be read back; ``write_errors``
    failed store writes (each retried).
    """

    held: int
    capacity: int
    count: int
    evicted: int
    drained: int
    redelivered: int
    loaded: int
    stored: int
    pending: int
    skipped: int
    write_errors: int


def check_capacity(capacity: object) -> int:
    """``capacity`` if it is a positive int, else :class:`ConfigurationError`."""
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ConfigurationError(
            f"'dead_letter_capacity' must be a positive int (got {capacity!r})"
        )
    return capacity


class DeadLetters:
    """The system's dead-letter office: list, drain and redeliver.

    At most ``capacity`` letters are held; beyond that the oldest are evicted
    (counted in :attr:`evicted`, and kept in the store if there is one).
    Counts never shrink: ``count`` and ``by_reason`` include letters evicted,
    drained or redelivered, so the stress invariant can be checked at any time.
    """

    def __init__(
        self,
        *,
        capacity: int = 10_000,
        store: DeadLetterStore | None = None,
        on_letter: Callable[[DeadLetter], None] | None = None,
    ) -> None:
        self._capacity = check_capacity(capacity)
        self._letters: deque[DeadLetter] = deque()
        self._store = store
        self._on_letter = on_letter
        self._rows: builtins.list[Row] = []  # filed, not yet written
        self._deleted: builtins.list[int] = []  # drained or redelivered, not yet written
        self._next_id = 1
        self._wake = trio.Event()
        self.count = 0
        self.by_reason: Counter[DeadLetterReason] = Counter()
        #: Letters pushed out of memory by newer ones (still counted and stored).
        self.evicted = 0
        self._drained = 0
        self._redelivered = 0
        self._loaded = 0
        self._stored = 0
        self._write_errors = 0
        self._system: ActorSystem | None = None

    def __len__(self) -> int:
        return len(self._letters)

    @property
    def capacity(self) -> int:
        """The most letters held in memory."""
        return self._capacity

    def add(self, letter: DeadLetter) -> None:
        """File a dead letter (the runtime calls this; never waits)."""
        if not letter.id:
            # DeadLetter is frozen; the id is the office's to give, once.
            object.__setattr__(letter, "id", self._next_id)
            self._next_id += 1
        letters = self._letters
        letters.append(letter)
        if len(letters) > self._capacity:
            letters.popleft()
            self.evicted += 1
        self.count += 1
        self.by_reason[letter.reason] += 1
        store = self._store
        if store is not None:
            self._rows.append(store.encode(letter))
            self._wake.set()
        if self._on_letter is not None:
            self._on_letter(letter)

    def list(self) -> builtins.list[DeadLetter]:
        """The letters held now, oldest first."""
        return list(self._letters)

    def statistics(self) -> DeadLetterStatistics:
        """Counters of the office (and of its store's writes)."""
        return DeadLetterStatistics(
            held=len(self._letters),
            capacity=self._capacity,
            count=self.count,
            evicted=self.evicted,
            drained=self._drained,
            redelivered=self._redelivered,
            loaded=self._loaded,
            stored=self._stored,
            pending=len(self._rows) + len(self._deleted),
            skipped=int(getattr(self._store, "skipped", 0)),
            write_errors=self._write_errors,
        )

    async def drain(self) -> builtins.list[DeadLetter]:
        """Take every held letter out (the store forgets them within its interval)."""
        await trio.lowlevel.checkpoint()  # before taking: a cancelled drain loses nothing
        letters = list(self._letters)
        self._letters.clear()
        self._drained += len(letters)
        self._forget(letters)
        return letters

    async def redeliver(self, letters: Iterable[DeadLetter] | None = None) -> int:
        """Send held letters again to their recipients; return how many went.

        A letter whose recipient no longer exists or refuses it stays held, and
        so does one whose message is a :class:`StoredMessage` (its class could
        not be rebuilt). Letters not held (evicted, drained) are not sent.
        """
        if self._system is None:
            raise LLMgineError("redeliver needs a running actor system")
        held = {x.id: x for x in self._letters}
        chosen = held.values() if letters is None else [x for x in letters]
        sent: dict[int, DeadLetter] = {}
        for letter in chosen:
            if held.get(letter.id) is not letter or isinstance(
                letter.message, StoredMessage
            ):
                continue
            ref = self._system.recipient(letter.recipient)
            tell = getattr(ref, "tell_nowait", None)
            if tell is None:
                continue
            try:
                tell(letter.message)
            except LLMgineError:
                continue
            sent[letter.id] = letter
        if sent:
            self._letters = deque(x for x in self._letters if x.id not in sent)
            self._redelivered += len(sent)
            self._forget(sent.values())
        await trio.lowlevel.checkpoint()
        return len(sent)

    def _forget(self, letters: Iterable[DeadLetter]) -> None:
        if self._store is not None:
            self._deleted.extend(x.id for x in letters)
            self._wake.set()

    # -- the store ----------------------------------------------------------------
    async def _load(self) -> None:
        store = self._store
        if store is None:
            return
        letters, last = await trio.to_thread.run_sync(store.load, self._capacity)
        self._letters.extend(letters)
        self._loaded += len(letters)
        self._next_id = max(self._next_id, last + 1)

    async def flush(self) -> None:
        """Write every letter filed (and every one taken out) so far to the store."""
        self._write()
        await trio.lowlevel.checkpoint()

    def _write(self) -> None:
        # Synchronous, in the event loop's own thread, on purpose: a worker
        # thread would fight the busy loop for the GIL at every statement and
        # fall far behind. Here a write (WAL, synchronous=NORMAL: no fsync; the
        # store checkpoints in a worker thread) costs a few microseconds a
        # letter, and whoever files letters faster than the disk takes them
        # is slowed to its pace instead of the writer falling behind. Being
        # synchronous, a batch is never cut short by a cancellation either.
        store = self._store
        rows, deleted = self._rows, self._deleted
        if store is None or not (rows or deleted):
            return
        self._rows, self._deleted = [], []
        try:
            store.write(rows, deleted)
        except BaseException:
            self._rows[:0] = rows
            self._deleted[:0] = deleted
            raise
        self._stored += len(rows)

    async def _run_writer(self) -> None:
        """Write batches until cancelled: what was filed in the last moment, at once."""
        store = self._store
        assert store is not None
        interval = float(getattr(store, "flush_interval", 0.1))
        checkpoint = getattr(store, "checkpoint", None)
        async with trio.open_nursery() as nursery:
            if checkpoint is not None:
                nursery.start_soon(self._run_checkpoints, checkpoint)
            while True:
                if not (self._rows or self._deleted):
                    self._wake = trio.Event()
                    await self._wake.wait()
                # Let the letters of the next moment join this transaction:
                # a letter waits at most this pause and two batches' writes.
                await trio.sleep(interval / 4)
                try:
                    self._write()
                except Exception:
                    self._write_errors += 1
                    if self._write_errors == 1:
                        _log.exception(
                            "writing dead letters to %r failed; retrying", store
                        )
                    await trio.sleep(interval)

    async def _run_checkpoints(self, checkpoint: Callable[[], object]) -> None:
        """Fold the write-ahead log into the file now and then, off the event loop."""
        done = 0
        while True:
            await trio.sleep(1.0)
            if self._stored != done:
                done = self._stored
                try:
                    await trio.to_thread.run_sync(checkpoint)
                except Exception:  # busy or failing disk: the next one catches up
                    _log.debug("checkpoint of %r failed", self._store, exc_info=True)

    async def _close(self) -> None:
        """Write what is left (the system is leaving), then close the store."""
        store = self._store
        if store is None:
            return
        try:
            self._write()
        except Exception:
            self._write_errors += 1
            _log.exception(
                "%d dead letters could not be written to %r", len(self._rows), store
            )
        finally:
            store.close()
        await trio.lowlevel.cancel_shielded_checkpoint()
