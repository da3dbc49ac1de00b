"""How fast the SQLite dead-letter store takes letters, with its loss window held.

Run: ``python -m stress.bench_store [--quick] [--seconds 3]``, or
``llmgine bench store``.

Three figures, each a ratio against a baseline in the same run:

- **raw**: ``executemany`` of the very rows the store writes, straight into a
  fresh SQLite file (WAL, ``synchronous=NORMAL``), in batches of 1000: the
  most SQLite does for these rows from Python;
- **no store**: an actor system dropping messages (``DROP_NEWEST``) as fast
  as it can, with no store: what filing a dead letter costs in memory;
- **store**: the same flood with a :class:`SQLiteDeadLetterStore`. Letters/s
  sustained, and the loss window measured: the longest time from filing a
  letter to its transaction being committed (sampled every few ms), which
  must stay under ``flush_interval`` however fast letters come.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import attrs
import trio

from llmgine.actors import (
    Actor,
    DeadLetter,
    DeadLetterReason,
    Mailbox,
    Overflow,
    SQLiteDeadLetterStore,
    open_actor_system,
)

FLUSH_INTERVAL = 0.1


@attrs.frozen(kw_only=True)
class Order:
    """A typical message: a few small fields."""

    order: int
    customer: str
    amount: float


class _Stuck(Actor):
    async def receive(self, message: object) -> object:
        await trio.sleep_forever()


def raw_rate(tmp: Path, n: int) -> float:
    """Rows/s of a bare ``executemany`` of the store's own rows."""
    store = SQLiteDeadLetterStore(tmp / "rows.db")
    rows = []
    for i in range(n):
        letter = DeadLetter(
            message=Order(order=i, customer="c-42", amount=9.5),
            recipient="/bench/stuck",
            reason=DeadLetterReason.MAILBOX_FULL,
            id=i + 1,
        )
        rows.append(store.encode(letter))
    conn = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, recipient TEXT NOT NULL,"
        " reason TEXT NOT NULL, at REAL NOT NULL, message TEXT NOT NULL, error TEXT)"
    )
    start = time.perf_counter()
    for lo in range(0, n, 1000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO dead_letters VALUES (?, ?, ?, ?, ?, ?)", rows[lo : lo + 1000]
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def flood(
    seconds: float, store: SQLiteDeadLetterStore | None
) -> tuple[float, float]:
    """Letters/s filed by a DROP_NEWEST flood, and the longest filed-to-stored lag."""
    filed: list[tuple[int, float]] = []
    stored: list[tuple[int, float]] = []
    async with open_actor_system(
        "bench",
        tracer=None,
        dead_letter_store=store,
        dead_letter_capacity=10_000,
        shutdown_timeout=0.05,  # the stuck actor's message is cancelled at once
    ) as system:
        ref = await system.spawn(
            _Stuck,
            name="stuck",
            mailbox=Mailbox(capacity=1, overflow=Overflow.DROP_NEWEST),
        )
        ref.tell_nowait(Order(order=-2, customer="c", amount=0.0))
        await trio.sleep(0.01)
        ref.tell_nowait(Order(order=-1, customer="c", amount=0.0))
        office = system.dead_letters

        async def watch() -> None:
            while True:
                stats = office.statistics()
                stored.append((stats.stored, time.perf_counter()))
                await trio.sleep(0.002)

        async with trio.open_nursery() as nursery:
            if store is not None:
                nursery.start_soon(watch)
            start = time.perf_counter()
            n = 0
            while (now := time.perf_counter()) - start < seconds:
                for _ in range(256):
                    ref.tell_nowait(Order(order=n, customer="c-42", amount=9.5))
                    n += 1
                filed.append((office.count, time.perf_counter()))
                await trio.lowlevel.checkpoint()
            rate = n / (now - start)
            if store is not None:
                await office.flush()
                stored.append((office.statistics().stored, time.perf_counter()))
            nursery.cancel_scope.cancel()
    return rate, _worst_lag(filed, stored)


def _worst_lag(filed: list[tuple[int, float]], stored: list[tuple[int, float]]) -> float:
    worst = 0.0
    j = 0
    for count, at in filed:
        while j < len(stored) and stored[j][0] < count:
            j += 1
        if j == len(stored):
            break
        worst = max(worst, stored[j][1] - at)
    return worst


async def measure(seconds: float) -> dict[str, float]:
    """Flood without and with a store, then the raw baseline; print and return."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bare, _ = await flood(seconds, None)
        stored, lag = await flood(
            seconds,
            SQLiteDeadLetterStore(folder / "dead.db", flush_interval=FLUSH_INTERVAL),
        )
        raw = raw_rate(folder, max(10_000, min(200_000, int(stored * seconds))))
    print(f"raw executemany (baseline)   {raw:>12,.0f} rows/s")
    print(f"flood, no store (baseline)   {bare:>12,.0f} letters/s")
    print(f"flood, SQLite store          {stored:>12,.0f} letters/s")
    print(f"  store / raw executemany    {stored / raw:>12.2f}x")
    print(f"  store / no store           {stored / bare:>12.2f}x")
    print(
        f"  worst filed-to-stored lag  {lag * 1e3:>12.1f} ms"
        f" ({lag / FLUSH_INTERVAL:.2f} of flush_interval={FLUSH_INTERVAL}s)"
    )
    return {
        "store_vs_raw": stored / raw,
        "store_vs_no_store": stored / bare,
        "store_letters_per_s": stored,
        "store_lag_ms": lag * 1e3,
        "store_lag_vs_flush_interval": lag / FLUSH_INTERVAL,
    }


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Parse ``argv``, measure, print the figures and return them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a one-second flood")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.0 if args.quick else 3.0)
    return trio.run(measure, seconds)


if __name__ == "__main__":
    main()
