"""Measuring tools for the stress suite: latency histogram, RSS, task tree, recovery."""

from __future__ import annotations

import math
import os
import resource
from collections.abc import Sequence

import trio

__all__ = [
    "Histogram",
    "count_tasks",
    "peak_rss_mib",
    "recovery_time",
    "rss_mib",
]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class Histogram:
    """A log-bucketed latency histogram: O(1) per sample, ~1% relative precision.

    Samples are seconds; buckets grow by 2% from 100 ns up, so a million samples
    cost a few kilobytes instead of a sorted list.
    """

    __slots__ = ("buckets", "count", "maximum", "total")

    _FLOOR = 1e-7
    _SCALE = 1.0 / math.log(1.02)

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.maximum = 0.0

    def record(self, seconds: float) -> None:
        """Add one sample."""
        index = (
            int(math.log(seconds / self._FLOOR) * self._SCALE)
            if seconds > self._FLOOR
            else 0
        )
        buckets = self.buckets
        buckets[index] = buckets.get(index, 0) + 1
        self.count += 1
        self.total += seconds
        if seconds > self.maximum:
            self.maximum = seconds

    def merge(self, other: Histogram) -> None:
        """Add another histogram's samples to this one."""
        for index, n in other.buckets.items():
            self.buckets[index] = self.buckets.get(index, 0) + n
        self.count += other.count
        self.total += other.total
        self.maximum = max(self.maximum, other.maximum)

    def quantile(self, q: float) -> float:
        """The q-quantile in seconds (0.0 when empty); bucket upper bounds."""
        if not self.count:
            return 0.0
        rank = q * self.count
        seen = 0
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= rank:
                return min(self._FLOOR * 1.02 ** (index + 1), self.maximum)
        return self.maximum  # pragma: no cover - rank <= count always


def rss_mib() -> float:
    """The resident set size of this process now, in MiB."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return peak_rss_mib()


def peak_rss_mib() -> float:
    """The process's peak resident set size so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if os.uname().sysname != "Darwin" else peak / 2**20


def count_tasks() -> int:
    """How many tasks are alive in this trio run (the whole tree, system tasks too)."""

    def walk(task: trio.lowlevel.Task) -> int:
        children = [t for nursery in task.child_nurseries for t in nursery.child_tasks]
        return 1 + sum(walk(child) for child in children)

    root = trio.lowlevel.current_root_task()
    return 0 if root is None else walk(root)


def recovery_time(
    samples: Sequence[tuple[float, int, int]],
    *,
    faults: tuple[float, float],
    window: int = 3,
    fraction: float = 0.9,
) -> float | None:
    """Seconds after the faults stopped until full throughput came back.

    ``samples`` are ``(time, processed, backlog)`` readings; ``faults`` the
    ``(start, end)`` of the fault window on the same clock. The baseline is
    the throughput before the faults started; recovery is the first reading
    after ``end`` from which ``window`` intervals in a row run at ``fraction``
    of it or better, with the backlog no larger than twice its worst before the
    faults. None when there is no baseline or it never recovered.
    """
    start, end = faults
    before = [s for s in samples if s[0] < start]
    if len(before) < 2 or before[-1][0] <= before[0][0]:
        return None
    baseline = (before[-1][1] - before[0][1]) / (before[-1][0] - before[0][0])
    backlog_limit = max(2 * max(s[2] for s in before), 1)
    after = [s for s in samples if s[0] >= end]
    for i in range(len(after) - window):
        first, last = after[i], after[i + window]
        rate = (last[1] - first[1]) / max(last[0] - first[0], 1e-9)
        if rate >= fraction * baseline and first[2] <= backlog_limit:
            return max(first[0] - end, 0.0)
    return None
