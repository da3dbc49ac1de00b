"""Benchmark of the tracer's cost on the tell→receive path, against a same-run baseline.

Run: ``python stress/bench_tracer.py [--quick]``. Scenarios, each run several
times interleaved with the others, best run kept:

- no tracer at all (the baseline);
- a tracer with a no-op handler, messages told from untraced code (the
  data path is not traced: what an installed-but-quiet tracer costs);
- a tracer with a no-op handler, every message traced (a ``receive`` span per
  message, emitted to the tracer and delivered in batches);
- the same with the tracer task woken on every record, to show what waking
  once per batch saves;
- a tracer writing to a JSON Lines file, with untraced tells (lifecycle
  records only) and with every message's span written.

Rates are messages per second of this process's CPU time (everything runs
on one thread), so that other load on the machine disturbs the ratios less.

Targets (issue 3): tracer installed, data path quiet >= 0.98x no tracer;
JSONL on >= 0.70x.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from llmgine.actors import Actor, Mailbox, RecordKind, TraceRecord, open_actor_system
from llmgine.observability import JsonlHandler, TraceHandler, Tracer, traced


@attrs.frozen
class Tick:
    """The benchmark's message."""

    n: int


class Sink(Actor):
    """Counts what it receives; answers asks with the count."""

    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> Any:
        self.count += 1
        return self.count


class WakeEveryRecord(Tracer):
    """The design not taken: wake the tracer task on every record."""

    __slots__ = ()

    def emit(self, record: TraceRecord) -> None:
        """Take the record, then wake the tracer task at once."""
        super().emit(record)
        self._kick()


class NoOpHandler:
    """Takes batches and does nothing with them."""

    def handle(self, records: Sequence[TraceRecord]) -> None:
        """Ignore the batch."""

    def close(self) -> None:
        """Nothing to release."""


async def tell_rate(n: int, tracer: Tracer | None, traced_tells: bool) -> float:
    """tell → receive through one actor (1000-message mailbox), messages per second."""
    async with open_actor_system("bench", tracer=tracer) as system:
        ref = await system.spawn(Sink, name="sink", mailbox=Mailbox(capacity=1000))
        start = time.process_time()
        if traced_tells:
            with traced(RecordKind.CUSTOM, "bench"):
                for i in range(n):
                    await ref.tell(Tick(i))
                await ref.ask(Tick(-1))
        else:
            for i in range(n):
                await ref.tell(Tick(i))
            await ref.ask(Tick(-1))
        elapsed = time.process_time() - start
    if tracer is not None:
        stats = tracer.statistics()
        assert stats.queued == 0, stats
    return n / elapsed


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its table; return the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages")
    args = parser.parse_args(argv)
    n = 30_000 if args.quick else 200_000
    runs = 3 if args.quick else 5
    os.environ.pop("LLMGINE_TRACE", None)  # "no tracer" must mean none

    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "trace.jsonl"

        def handlers(kind: str) -> list[TraceHandler]:
            return [JsonlHandler(jsonl)] if kind == "jsonl" else [NoOpHandler()]

        scenarios: dict[str, tuple[str | None, bool, type[Tracer]]] = {
            "no tracer": (None, False, Tracer),
            "tracer, no-op handler, untraced tells": ("noop", False, Tracer),
            "tracer, no-op handler, traced tells": ("noop", True, Tracer),
            "  same, waking the tracer per record": ("noop", True, WakeEveryRecord),
            "tracer, JSONL handler, untraced tells": ("jsonl", False, Tracer),
            "tracer, JSONL handler, traced tells": ("jsonl", True, Tracer),
        }
        rates = dict.fromkeys(scenarios, 0.0)
        dropped = dict.fromkeys(scenarios, 0)
        for _ in range(runs):
            for label, (kind, traced_tells, cls) in scenarios.items():
                jsonl.unlink(missing_ok=True)
                tracer = None if kind is None else cls(handlers(kind))
                rate = trio.run(tell_rate, n, tracer, traced_tells)
                rates[label] = max(rates[label], rate)
                if tracer is not None:
                    dropped[label] = max(dropped[label], tracer.statistics().dropped)
        jsonl_bytes = jsonl.stat().st_size if jsonl.exists() else 0

    base = rates["no tracer"]
    targets = {
        "tracer, no-op handler, untraced tells": " (target >= 0.98x)",
        "tracer, JSONL handler, untraced tells": " (target >= 0.70x)",
        "tracer, JSONL handler, traced tells": " (target >= 0.70x)",
    }
    versions = f"python {sys.version.split()[0]}, trio {trio.__version__}"
    print(f"llmgine tracer benchmark  ({versions}; {n:,} tells, best of {runs})")
    for label, rate in rates.items():
        note = targets.get(label, "")
        lost = f"  dropped {dropped[label]:,}" if dropped[label] else ""
        print(f"  {label:<44} {rate:>11,.0f} msg/s  {rate / base:.2f}x{note}{lost}")
    size = f"{jsonl_bytes / 1e6:.1f} MB ({jsonl_bytes / n:.0f} B/msg)"
    print(f"  JSONL written by the last traced run: {size}")
    return {
        "quiet_vs_none": rates["tracer, no-op handler, untraced tells"] / base,
        "traced_vs_none": rates["tracer, no-op handler, traced tells"] / base,
        "jsonl_quiet_vs_none": rates["tracer, JSONL handler, untraced tells"] / base,
        "jsonl_vs_none": rates["tracer, JSONL handler, traced tells"] / base,
    }


if __name__ == "__main__":
    main()
