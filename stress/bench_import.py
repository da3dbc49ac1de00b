"""Benchmark of ``import llmgine`` against importing its dependencies, in one run.

Run: ``python -m stress.bench_import [--quick] [--top N]``. Each round starts
two fresh interpreters with ``python -X importtime``: one runs
``import llmgine``, the other ``import trio, httpx, attrs, cattrs`` (the
baseline); which goes first alternates. The figures are the medians over the
rounds of the cumulative import times CPython reports, and the median of the
per-round ratios (``stress/_paired.py``).
``--top N`` lists the modules ``import llmgine`` loads beyond the baseline's,
by their own import time, from the last round.

Target: ``import llmgine`` at most 1.3x the baseline (the heavier parts, such
as rich, the command line, OpenTelemetry, MCP and the providers, load when
first used).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from collections.abc import Sequence

from ._paired import paired

TARGET = 1.3
PACKAGE = ("llmgine",)
BASELINE = ("trio", "httpx", "attrs", "cattrs")


def parse_importtime(text: str) -> dict[str, tuple[int, int, int]]:
    """``-X importtime`` output as ``{module: (self_us, cumulative_us, depth)}``."""
    found: dict[str, tuple[int, int, int]] = {}
    for line in text.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line.split(":", 1)[1].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        found[name.strip()] = (int(parts[0]), int(parts[1]), depth)
    return found


def measure(modules: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """Import ``modules`` in a fresh interpreter; its ``-X importtime`` table."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {', '.join(modules)}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"import {', '.join(modules)} failed: {last[0]}")
    return parse_importtime(done.stderr)


def total_ms(table: dict[str, tuple[int, int, int]], modules: Sequence[str]) -> float:
    """The cumulative import time of ``modules`` (top-level entries), in ms."""
    return sum(table[m][1] for m in modules if m in table and table[m][2] == 0) / 1e3


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print its figures, and return them."""
    parser = argparse.ArgumentParser(
        prog="bench_import", description="import llmgine vs its dependencies"
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--rounds", type=int, help="rounds (default 9, quick 7)")
    parser.add_argument("--top", type=int, default=0, metavar="N", help="list N modules")
    args = parser.parse_args(argv)
    rounds = max(1, args.rounds or (7 if args.quick else 9))
    ours: list[float] = []
    theirs: list[float] = []
    extra: dict[str, tuple[int, int, int]] = {}
    base_table: dict[str, tuple[int, int, int]] = {}
    for i in range(rounds):
        pair = [(PACKAGE, ours), (BASELINE, theirs)]
        for modules, into in pair if i % 2 == 0 else pair[::-1]:
            table = measure(modules)
            into.append(total_ms(table, modules))
            if modules == PACKAGE:
                extra = table
            else:
                base_table = table
    package_ms = statistics.median(ours)
    baseline_ms = statistics.median(theirs)
    ratio = paired(ours, theirs)  # each round's pair ran back to back
    print(
        f"import llmgine {package_ms:.0f} ms; import {', '.join(BASELINE)}"
        f" {baseline_ms:.0f} ms; ratio {ratio:.2f}x (target <= {TARGET}x;"
        f" median of {rounds} rounds, python -X importtime)"
    )
    if args.top:
        beyond = [(v[0], k) for k, v in extra.items() if k not in base_table]
        for self_us, name in sorted(beyond, reverse=True)[: args.top]:
            print(f"  {self_us / 1e3:7.1f} ms  {name}")
    return {
        "import_vs_deps": ratio,
        "import_ms": package_ms,
        "deps_import_ms": baseline_ms,
    }


if __name__ == "__main__":
    main()
