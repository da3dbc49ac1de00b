"""``llmgine demo``: offline in seconds, the story visible, a summary at the end."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
import trio
from rich.console import Console

from llmgine._exceptions import AuthenticationError, RateLimitError
from llmgine.actors import DeadLetterReason, DeadLetters
from llmgine.cli import _demo
from llmgine.cli._offline import offline_provider
from llmgine.cli._report import Storm, Tally, render_summary
from llmgine.llm import LLMRequest, Message, ScriptedProvider, StreamFinish
from llmgine.observability import Tracer, read_jsonl

from .conftest import Run


def _row(out: str, label: str) -> int:
    match = re.search(rf"{re.escape(label)}\s*│\s*(\d+)", out)
    assert match is not None, f"no row {label!r} in the summary"
    return int(match.group(1))


def test_demo_runs_offline_and_prints_the_summary(run: Run) -> None:
    outcome = run("demo")
    assert outcome.code == 0
    out = outcome.out
    # the supervision tree, the acts, and the trace lines in between
    assert "ChatEngine" in out
    assert "ProviderActor" in out
    assert "Paris is 7°C warmer than Tokyo." in out
    assert "actor.restarted" in out
    assert "/demo/app/services/station" in out
    assert "Reykjavik is 6°C and windy." in out
    assert "llmgine.breaker.to=open" in out
    assert "llmgine.breaker.to=half_open" in out
    assert "llmgine.breaker.to=closed" in out
    assert "CircuitOpenError" in out
    assert "failed fast" in out
    assert "London is 16°C and overcast." in out
    assert "the audit log holds 12 of the 12 events" in out
    # the summary
    assert "llmgine demo — summary" in out
    assert _row(out, "messages lost") == 0
    assert _row(out, "messages still queued") == 0
    accepted = _row(out, "messages accepted")
    assert accepted == _row(out, "messages processed") + _row(
        out, "messages dead-lettered"
    )
    assert _row(out, "actor restarts") == 1
    assert _row(out, "breaker trips") == 1
    assert _row(out, "dead letters: handler_failed") == 1
    assert _row(out, "dead letters: dropped_oldest") == 8
    assert _row(out, "dead letters redelivered") == 9
    assert _row(out, "LLM calls") == 11
    assert _row(out, "tokens") > 0


def test_demo_tally_matches_the_story() -> None:
    console = Console(record=True, width=120)
    tally = trio.run(_demo.demo, console)
    assert tally.system is not None
    assert tally.system.lost == 0
    assert tally.breaker_trips == 1
    assert dict(tally.dead_letters) == {
        DeadLetterReason.HANDLER_FAILED: 1,
        DeadLetterReason.DROPPED_OLDEST: 8,
    }
    assert tally.tracer is not None
    assert tally.tracer.dropped == 0
    assert tally.elapsed < 10.0


def test_quiet_demo_shows_no_trace_lines(run: Run) -> None:
    outcome = run("demo", "--quiet")
    assert outcome.code == 0
    assert "llm.call" not in outcome.out
    assert "llmgine demo — summary" in outcome.out


def test_verbose_demo_shows_every_record(run: Run) -> None:
    outcome = run("demo", "--verbose")
    assert outcome.code == 0
    assert "receive UserInput" in outcome.out
    assert "gen_ai.conversation.id=" in outcome.out


def test_demo_writes_a_trace_the_trace_command_reads(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "demo.jsonl"
    assert run("demo", "--quiet", "--trace", str(path)).code == 0
    records = read_jsonl(path)
    assert any(r.name == "invoke_agent chat" for r in records)
    outcome = run("trace", str(path))
    assert outcome.code == 0
    assert "engine.run invoke_agent chat" in outcome.out
    assert "✗ RateLimitError" in outcome.out


def test_an_unwritable_trace_file_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    outcome = run("demo", "--trace", str(tmp_path / "missing" / "demo.jsonl"))
    assert outcome.code == 2
    assert "cannot write the trace to" in outcome.err


def test_a_live_provider_plays_the_same_story(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(_demo, "live_provider", lambda name: offline_provider())
    outcome = run("demo", "--provider", "openai", "--model", "gpt-test", "--quiet")
    assert outcome.code == 0
    assert "llmgine demo — openai, model gpt-test" in outcome.out
    assert _row(outcome.out, "breaker trips") == 1


def test_a_refusing_provider_exits_1_with_one_line(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    refusing = ScriptedProvider([AuthenticationError("invalid x-api-key", status=401)])
    monkeypatch.setattr(_demo, "live_provider", lambda name: refusing)
    outcome = run("demo", "--provider", "anthropic", "--quiet")
    assert outcome.code == 1
    assert outcome.err == (
        "llmgine demo: error: the anthropic provider failed:"
        " [HTTP 401] invalid x-api-key\n"
    )


async def test_the_storm_also_breaks_streams() -> None:
    storm = Storm(offline_provider(steps=1))
    request = LLMRequest(model="m", messages=[Message.user("hi")])
    storm.arm(1)
    with pytest.raises(RateLimitError) as error:
        [event async for event in storm.stream(request)]
    assert error.value.status == 429
    assert storm.name == "scripted"
    events = [event async for event in storm.stream(request)]
    assert isinstance(events[-1], StreamFinish)
    await storm.aclose()


def test_an_empty_summary_still_renders() -> None:
    console = Console(record=True, width=100)
    render_summary(console, Tally())
    text = console.export_text()
    assert "breaker trips" in text
    assert "messages accepted" not in text


async def test_a_storm_turn_that_goes_through_is_said_so() -> None:
    class Engine:
        async def ask(self, message: object, *, timeout: float) -> None:
            return None

    console = Console(record=True, width=100)
    story = _demo._Story(console, Tracer([]))
    await _demo._failing_turn(story, Engine(), "hello")
    assert "(the turn went through)" in console.export_text()


def test_letters_that_cannot_go_back_do_not_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(self: DeadLetters, letters: object = None) -> int:
        return 0

    monkeypatch.setattr(DeadLetters, "redeliver", refuse)
    console = Console(record=True, width=120)
    tally = trio.run(functools.partial(_demo.demo, console, quiet=True))
    assert tally.redelivered == 0
    assert (
        "redelivered 0; the audit log holds 4 of the 12 events" in console.export_text()
    )


def test_demo_honours_llmgine_trace(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "env.jsonl"
    monkeypatch.setenv("LLMGINE_TRACE", f"jsonl:{path}")
    assert run("demo", "--quiet").code == 0
    names = {r.name for r in read_jsonl(path)}
    assert {"invoke_agent chat", "execute_tool get_weather"} <= names


def test_a_bad_llmgine_trace_stops_the_demo_with_one_line(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMGINE_TRACE", "bogus")
    outcome = run("demo")
    assert outcome.code == 2
    assert outcome.out == ""
    assert outcome.err.startswith("llmgine demo: error: LLMGINE_TRACE must be")
    assert outcome.err.count("\n") == 1


_LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) ([0-9a-f]{8}) (\S+)")


def test_trace_lines_come_in_the_order_things_started() -> None:
    console = Console(record=True, width=200)
    trio.run(_demo.demo, console)
    lines = [
        m.groups() for m in map(_LINE.match, console.export_text().splitlines()) if m
    ]
    assert lines
    assert [at for at, _, _ in lines] == sorted(at for at, _, _ in lines)
    # a turn's engine.run (recorded when it ends) comes before its LLM calls
    first_turn = [kind for _, trace, kind in lines if trace == lines[0][1]]
    assert first_turn[0] == "engine.run"
    assert "llm.call" in first_turn[1:]


def test_error_text_is_whole_on_an_80_column_terminal() -> None:
    console = Console(record=True, width=80, force_terminal=True)
    trio.run(_demo.demo, console)
    text = console.export_text()
    flat = " ".join(text.split())
    assert "✗ RuntimeError: sensor glitch reading Reykjavik" in flat
    assert "✗ RateLimitError: [scripted HTTP 429] Too Many Requests" in flat
    assert max(len(line) for line in text.splitlines()) <= 80
    assert not [line for line in text.splitlines() if "✗" in line and "…" in line]


def test_a_one_call_reply_is_said_in_the_singular() -> None:
    from llmgine.llm import Usage

    console = Console(record=True, width=100)
    story = _demo._Story(console, Tracer([]))
    result = _demo.ChatResult(
        text="hi", steps=1, usage=Usage(input_tokens=1), messages=()
    )
    story.reply(result)
    assert "  1 LLM call, tokens in=1" in console.export_text()
