"""Rendering results: the rich summary table and JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from .result import ScenarioResult

__all__ = ["render_table", "to_json"]

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


def render_table(results: Sequence[ScenarioResult], *, title: str | None = None) -> Table:
    """The summary table: one row per scenario, invariants first."""
    table = Table(title=title or "llmgine stress", title_justify="left")
    for name, justify in (
        ("scenario", "left"),
        ("ok", "center"),
        ("lost", "right"),
        ("sent", "right"),
        ("processed", "right"),
        ("refused", "right"),
        ("msg/s", "right"),
        ("p50 ms", "right"),
        ("p99 ms", "right"),
        ("p99.9 ms", "right"),
        ("restarts", "right"),
        ("trips", "right"),
        ("dead letters", "left"),
        ("leaked", "right"),
        ("RSS MiB", "right"),
        ("recovery s", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in results:
        table.add_row(
            r.name,
            "[green]yes[/]" if r.ok else "[bold red]NO[/]",
            str(r.lost) if not r.lost else f"[bold red]{r.lost}[/]",
            _count(r.sent),
            _count(r.processed),
            _count(r.refused),
            _count(r.throughput),
            _ms(r.p50_ms),
            _ms(r.p99_ms),
            _ms(r.p999_ms),
            _count(r.restarts),
            _count(r.breaker_trips),
            _letters(r.dead_letters),
            str(r.leaked_tasks + r.leaked_actors),
            f"{r.peak_rss_mib:.0f}",
            _recovery(r),
        )
    total = sum(r.sent for r in results)
    table.caption = (
        f"{_count(total)} messages, {sum(r.actors for r in results)} actors,"
        f" lost {sum(r.lost for r in results)};"
        " latency = send to handled, paced in ~1 ms ticks"
    )
    table.caption_justify = "left"
    return table


def print_summary(
    results: Sequence[ScenarioResult], console: Console | None = None
) -> None:
    """Print the table and every broken invariant."""
    console = console or Console()
    console.print(render_table(results))
    for r in results:
        for failure in r.failures:
            console.print(f"[bold red]FAIL[/] {r.name}: {failure}")
        for warning in r.warnings:
            console.print(f"[yellow]warn[/] {r.name}: {warning}")


def to_json(results: Sequence[ScenarioResult]) -> str:
    """The results as a JSON document (a list of objects)."""
    return json.dumps([r.to_dict() for r in results], indent=2, default=str)
