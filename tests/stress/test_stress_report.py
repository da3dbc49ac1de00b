"""The stress summary: fitted to the terminal, the full table when wide, a legend."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from stress import ScenarioResult
from stress.report import COLUMNS, LEGEND, columns_for, print_summary
from stress.runner import main

FULL = [c.header for c in COLUMNS if not c.compact_only]


def _result(name: str, **changes: object) -> ScenarioResult:
    fields: dict[str, object] = dict(
        name=name,
        profile="quick",
        seed=0,
        wall_s=2.0,
        actors=20,
        sent=204_000,
        accepted=203_961,
        refused=39,
        processed=185_000,
        dead_lettered=19_857,
        queued=0,
        lost=0,
        throughput=102_345.0,
        p50_ms=67.75,
        p99_ms=113.0,
        p999_ms=123.0,
        restarts=270,
        breaker_trips=49,
        dead_letters={"mailbox_full": 10_763, "dropped_oldest": 10_759},
        leaked_tasks=0,
        leaked_actors=0,
        peak_rss_mib=52.0,
        recovery_s=0.17,
        failures=(),
    )
    fields.update(changes)
    return ScenarioResult(**fields)  # type: ignore[arg-type]


RESULTS = [
    _result("slow_consumers"),
    _result("chat", sent=376, processed=1_684),
    _result("shutdown", recovery_s=None, warnings=("late",)),
]


def _printed(width: int, *, wide: bool = False) -> list[str]:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    print_summary(RESULTS, console, wide=wide)
    return out.getvalue().splitlines()


def test_the_table_fits_80_columns_and_keeps_the_invariants() -> None:
    lines = _printed(80)
    assert max(len(line.rstrip()) for line in lines) <= 80
    text = "\n".join(lines)
    assert "…" not in text
    header = [c.header for c in columns_for(RESULTS, 80)]
    assert header[:5] == ["scenario", "ok", "lost", "sent", "processed"]
    assert "slow_consumers" in text
    assert "21,522" in text  # dead letters summed in the compact table


def test_a_narrow_terminal_keeps_the_most_important_columns() -> None:
    kept = [c.header for c in columns_for(RESULTS, 50)]
    assert kept == ["scenario", "ok", "lost", "sent", "processed"]
    assert max(len(line.rstrip()) for line in _printed(50)) <= 50


def test_a_wide_terminal_gets_the_full_table() -> None:
    assert [c.header for c in columns_for(RESULTS, 200)] == FULL
    assert [c.header for c in columns_for(RESULTS)] == FULL
    text = "\n".join(_printed(200))
    assert "full=10,763 oldest=10,759" in text


def test_wide_prints_the_full_table_on_a_narrow_terminal() -> None:
    lines = _printed(80, wide=True)
    assert any("p99.9 ms" in line and "recovery s" in line for line in lines)
    assert "…" not in "\n".join(lines)


def test_the_legend_explains_the_shown_columns_and_the_chat_row() -> None:
    text = "\n".join(_printed(80))
    assert "  lost" in text
    assert "in chat each turn is also the" in text
    assert "provider calls and tool calls" in text
    assert "  p99.9 ms" not in text  # not shown, not explained
    assert set(LEGEND) <= set(FULL)


def test_the_command_fits_the_columns_it_is_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    args = ["--quick", "--scenario", "steady", "--duration", "0.2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert max(len(line.rstrip()) for line in out.splitlines()) <= 80
    assert main([*args, "--wide"]) == 0
    assert "p99.9 ms" in capsys.readouterr().out
