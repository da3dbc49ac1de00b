"""``llmgine chat``: driven by scripted standard input, or by an injected reader."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterable
from pathlib import Path

import pytest
from rich.console import Console

from llmgine._exceptions import ProviderUnavailable, RateLimitError
from llmgine.cli import _chat
from llmgine.cli._chat import ReadLine, run_chat
from llmgine.engines import ToolExecuted
from llmgine.llm import ScriptedProvider, ToolCallPart, ToolResultPart
from llmgine.observability import read_jsonl

from .conftest import Run


def _stdin(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{x}\n" for x in lines)))


def _reader(lines: Iterable[str]) -> ReadLine:
    queue = list(lines)

    async def read_line(prompt: str) -> str | None:
        return queue.pop(0) if queue else None

    return read_line


def _args(**overrides: object) -> argparse.Namespace:
    values: dict[str, object] = {
        "provider": "scripted",
        "model": None,
        "trace": None,
        "system": None,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


def test_chat_from_stdin_runs_tools_and_commands(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stdin(
        monkeypatch,
        "/tools",
        "What is the weather in Paris and Tokyo?",
        "",
        "/clear",
        "/exit",
        "never read",
    )
    outcome = run("chat")
    assert outcome.code == 0
    out = outcome.out
    assert "you ▸ /tools" in out  # piped input is echoed
    assert "get_weather" in out
    assert "Get the current weather in a city." in out
    assert "city, unit?" in out
    assert "⚙ calling get_weather…" in out
    assert '✓ get_weather({"city": "Paris"}) → Paris: 21°C, sunny' in out
    assert "✓ calculate" in out
    assert "llm ▸ Paris is 21°C and sunny." in out
    assert "3 LLM calls" in out
    assert "conversation cleared" in out
    assert out.rstrip().endswith("bye")
    assert "never read" not in out


def test_end_of_input_ends_the_chat(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, "hello")
    outcome = run("chat")
    assert outcome.code == 0
    assert "You said: hello." in outcome.out
    assert outcome.out.rstrip().endswith("bye")


def test_clear_forgets_the_conversation(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(record=True, width=120)
    lines = ["what is 6 * 7?", "/clear", "what is 1 + 1?", "/quit"]
    provider = _chat.offline_provider(steps=0)
    monkeypatch.setattr(_chat, "offline_provider", lambda *_, **__: provider)
    assert run_chat(_args(), console, _reader(lines)) == 0
    seen = [len(request.messages) for request in provider.requests]
    # turn 1: user; user+call+result. After /clear, turn 2 starts afresh.
    assert seen == [1, 3, 1, 3]
    text = console.export_text()
    assert "6 * 7 = 42." in text
    assert "1 + 1 = 2." in text


def test_help_and_unknown_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(record=True, width=120)
    assert run_chat(_args(), console, _reader(["/help", "/frobnicate"])) == 0
    text = console.export_text()
    assert text.count("commands: /tools") == 3  # banner, /help, unknown command
    assert "unknown command /frobnicate" in text


def test_a_failed_turn_is_reported_and_the_chat_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _chat.OfflineModel()
    provider = ScriptedProvider([RateLimitError("slow down", status=429), model, model])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(_chat, "live_provider", lambda name: provider)
    console = Console(record=True, width=120)
    args = _args(provider="openai", model="gpt-test", system="Be brief.")
    assert run_chat(args, console, _reader(["hi", "hi again"])) == 0
    text = console.export_text()
    assert "openai, model gpt-test" in text
    assert "✗ RateLimitError: [HTTP 429] slow down" in text
    assert "rolled back" in text
    assert "You said: hi again." in text
    assert provider.requests[-1].system == "Be brief."


def test_a_failing_provider_opens_the_chat_circuit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failures = [ProviderUnavailable("down", status=503)] * _chat._BREAKER_FAILURES
    provider = ScriptedProvider([*failures, _chat.OfflineModel()])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(_chat, "live_provider", lambda name: provider)
    console = Console(record=True, width=120)
    lines = ["hi"] * (_chat._BREAKER_FAILURES + 1)
    assert run_chat(_args(provider="openai"), console, _reader(lines)) == 0
    text = console.export_text()
    assert text.count("ProviderUnavailable") == _chat._BREAKER_FAILURES
    assert "CircuitOpenError" in text  # the last turn fails fast
    assert len(provider.requests) == _chat._BREAKER_FAILURES
    assert all(r.stream for r in provider.requests)  # streamed through the actor


def test_a_failing_tool_is_shown_in_red(monkeypatch: pytest.MonkeyPatch) -> None:
    console = Console(record=True, width=120)
    assert run_chat(_args(), console, _reader(["what is 1 / 0 + 1?"])) == 0
    text = console.export_text()
    assert "✗ calculate" in text
    assert "ZeroDivisionError" in text


def test_chat_writes_its_trace(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    console = Console(record=True, width=120)
    assert run_chat(_args(trace=str(path)), console, _reader(["what is 2 * 3?"])) == 0
    names = {record.name for record in read_jsonl(path)}
    assert {"invoke_agent chat", "chat offline-demo", "execute_tool calculate"} <= names


def test_an_unwritable_chat_trace_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    outcome = run("chat", "--trace", str(tmp_path / "no" / "dir" / "t.jsonl"))
    assert outcome.code == 2
    assert "cannot write the trace" in outcome.err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_input_is_not_echoed(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", _Terminal("hello\n/exit\n"))
    outcome = run("chat")
    assert outcome.code == 0
    assert "you ▸ hello" not in outcome.out
    assert "You said: hello." in outcome.out


def test_raw_string_arguments_are_shown_as_sent() -> None:
    console = Console(record=True, width=100)
    printer = _chat._Printer(console)
    call = ToolCallPart(id="1", name="calculate", arguments='{"expression": 2')
    result = ToolResultPart(call_id="1", content="invalid arguments", is_error=True)
    printer.show(ToolExecuted(call=call, result=result))
    text = console.export_text()
    assert '✗ calculate({"expression": 2) → invalid arguments' in text


def test_a_bad_llmgine_trace_is_one_line_and_exit_2(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMGINE_TRACE", "bogus")
    _stdin(monkeypatch, "hello")
    outcome = run("chat")
    assert outcome.code == 2
    assert outcome.out == ""
    assert outcome.err.startswith("llmgine chat: error: LLMGINE_TRACE must be")
    assert outcome.err.count("\n") == 1


def test_chat_honours_llmgine_trace_beside_its_own_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from_env, own = tmp_path / "env.jsonl", tmp_path / "own.jsonl"
    monkeypatch.setenv("LLMGINE_TRACE", f"jsonl:{from_env}")
    console = Console(record=True, width=120)
    assert run_chat(_args(trace=str(own)), console, _reader(["what is 2 * 3?"])) == 0
    for path in (from_env, own):
        assert "invoke_agent chat" in {r.name for r in read_jsonl(path)}


def test_one_llm_call_is_said_in_the_singular() -> None:
    console = Console(record=True, width=120)
    assert run_chat(_args(), console, _reader(["hello"])) == 0
    text = console.export_text()
    assert "  1 LLM call · tokens" in text
    assert "1 LLM calls" not in text
