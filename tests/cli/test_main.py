"""The command line itself: help, usage errors, ``python -m llmgine``, delegation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llmgine.cli import _main
from llmgine.cli._suite import import_suite

from .conftest import Run


def test_help_lists_every_command(run: Run) -> None:
    with pytest.raises(SystemExit) as exit_:
        run("--help")
    assert exit_.value.code == 0


def test_help_text_names_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    _main.build_parser().print_help()
    out = capsys.readouterr().out
    for command in ("demo", "chat", "trace", "stress", "bench"):
        assert f"llmgine {command}" in out


@pytest.mark.parametrize("command", ["demo", "chat", "trace"])
def test_each_command_has_help(run: Run, command: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(command, "--help")
    assert exit_.value.code == 0


def test_no_command_prints_help_and_exits_2(run: Run) -> None:
    outcome = run()
    assert outcome.code == 2
    assert "llmgine demo" in outcome.out


def test_version(run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run("--version")
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("llmgine ")


def test_unknown_provider_is_an_argparse_error(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        run("demo", "--provider", "nope")
    assert exit_.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("gemini", "GEMINI_API_KEY or GOOGLE_API_KEY"),
    ],
)
@pytest.mark.parametrize("command", ["demo", "chat"])
def test_missing_key_is_one_line_naming_the_variable(
    run: Run, command: str, provider: str, variable: str
) -> None:
    outcome = run(command, "--provider", provider)
    assert outcome.code == 2
    assert outcome.out == ""
    assert outcome.err == (
        f"llmgine {command}: error: --provider {provider} needs an API key:"
        f" set {variable}\n"
    )


def test_empty_model_is_a_usage_error(run: Run) -> None:
    outcome = run("demo", "--model", " ")
    assert outcome.code == 2
    assert "--model must not be empty" in outcome.err


def test_python_dash_m_runs_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llmgine", "trace", "/no/such/file.jsonl"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "llmgine trace: error: cannot read /no/such/file.jsonl: No such file or directory"
    )


def test_stress_delegates_to_the_suite(run: Run) -> None:
    outcome = run("stress", "--quick", "--scenario", "steady", "--duration", "0.2")
    assert outcome.code == 0
    assert "steady" in outcome.out
    assert "lost 0" in outcome.out


def test_stress_usage_errors_come_from_its_parser(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run("stress", "--scenario", "nope")
    assert outcome.code == 2
    assert "llmgine stress" in outcome.err


def test_bench_delegates_to_the_benchmarks(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = import_suite("bench")
    monkeypatch.setattr(bench, "_load", lambda name: None)
    outcome = run("bench", "--quick")
    assert outcome.code == 0
    assert "llmgine bench" in outcome.out


def test_bench_help_is_plain_text(run: Run) -> None:
    outcome = run("bench", "--help")
    assert outcome.code == 0
    assert "usage: llmgine bench" in outcome.out
    assert "``" not in outcome.out
    assert "stress/" not in outcome.out
    assert ".py" not in outcome.out


def test_stress_help_names_its_options(run: Run) -> None:
    outcome = run("stress", "--help")
    assert outcome.code == 0
    assert "--wide" in outcome.out


def test_ctrl_c_exits_130(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(_main, "_run", interrupted)
    outcome = run("demo")
    assert outcome.code == 130
    assert "interrupted" in outcome.err


def test_a_terminal_console_keeps_its_own_width(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from llmgine.cli._common import make_console

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    monkeypatch.setenv("COLUMNS", "50")
    assert make_console().width == 50
    monkeypatch.setattr(Console, "is_terminal", property(lambda self: False))
    assert make_console().width >= 110
