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
import sys
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

__all__ = ["Figure", "collect", "main", "render"]

BENCHES = ("runtime", "bus", "tracer")


@attrs.frozen(kw_only=True)
class Figure:
    """One benchmark figure: what it compares, its value and its target.

    ``key`` is the name the benchmark module returned it under; its suffix
    says the unit (``_vs_``: a ratio, ``_per_s``: a rate, ``_ms``: a latency).
    A target is a floor, or a ceiling when ``ceiling`` is set.
    """

    bench: str
    key: str
    name: str
    value: float
    baseline: str = ""
    target: float | None = None
    ceiling: bool = False

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None when there is none)."""
        if self.target is None:
            return None
        return self.value <= self.target if self.ceiling else self.value >= self.target

    def show(self, value: float) -> str:
        """``value`` in this figure's unit."""
        if "_vs_" in self.key:
            return f"{value:.2f}x"
        if self.key.endswith("_ms"):
            return f"{value:.3g} ms"
        if self.key.endswith("_per_s"):
            return f"{value:,.0f}/s"
        return f"{value:,.0f}"


# What the returned figures mean: label, same-run baseline, target (a number,
# or the name of the module's own constant), and whether the target is a ceiling.
KNOWN: dict[str, tuple[str, str, float | str | None, bool]] = {
    "tell_vs_loop": ("tell→receive", "bare Python loop", 0.60, False),
    "ask_vs_pingpong": ("ask round trip", "trio channel ping-pong", 1.6, False),
    "tell_per_s": ("tell→receive", "", None, False),
    "ask_per_s": ("ask round trips", "", None, False),
    "peak_rss_mib": ("peak RSS, MiB", "", None, False),
    "publish_1_per_s": ("publish → 1 handler", "", "PUBLISH_TARGET", False),
    "publish_1_vs_channel": ("publish → 1 handler", "trio memory channel", None, False),
    "publish_10_vs_channel": (
        "publish → 10 handlers",
        "trio memory channel",
        None,
        False,
    ),
    "publish_1_vs_asyncio_bus": (
        "publish → 1 handler",
        "asyncio llmgine bus",
        None,
        False,
    ),
    "execute_vs_ping_pong": ("execute round trip", "trio channel ping-pong", None, False),
    "latency_p99_ms": ("publish p99, paced", "", "P99_TARGET_MS", True),
    "channel_latency_p99_ms": ("channel p99, paced", "", None, False),
    "quiet_vs_none": ("tracer on, untraced tells", "no tracer", 0.98, False),
    "traced_vs_none": ("tracer on, every tell traced", "no tracer", None, False),
    "jsonl_quiet_vs_none": ("JSONL tracer, untraced tells", "no tracer", 0.70, False),
    "jsonl_vs_none": ("JSONL tracer, every tell traced", "no tracer", None, False),
    "jsonl_sampled_10_vs_none": (
        "JSONL tracer, traced requests, 10% sampled",
        "no tracer",
        None,
        False,
    ),
    "jsonl_sampled_1_vs_none": (
        "JSONL tracer, traced requests, 1% sampled",
        "no tracer",
        None,
        False,
    ),
}


def _constant(bench: str, name: str) -> float | None:
    module = sys.modules.get(f"stress.bench_{bench}")
    value = getattr(module, name, None)
    return float(value) if isinstance(value, int | float) else None


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
            label, baseline, target, ceiling = KNOWN.get(key, (key, "", None, False))
            if isinstance(target, str):
                target = _constant(bench, target)
            figures.append(
                Figure(
                    bench=bench,
                    key=key,
                    name=label,
                    value=float(value),
                    baseline=baseline,
                    target=target,
                    ceiling=ceiling,
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
        if f.target is None:
            target = status = ""
        else:
            target = f"{'<=' if f.ceiling else '>='} {f.show(f.target)}"
            status = "[green]met[/]" if f.met else "[yellow]not met[/]"
        table.add_row(f.bench, f.name, f.show(f.value), f.baseline, target, status)
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
