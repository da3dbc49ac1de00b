"""Running the ``llmgine`` command in-process and reading what it printed."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from llmgine.cli import main


@attrs.frozen
class Outcome:
    """What one run of the command did."""

    code: int
    out: str
    err: str


Run = Callable[..., Outcome]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``llmgine *args`` in-process; return its exit code and output."""

    def invoke(*args: str) -> Outcome:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


@pytest.fixture(autouse=True)
def _no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real provider, whatever the environment holds."""
    for name in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "OLLAMA_HOST",
        "LLMGINE_TRACE",
    ):
        monkeypatch.delenv(name, raising=False)
