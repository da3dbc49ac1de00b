"""``llmgine bench``: the runtime, bus, tracer and import benchmarks in one table.

Each benchmark module (``bench_runtime``, ``bench_bus``, ``bench_tracer``,
``bench_import`` beside this one; the ones present) measures its figures
against baselines run in the same process and returns them; this prints them
side by side with their targets. Absolute rates depend on the machine; ratios
are what to read.
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

__all__ = ["Figure", "build_parser", "collect", "main", "readable", "render"]

BENCHES = ("runtime", "bus", "tracer", "import")
#: Run only when named (``llmgine bench agents``): they start server processes
#: and take longer than the default run should.
ON_DEMAND = ("agents", "store", "durable")


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
        if self.key.endswith("_mib"):
            return f"{value:,.0f} MiB"
        if self.key.endswith("_per_s"):
            return f"{value:,.0f}/s"
        return f"{value:,.0f}"


# What the returned figures mean: label, same-run baseline, target (a number,
# or the name of the module's own constant), and whether the target is a ceiling.
KNOWN: dict[str, tuple[str, str, float | str | None, bool]] = {
    # runtime
    "tell_vs_loop": ("tell → receive", "bare Python loop", 0.60, False),
    "ask_vs_pingpong": ("ask round trip", "trio channel ping-pong", 1.6, False),
    "tell_per_s": ("tell → receive, rate", "", None, False),
    "ask_per_s": ("ask round trips, rate", "", None, False),
    "peak_rss_mib": ("peak memory (RSS)", "", None, False),
    "ask_timeout_vs_ask": ("ask with a timeout", "ask without a timeout", None, False),
    "spawn_last_vs_first": ("spawn rate, last actors", "first actors", None, False),
    "idle_actor_bytes": ("memory per idle actor, bytes", "", None, True),
    # bus
    "publish_1_per_s": ("publish → 1 handler", "", "PUBLISH_TARGET", False),
    "publish_1_built_per_s": (
        "publish → 1 handler, event built each time",
        "",
        None,
        False,
    ),
    "publish_10_per_s": ("publish → 10 handlers", "", None, False),
    "deliveries_10_per_s": ("deliveries, 10 handlers", "", None, False),
    "channel_1_per_s": ("trio channel → 1 consumer", "", None, False),
    "channel_10_per_s": ("trio channel → 10 consumers", "", None, False),
    "asyncio_bus_1_per_s": ("asyncio bus → 1 handler", "", None, False),
    "asyncio_bus_10_per_s": ("asyncio bus → 10 handlers", "", None, False),
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
    "execute_per_s": ("execute round trips, rate", "", None, False),
    "ping_pong_per_s": ("trio channel ping-pong, rate", "", None, False),
    "execute_vs_ping_pong": ("execute round trip", "trio channel ping-pong", None, False),
    "latency_p50_ms": ("publish p50 at 10k/s", "", None, False),
    "latency_p99_ms": ("publish p99 at 10k/s", "", "P99_TARGET_MS", True),
    "latency_p999_ms": ("publish p99.9 at 10k/s", "", None, False),
    "latency_max_ms": ("publish max at 10k/s", "", None, False),
    "latency_median_run_p99_ms": ("publish p99 at 10k/s, median run", "", None, False),
    "channel_latency_p99_ms": ("trio channel p99 at 10k/s", "", None, False),
    "offered_rate_per_s": ("offered load, paced", "", None, False),
    "latency_preemptions": ("context switches forced by the OS", "", None, False),
    # tracer
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
    # import
    "import_vs_deps": (
        "import llmgine",
        "import trio, httpx, attrs, cattrs",
        "TARGET",
        True,
    ),
    "import_ms": ("import llmgine (time)", "", None, False),
    "deps_import_ms": ("import its dependencies (time)", "", None, False),
    # agents
    "llmgine_vs_httpx": (
        "agent loop, client CPU per turn",
        "raw httpx loop on trio",
        "TARGET",
        True,
    ),
    "openai_vs_httpx": ("openai SDK loop, CPU per turn", "raw httpx loop", None, True),
    "pydantic_ai_vs_httpx": ("pydantic-ai, CPU per turn", "raw httpx loop", None, True),
    "openai_agents_vs_httpx": (
        "OpenAI Agents SDK, CPU per turn",
        "raw httpx loop",
        None,
        True,
    ),
    "llmgine_turn_cpu_ms": ("llmgine, client CPU per turn", "", None, False),
    "httpx_turn_cpu_ms": ("raw httpx loop, client CPU per turn", "", None, False),
    "llmgine_load_turns_per_s": ("llmgine under load, turns", "", None, False),
    "httpx_load_turns_per_s": ("raw httpx under load, turns", "", None, False),
    "llmgine_load_peak_rss_mib": ("llmgine under load, peak RSS", "", None, False),
    "httpx_load_peak_rss_mib": ("raw httpx under load, peak RSS", "", None, False),
    # store
    "store_vs_raw": ("dead letters stored", "raw SQLite executemany", None, False),
    "store_vs_no_store": ("dead letters stored", "dead letters, no store", None, False),
    "store_letters_per_s": ("dead-letter store, rate", "", None, False),
    "store_lag_ms": ("worst filed-to-stored lag", "", None, False),
    "store_lag_vs_flush_interval": (
        "worst filed-to-stored lag",
        "flush_interval",
        1.0,
        True,
    ),
    # durable
    "durable_vs_store": ("durable turn", "stored turn, not durable", None, False),
    "durable_vs_memory": ("durable turn", "turn kept in memory", None, False),
    "memory_turn_ms": ("turn kept in memory, per turn", "", None, False),
    "store_turn_ms": ("stored turn, per turn", "", None, False),
    "durable_turn_ms": ("durable turn, per turn", "", None, False),
}


def readable(key: str) -> str:
    """A label for a figure no one described: its key, in words, without the unit."""
    if "_vs_" in key:
        figure, _, baseline = key.partition("_vs_")
        return f"{figure.replace('_', ' ')} vs {baseline.replace('_', ' ')}"
    for unit in ("_per_s", "_ms", "_mib"):
        key = key.removesuffix(unit)
    return key.replace("_", " ")


def _constant(bench: str, name: str) -> float | None:
    module = sys.modules.get(f"{__package__}.bench_{bench}")
    value = getattr(module, name, None)
    return float(value) if isinstance(value, int | float) else None


def _load(bench: str) -> Callable[[list[str]], dict[str, Any]] | None:
    name = f"{__package__}.bench_{bench}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise  # the benchmark is there; something it needs is not
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
            label, baseline, target, ceiling = KNOWN.get(
                key, (readable(key), "", None, False)
            )
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


def _target(f: Figure) -> str:
    return "" if f.target is None else f"{'<=' if f.ceiling else '>='} {f.show(f.target)}"


def render(figures: Sequence[Figure], *, title: str = "llmgine bench") -> Table:
    """One table: every figure, its same-run baseline, its target, whether it is met."""
    table = Table(title=title, title_justify="left")
    table.add_column("bench")
    table.add_column("figure")
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("baseline (same run)")
    table.add_column("target", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for f in figures:
        status = {None: "", True: "[green]met[/]", False: "[bold red]NOT met[/]"}[f.met]
        table.add_row(f.bench, f.name, f.show(f.value), f.baseline, _target(f), status)
    return table


DESCRIPTION = """Run the benchmarks and print one table: each figure next to a baseline
measured in the same run, and its target. Absolute rates depend on the
machine; the ratios are what to read.

benchmarks (all of them unless named):
  runtime   actor tell and ask, against a bare loop and trio channels
  bus       MessageBus publish and execute; latency at a paced 10k events/s
  tracer    what tracing costs the data path: none, quiet, JSONL, sampled
  import    import llmgine, against importing trio, httpx, attrs and cattrs

run only when named:
  agents    the agent loop's client CPU per turn against a raw httpx loop
            (and pydantic-ai, the OpenAI Agents SDK when installed); turns/s
            and peak RSS with many concurrent conversations
  store     the SQLite dead-letter store under a flood: letters/s against raw
            SQLite, and the worst filed-to-stored lag against flush_interval
  durable   what ChatEngine(durable=True) costs per turn against a stored
            and an in-memory conversation

exit status: 0 when every target is met, 1 when one is not (0 with --no-check),
2 for bad arguments.
"""


def build_parser() -> argparse.ArgumentParser:
    """The arguments of ``llmgine bench``."""
    parser = argparse.ArgumentParser(
        prog="llmgine bench",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="a short run (CI)")
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="only print: exit 0 even if a target is missed",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also print each benchmark's own report"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and print the combined table; 1 if a target is missed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in (*BENCHES, *ON_DEMAND)]
    if unknown:
        parser.error(
            f"unknown benchmark {unknown[0]!r}"
            f" (choose from {', '.join((*BENCHES, *ON_DEMAND))})"
        )
    known = (*BENCHES, *ON_DEMAND)
    chosen = [b for b in known if b in args.names] if args.names else list(BENCHES)
    console = Console()
    if not console.is_terminal:
        console.width = 120
    figures, printed = collect(args.quick, benches=chosen)
    if args.verbose:
        for text in printed.values():
            console.print(text, markup=False, highlight=False)
    console.print(render(figures))
    missing = [b for b in chosen if b not in printed]
    if missing:
        console.print(f"not present: {', '.join(missing)}")
    missed = [f for f in figures if f.met is False]
    targets = sum(f.met is not None for f in figures)
    if targets:
        console.print(
            f"{targets - len(missed)} of {targets} targets met", highlight=False
        )
    for f in missed:
        console.print(
            f"[bold red]not met[/] {f.bench}: {f.name} {f.show(f.value)}"
            f" (target {_target(f)})",
            highlight=False,
        )
    return 1 if missed and not args.no_check else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
