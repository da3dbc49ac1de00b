"""Rendering results: the summary table (fitted to the terminal), its legend, JSON."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Sequence

import attrs
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .result import ScenarioResult

__all__ = [
    "COLUMNS",
    "LEGEND",
    "Column",
    "columns_for",
    "print_summary",
    "render_legend",
    "render_table",
    "to_json",
]

_REASONS = {
    "mailbox_full": "full",
    "dropped_oldest": "oldest",
    "actor_stopped": "stopped",
    "handler_failed": "failed",
    "circuit_open": "open",
}


def _count(n: float) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.0f}M"
    if n >= 100_000:
        return f"{n / 1e3:.0f}k"
    return f"{n:,.0f}"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _letters(letters: dict[str, int]) -> str:
    return (
        " ".join(f"{_REASONS.get(k, k)}={_count(v)}" for k, v in letters.items()) or "-"
    )


def _recovery(r: ScenarioResult) -> str:
    if r.recovery_s is not None:
        return f"{r.recovery_s:.2f}"
    return "[yellow]late[/]" if r.warnings else "-"


@attrs.frozen(kw_only=True)
class Column:
    """One column of the summary: its header, its cell, and how much it matters.

    ``rank`` orders the columns kept when the terminal is narrow (lower first);
    ``full_only`` columns appear only in the full table, ``compact_only`` ones
    (shorter stand-ins) only in the compact one.
    """

    header: str
    cell: Callable[[ScenarioResult], str]
    rank: int
    justify: str = "right"
    full_only: bool = False
    compact_only: bool = False


COLUMNS: tuple[Column, ...] = (
    Column(header="scenario", cell=lambda r: r.name, rank=0, justify="left"),
    Column(
        header="ok",
        cell=lambda r: "[green]yes[/]" if r.ok else "[bold red]NO[/]",
        rank=0,
        justify="center",
    ),
    Column(
        header="lost",
        cell=lambda r: str(r.lost) if not r.lost else f"[bold red]{r.lost}[/]",
        rank=0,
    ),
    Column(header="sent", cell=lambda r: _count(r.sent), rank=1),
    Column(header="processed", cell=lambda r: _count(r.processed), rank=1),
    Column(header="refused", cell=lambda r: _count(r.refused), rank=4),
    Column(header="msg/s", cell=lambda r: _count(r.throughput), rank=2),
    Column(header="p50 ms", cell=lambda r: _ms(r.p50_ms), rank=6),
    Column(header="p99 ms", cell=lambda r: _ms(r.p99_ms), rank=2),
    Column(header="p99.9 ms", cell=lambda r: _ms(r.p999_ms), rank=7),
    Column(header="restarts", cell=lambda r: _count(r.restarts), rank=3),
    Column(header="trips", cell=lambda r: _count(r.breaker_trips), rank=5),
    Column(
        header="dead letters",
        cell=lambda r: _letters(r.dead_letters),
        rank=3,
        justify="left",
        full_only=True,
    ),
    Column(
        header="dead letters",
        cell=lambda r: _count(sum(r.dead_letters.values())),
        rank=3,
        compact_only=True,
    ),
    Column(header="leaked", cell=lambda r: str(r.leaked_tasks + r.leaked_actors), rank=4),
    Column(header="RSS MiB", cell=lambda r: f"{r.peak_rss_mib:.0f}", rank=8),
    Column(header="recovery s", cell=_recovery, rank=5),
)

#: What the columns whose meaning is not obvious count.
LEGEND: dict[str, str] = {
    "lost": "accepted messages neither processed, dead-lettered nor still queued"
    " (must be 0)",
    "sent": "jobs the scenario's clients sent (in chat: user turns)",
    "processed": "messages every actor handled; in chat each turn is also the"
    " provider calls and tool calls it makes, so processed exceeds sent",
    "refused": "sends turned away at once (mailbox full, circuit open): the sender"
    " knew, nothing is lost",
    "msg/s": "jobs completed per second of load",
    "p50 ms": "send to handled, median",
    "p99 ms": "send to handled, 99th percentile (paced in ~1 ms ticks)",
    "p99.9 ms": "send to handled, 99.9th percentile",
    "trips": "times a circuit breaker opened",
    "dead letters": "full: mailbox full, oldest: dropped for a newer one, stopped:"
    " actor stopped, failed: handler failed, open: circuit open",
    "leaked": "tasks and actors still there after the system closed (must be 0)",
    "RSS MiB": "peak resident memory of the process",
    "recovery s": "time for throughput to come back after the faults"
    " (late: not before the run ended)",
}


# Cells a compact column takes beyond its content (padding and divider).
_COMPACT_GAP = 2


def _plain(markup: str) -> str:
    return Text.from_markup(markup).plain


def _width(column: Column, results: Sequence[ScenarioResult], *, compact: bool) -> int:
    words = column.header.split() if compact else [column.header]
    cells = [len(_plain(column.cell(r))) for r in results]
    return max([len(w) for w in words] + cells)


def _full() -> list[Column]:
    return [c for c in COLUMNS if not c.compact_only]


def columns_for(
    results: Sequence[ScenarioResult], width: int | None = None
) -> list[Column]:
    """The columns that fit ``width`` terminal cells (all of them when None).

    The full table is used when it fits; otherwise the compact columns are kept
    by rank (the invariants first) while they fit, headers wrapping at spaces.
    """
    full = _full()
    if width is None:
        return full
    needed = sum(_width(c, results, compact=False) + 3 for c in full) + 1
    if needed <= width:
        return full
    compact = [c for c in COLUMNS if not c.full_only]
    kept: set[int] = set()
    used = 0
    for index, column in sorted(enumerate(compact), key=lambda pair: pair[1].rank):
        cost = _width(column, results, compact=True) + _COMPACT_GAP
        if column.rank > 0 and used + cost > width:
            break  # the rest matter less: keep the order of importance
        kept.add(index)
        used += cost
    return [c for i, c in enumerate(compact) if i in kept]


def render_table(
    results: Sequence[ScenarioResult],
    *,
    title: str | None = None,
    width: int | None = None,
) -> Table:
    """The summary table: one row per scenario, invariants first.

    ``width`` fits it to a terminal of that many cells (compact columns when the
    full table is wider); None gives the full table.
    """
    chosen = columns_for(results, width)
    compact = chosen != _full()
    table = Table(
        title=title or "llmgine stress",
        title_justify="left",
        box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,
        show_edge=not compact,
        pad_edge=not compact,
        collapse_padding=compact,
    )
    for column in chosen:
        table.add_column(
            column.header.replace(" ", "\n") if compact else column.header,
            justify=column.justify,  # type: ignore[arg-type]
            no_wrap=True,
        )
    for r in results:
        table.add_row(*(column.cell(r) for column in chosen))
    total = sum(r.sent for r in results)
    table.caption = (
        f"{_count(total)} messages sent, {sum(r.actors for r in results)} actors,"
        f" lost {sum(r.lost for r in results)}"
    )
    table.caption_justify = "left"
    return table


def render_legend(columns: Sequence[Column], width: int = 80) -> list[str]:
    """What the shown columns whose meaning is not obvious count, wrapped to ``width``."""
    shown = [c.header for c in columns if c.header in LEGEND]
    indent = max((len(h) for h in shown), default=0) + 4
    lines = []
    for header in shown:
        lines += textwrap.wrap(
            LEGEND[header],
            width=max(width, indent + 30),
            initial_indent=f"  {header:<{indent - 4}}  ",
            subsequent_indent=" " * indent,
        )
    return lines


def print_summary(
    results: Sequence[ScenarioResult],
    console: Console | None = None,
    *,
    wide: bool = False,
    legend: bool = True,
) -> None:
    """Print the table (fitted to the console unless ``wide``), its legend, and
    every broken invariant."""
    console = console or Console()
    width = None if wide else console.width
    table = render_table(results, width=width)
    if wide:  # as wide as it needs: the terminal wraps it rather than rich squeezing it
        previous = console.width
        natural = console.measure(table, options=console.options.update_width(10_000))
        console.width = max(previous, natural.maximum)
        console.print(table)
        console.width = previous
    else:
        console.print(table)
    if legend:
        shown = columns_for(results, width)
        for line in render_legend(shown, console.width):
            console.print(line, markup=False, highlight=False, crop=False)
    for r in results:
        for failure in r.failures:
            console.print(f"[bold red]FAIL[/] {r.name}: {failure}")
        for warning in r.warnings:
            console.print(f"[yellow]warn[/] {r.name}: {warning}")


def to_json(results: Sequence[ScenarioResult]) -> str:
    """The results as a JSON document (a list of objects)."""
    return json.dumps([r.to_dict() for r in results], indent=2, default=str)
