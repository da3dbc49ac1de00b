"""``llmgine bench``: the runtime, bus and tracer benchmarks in one table.

Each benchmark module (``stress/bench_runtime.py``, ``bench_bus.py``,
``bench_tracer.py``; the ones present) measures its figures against baselines
run in the same process and returns them; this prints them side by side with
their targets. Absolute rates depend on the machine; ratios are what to read.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

__all__ = ["Figure", "collect", "main", "render"]

BENCHES = ("runtime", "bus", "tracer")


@attrs.frozen(kw_only=True)
class Figure:
    """One benchmark figure: what it compares, its value and its target."""

    bench: str
    name: str
    value: float
    baseline: str = ""
    target: float | None = None

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None when there is none)."""
        return None if self.target is None else self.value >= self.target


# What the figures the benchmark modules return mean: (label, baseline, target).
KNOWN: dict[str, tuple[str, str, float | None]] = {
    "tell_vs_loop": ("tell→receive", "bare Python loop", 0.60),
    "ask_vs_pingpong": ("ask round trip", "trio channel ping-pong", 1.6),
    "tell_per_s": ("tell→receive, msg/s", "", None),
    "ask_per_s": ("ask round trips/s", "", None),
    "peak_rss_mib": ("peak RSS, MiB", "", None),
    "quiet_vs_none": ("tracer on, untraced tells", "no tracer", 0.98),
    "traced_vs_none": ("tracer on, traced tells", "no tracer", None),
    "jsonl_quiet_vs_none": ("JSONL tracer, untraced tells", "no tracer", 0.70),
    "jsonl_vs_none": ("JSONL tracer, traced tells", "no tracer", 0.70),
}


def _load(bench: str) -> Callable[[list[str]], dict[str, Any]] | None:
    try:
        module = importlib.import_module(f"stress.bench_{bench}")
    except ImportError:
        return None
    main: Callable[[list[str]], dict[str, Any]] | None = getattr(module, "main", None)
    return main


def collect(
    quick: bool = False,
    *,
    benches: Sequence[str] = BENCHES,
    loader: Callable[[str], Callable[[list[str]], dict[str, Any]] | None] | None = None,
) -> tuple[list[Figure], dict[str, str]]:
    """Run every benchmark module present; return its figures and printed output."""
    loader = loader or _load
    figures: list[Figure] = []
    printed: dict[str, str] = {}
    for bench in benches:
        run = loader(bench)
        if run is None:
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            results = run(["--quick"] if quick else [])
        printed[bench] = out.getvalue()
        for key, value in (results or {}).items():
            label, baseline, target = KNOWN.get(key, (key, "", None))
            figures.append(
                Figure(
                    bench=bench,
                    name=label,
                    value=float(value),
                    baseline=baseline,
                    target=target,
                )
            )
    return figures, printed


def render(figures: Sequence[Figure], *, title: str = "llmgine bench") -> Table:
    """One table: every figure, its same-run baseline, its target and the gap."""
    table = Table(title=title, title_justify="left")
    table.add_column("bench")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("baseline (same run)")
    table.add_column("target", justify="right")
    table.add_column("status")
    for f in figures:
        ratio = bool(f.baseline)
        value = f"{f.value:.2f}x" if ratio else f"{f.value:,.0f}"
        if f.met is None:
            status = ""
        elif f.met:
            status = "[green]met[/]"
        else:
            status = f"[yellow]gap {f.target - f.value:.2f}x[/]"  # type: ignore[operator]
        table.add_row(
            f.bench,
            f.name,
            value,
            f.baseline,
            "" if f.target is None else f">= {f.target:.2f}x",
            status,
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and print the combined table (``--verbose``: their own)."""
    parser = argparse.ArgumentParser(prog="llmgine bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages (CI)")
    parser.add_argument("--verbose", action="store_true", help="print each bench too")
    args = parser.parse_args(argv)
    console = Console()
    if not console.is_terminal:
        console.width = 160
    figures, printed = collect(args.quick)
    if args.verbose:
        for text in printed.values():
            console.print(text, markup=False, highlight=False)
    console.print(render(figures))
    missing = [b for b in BENCHES if b not in printed]
    if missing:
        console.print(
            f"not present: {', '.join(f'stress/bench_{b}.py' for b in missing)}"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
