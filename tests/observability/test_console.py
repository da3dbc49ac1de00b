"""ConsoleHandler: one readable line per record."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from llmgine._exceptions import ConfigurationError
from llmgine.observability import ConsoleHandler
from llmgine.tracing import RecordKind

from ._records import make_record

AT = 1_700_000_000.25


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, color_system=None), out


def test_one_compact_line_per_record() -> None:
    console, out = _console()
    handler = ConsoleHandler(console)
    handler.handle(
        [
            make_record(
                RecordKind.LLM_CALL,
                "chat gpt-4o",
                trace_id="3f9a1c2e" + "0" * 24,
                at=AT,
                duration=0.8123,
                actor="/app/llm",
                attributes={
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 52,
                    "gen_ai.usage.output_tokens": 18,
                    "gen_ai.response.finish_reasons": ("stop",),
                    "gen_ai.input.messages": '[{"role": "user"}]',
                },
            ),
            make_record(
                RecordKind.DEAD_LETTER,
                "Incr",
                at=AT,
                duration=None,
                actor="/app/counter",
                attributes={"reason": "ACTOR_STOPPED"},
            ),
        ]
    )
    first, second = out.getvalue().splitlines()
    clock = time.strftime("%H:%M:%S", time.localtime(AT))
    assert first.startswith(f"{clock}.250 3f9a1c2e llm.call")
    assert "chat gpt-4o  /app/llm  812.3ms  in=52 out=18 finish=stop" in first
    assert "gpt-4o" not in first.split("/app/llm")[1]  # the model is in the name already
    assert "role" not in first  # message content is never printed
    assert "dead_letter" in second
    assert "Incr  /app/counter  reason=ACTOR_STOPPED" in second
    assert "ms" not in second  # a point event has no duration


@pytest.mark.parametrize(
    ("duration", "shown"),
    [(0.0000042, "4µs"), (0.0123, "12.3ms"), (2.5, "2.50s")],
)
def test_durations_read_at_a_glance(duration: float, shown: str) -> None:
    console, out = _console()
    ConsoleHandler(console).handle([make_record(duration=duration)])
    assert f"  {shown}" in out.getvalue()


def test_errors_are_shown_in_red() -> None:
    handler = ConsoleHandler(_console()[0])
    record = make_record(
        RecordKind.MESSAGE,
        "receive Boom",
        error="ValueError: boom",
        error_type="ValueError",
    )
    line = handler.format(record)
    assert "✗ ValueError: boom" in line.plain
    red = [span for span in line.spans if "red" in str(span.style)]
    assert red
    assert line.plain[red[-1].start : red[-1].end].strip() == "✗ ValueError: boom"


def test_colour_differs_by_kind() -> None:
    handler = ConsoleHandler(_console()[0])
    styles = {
        kind: str(handler.format(make_record(kind)).spans[2].style)
        for kind in (RecordKind.LLM_CALL, RecordKind.MESSAGE, RecordKind.DEAD_LETTER)
    }
    assert len(set(styles.values())) == 3


def test_kinds_filter_and_min_duration() -> None:
    console, out = _console()
    handler = ConsoleHandler(
        console, kinds=["llm.call", RecordKind.DEAD_LETTER], min_duration=0.1
    )
    handler.handle(
        [
            make_record(RecordKind.MESSAGE, "receive A", duration=1.0),  # wrong kind
            make_record(RecordKind.LLM_CALL, "chat fast", duration=0.01),  # too quick
            make_record(RecordKind.LLM_CALL, "chat slow", duration=0.5),
            make_record(
                RecordKind.LLM_CALL, "chat failed", duration=0.01, error_type="Boom"
            ),
            make_record(RecordKind.DEAD_LETTER, "Incr", duration=None),
        ]
    )
    text = out.getvalue()
    assert "receive A" not in text
    assert "chat fast" not in text
    assert "chat slow" in text
    assert "chat failed" in text  # failures are always shown
    assert "Incr" in text  # point events are always shown


def test_secrets_never_reach_the_console() -> None:
    console, out = _console()
    ConsoleHandler(console).handle(
        [
            make_record(
                attributes={"authorization": "Bearer abcdefghijk", "x-api-key": "k"},
                error="AuthenticationError: key sk-abcdefghijklmnopqrstuvwx refused",
                error_type="AuthenticationError",
            )
        ]
    )
    text = out.getvalue()
    assert "abcdefghijk" not in text
    assert "sk-abcdefghijklmnopqrstuvwx" not in text
    assert "x-api-key=[REDACTED]" in text


def test_long_values_are_shortened() -> None:
    console, out = _console()
    ConsoleHandler(console).handle([make_record(attributes={"note": "x" * 100})])
    assert "x" * 39 + "…" in out.getvalue()
    assert "x" * 41 not in out.getvalue()


def test_default_console_writes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    handler = ConsoleHandler()
    handler.handle([make_record(name="to stderr")])
    handler.close()
    captured = capsys.readouterr()
    assert "to stderr" in captured.err
    assert captured.out == ""
    assert repr(handler).startswith("ConsoleHandler(")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kinds": ["llm"]}, "'kinds' must name record kinds"),
        ({"min_duration": -1}, "'min_duration' must be a number of seconds >= 0"),
        ({"min_duration": "1"}, "'min_duration' must be a number of seconds >= 0"),
    ],
)
def test_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ConsoleHandler(**kwargs)  # type: ignore[arg-type]


def test_on_a_terminal_long_lines_are_cut() -> None:
    out = io.StringIO()
    console = Console(file=out, width=60, force_terminal=True, color_system=None)
    ConsoleHandler(console).handle([make_record(attributes={"note": "y" * 30})])
    (line,) = out.getvalue().splitlines()
    assert len(line) == 60
    assert line.endswith("…")


def test_in_a_file_long_lines_stay_whole() -> None:
    out = io.StringIO()
    ConsoleHandler(Console(file=out, width=60)).handle(
        [make_record(attributes={"note": "y" * 30, "other": "z" * 30})]
    )
    (line,) = out.getvalue().splitlines()
    assert line.endswith("other=" + "z" * 30)


def test_the_actor_is_not_repeated_when_it_is_the_name() -> None:
    line = ConsoleHandler(_console()[0]).format(
        make_record(RecordKind.ACTOR_STARTED, "/app/a", actor="/app/a", duration=None)
    )
    assert line.plain.count("/app/a") == 1
