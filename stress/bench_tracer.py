"""Benchmark of the tracer's cost on the tell→receive path, against a same-run baseline.

Run: ``python -m stress.bench_tracer [--quick]``. Scenarios, each run once a
round, the rounds interleaved; a ratio is the median of the per-round ratios:

- no tracer at all (the baseline);
- a tracer with a no-op handler, messages told from untraced code (the
  data path is not traced: what an installed-but-quiet tracer costs);
- a tracer with a no-op handler, every message traced (all tells inside one
  trace: a ``receive`` span per message, delivered in batches), and the same
  with the tracer task woken on every record, to show what batching saves;
- a tracer writing to a JSON Lines file: untraced tells (lifecycle records
  only), every message traced, and tells made by requests of ten tells each,
  every request a trace of its own, with 10% and 1% of the traces sampled
  (``Tracer(sample_ratio=...)``).

Rates are messages per second of this process's CPU time (everything runs
on one thread), so that other load on the machine disturbs the ratios less.

Targets (issue 3): tracer installed, data path quiet >= 0.98x no tracer;
JSONL on (the untraced data path) >= 0.70x. A span for every message costs
a few microseconds of Python object building and encoding, several times a
tell itself: that is what head sampling is for, and the sampled rows show it.
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

from ._paired import Rounds


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


async def tell_rate(n: int, tracer: Tracer | None, mode: str) -> float:
    """tell → receive through one actor (1000-message mailbox), messages per second.

    ``mode``: ``untraced`` (plain tells), ``one trace`` (every tell inside one
    span) or ``requests`` (a new trace around every ``REQUEST`` tells).
    """
    async with open_actor_system("bench", tracer=tracer) as system:
        ref = await system.spawn(Sink, name="sink", mailbox=Mailbox(capacity=1000))
        start = time.process_time()
        if mode == "one trace":
            with traced(RecordKind.CUSTOM, "bench"):
                for i in range(n):
                    await ref.tell(Tick(i))
                await ref.ask(Tick(-1))
        elif mode == "requests":
            for first in range(0, n, REQUEST):
                with traced(RecordKind.CUSTOM, "request"):
                    for i in range(first, first + REQUEST):
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


#: Tells per request in the sampled scenarios.
REQUEST = 10


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark and print its table; return the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages")
    args = parser.parse_args(argv)
    n = 20_000 if args.quick else 100_000
    runs = 8 if args.quick else 12
    os.environ.pop("LLMGINE_TRACE", None)  # "no tracer" must mean none

    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "trace.jsonl"

        def handlers(kind: str) -> list[TraceHandler]:
            return [JsonlHandler(jsonl)] if kind == "jsonl" else [NoOpHandler()]

        # label: (handler, mode, tracer class, sample ratio)
        scenarios: dict[str, tuple[str | None, str, type[Tracer], float]] = {
            "no tracer": (None, "untraced", Tracer, 1.0),
            "tracer, no-op handler, untraced tells": ("noop", "untraced", Tracer, 1.0),
            "tracer, no-op handler, every tell traced": (
                "noop",
                "one trace",
                Tracer,
                1.0,
            ),
            "  same, waking the tracer per record": (
                "noop",
                "one trace",
                WakeEveryRecord,
                1.0,
            ),
            "tracer, JSONL handler, untraced tells": ("jsonl", "untraced", Tracer, 1.0),
            "tracer, JSONL handler, every tell traced": (
                "jsonl",
                "one trace",
                Tracer,
                1.0,
            ),
            "JSONL, traced requests, 10% sampled": ("jsonl", "requests", Tracer, 0.1),
            "JSONL, traced requests, 1% sampled": ("jsonl", "requests", Tracer, 0.01),
        }
        rounds = Rounds()
        dropped = dict.fromkeys(scenarios, 0)
        written = 0
        order = list(scenarios.items())
        for round_ in range(runs):
            # each round starts one scenario later: no scenario always runs
            # first, or always right after the heaviest one
            shift = round_ % len(order)
            for label, (kind, mode, cls, ratio) in order[shift:] + order[:shift]:
                jsonl.unlink(missing_ok=True)
                tracer = None if kind is None else cls(handlers(kind), sample_ratio=ratio)
                rounds.add(label, trio.run(tell_rate, n, tracer, mode))
                if tracer is not None:
                    dropped[label] = max(dropped[label], tracer.statistics().dropped)
                if label == "tracer, JSONL handler, every tell traced":
                    written = jsonl.stat().st_size

    rates = {label: rounds.best(label) for label in scenarios}
    ratios = {label: rounds.ratio(label, "no tracer") for label in scenarios}
    base = rates["no tracer"]
    targets = {
        "tracer, no-op handler, untraced tells": " (target >= 0.98x)",
        "tracer, JSONL handler, untraced tells": " (target >= 0.70x)",
    }
    versions = f"python {sys.version.split()[0]}, trio {trio.__version__}"
    print(
        f"llmgine tracer benchmark  ({versions}; {n:,} tells, {runs} rounds:"
        " best rate, median of per-round ratios)"
    )
    for label, rate in rates.items():
        note = targets.get(label, "")
        lost = f"  dropped {dropped[label]:,}" if dropped[label] else ""
        print(f"  {label:<44} {rate:>11,.0f} msg/s  {ratios[label]:.2f}x{note}{lost}")
    span_us = 1e6 / rates["tracer, JSONL handler, every tell traced"] - 1e6 / base
    print(
        f"  a message span written as JSONL costs {span_us:.1f} us"
        f" ({written / n:.0f} B/msg); a tell alone {1e6 / base:.2f} us"
    )
    return {
        "quiet_vs_none": ratios["tracer, no-op handler, untraced tells"],
        "traced_vs_none": ratios["tracer, no-op handler, every tell traced"],
        "jsonl_quiet_vs_none": ratios["tracer, JSONL handler, untraced tells"],
        "jsonl_vs_none": ratios["tracer, JSONL handler, every tell traced"],
        "jsonl_sampled_10_vs_none": ratios["JSONL, traced requests, 10% sampled"],
        "jsonl_sampled_1_vs_none": ratios["JSONL, traced requests, 1% sampled"],
    }


if __name__ == "__main__":
    main()
