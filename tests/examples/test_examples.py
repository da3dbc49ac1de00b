"""Every program in examples/ runs offline, as a user would run it, and says so.

The examples start together (each in its own interpreter, with the venv's
python and no API keys or OTLP endpoint in the environment) and each test
checks one example's exit code and output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: What each example must print (substrings, in this order).
EXPECTED: Mapping[str, tuple[str, ...]] = {
    "minimal_actor_system": (
        "count: 42",
        "accepted=12 processed=12 queued=0",
        "lost: 0",
    ),
    "embedding_in_trio": (
        "cancelled: True; handled",
        "first reply: 'hello, request 0'",
        "the app sees: SupervisionError: supervisor /jobs gave up",
        "caused by: RuntimeError",
    ),
    "supervision_and_breaker": (
        "tea left: 2",
        "the asker gets the error: ValueError('corrupted record')",
        "restarts: 1",
        "attempt 0: payment gateway unreachable",
        "attempt 2: failing fast: circuit of /shop/backend/payments is open",
        "breaker: BreakerState.OPEN",
        "after the reset timeout: charged 100 cents",
        "breaker: BreakerState.CLOSED",
        "(handler_failed)",
    ),
    "message_bus_sessions": (
        "execute: True order for 2 tea",
        "a failing handler gives a failed result: False ValueError: cannot order 0 tea",
        "bus saw tea",
        "session saw cake",
        "session ended",
        "bus saw scones",
        "lost 0",
    ),
    "provider_switching": (
        "openai (offline, MockTransport)",
        "POST /v1/chat/completions",
        "provider=openai model=gpt-4o-mini-2024-07-18",
        "anthropic (offline, MockTransport)",
        "POST /v1/messages",
        "gemini (offline, MockTransport)",
        "models/gemini-2.0-flash:generateContent",
        "provider=gcp.gemini",
        "tool_calls=[('get_weather', {'city': 'Paris'})]",
    ),
    "streaming": (
        "provider.stream():",
        "delta 'Streamin'",
        "finish: stop",
        "tool  word_count -> 3",
        "text  'The te'",
        "result: 'The text has 3 words.' in 2 steps",
    ),
    "tools_and_chat_engine": (
        '"enum": ["c", "f"]',
        "invalid arguments -> is_error=True",
        "llm: Both Paris and Tokyo are 21°C and sunny.",
        "llm: Together that makes 42 degrees.",
        "the conversation holds 9 messages",
        "the second turn saw the first: 6 messages",
    ),
    "opentelemetry_export": (
        "reply: An actor handles one message at a time.",
        "internal invoke_agent assistant in=82 out=19",
        "client   chat scripted-model",
        "execute_tool lookup",
        "gen_ai.client.operation.duration [chat] count=2",
        "gen_ai.client.token.usage [input] count=2 sum=82",
    ),
    "dead_letters_sqlite": (
        "user2@example.com    mailbox_full",
        "user0@example.com    handler_failed  ConnectionError",
        "accepted=4 processed=0 dead-lettered=4 lost=0",
        "loaded 4 dead letters",
        "redelivered 4",
        "dead letters left in the store: 0",
    ),
    "structured_output": (
        "sent: response_format json_schema strict=True",
        "output: Weather(city='Paris', celsius=18.5, sky='sunny')",
        "offered tools: ['final_result']",
        "the model was told: The final result did not validate: sky: expected one of",
        "output: Weather(city='Oslo', celsius=-3.0, sky='cloudy') after 2 LLM calls",
        "one turn, list[str]: ['Oslo', 'Bergen']",
    ),
    "tool_approval": (
        "waiting: pay({'to': 'Ada', 'euros': 40})",
        "payments before approval: []",
        "approved: Paid Ada 40 EUR. payments: ['40 EUR to Ada']",
        "denied: the model was told \"The user denied this call of 'pay':",
        "waiting before the restart: 1 call",
        "after the restart: Paid again. payments: ['40 EUR to Ada', '40 EUR to Ada']",
    ),
    "agents_as_tools": (
        "research -> '2.1 million.'",
        "fact_check -> is_error=True: the agent 'fact_check' failed: ProviderUnavailable",
        "lead: About 2.1 million people live in Paris",
        "input tokens: lead 442 + children 121 = the turn's usage 563",
        "  invoke_agent lead",
        "    execute_tool research",
        "      invoke_agent researcher",
        "        execute_tool search",
        "    execute_tool fact_check",
        "      invoke_agent checker",
    ),
    "durable_turns": (
        "first process exit code: -9",
        "effects so far: ['charged 500', 'receipt to ada@example.com']",
        "a new input is refused: chat: conversation order-7 has an unfinished turn",
        "ResumeTurn() to continue it or AbandonTurn() to drop it",
        "after 3 LLM calls",
        "tool result: charged 500 cents",
        "tool result: The outcome of this call of 'send_receipt' is unknown",
        "model calls in this process: 1",
        "effects now: ['charged 500', 'receipt to ada@example.com']",
    ),
    # Runs with the cluster tests (marked ``cluster``, needs the llmgine[ray] extra).
    "ray_cluster": (
        "/app/n1/counter: 1000 in another process: True",
        "/app/n2/counter: 1000 in another process: True",
        "after kill -9: a new process: True; count from 0: 0",
        "node restarts: 1",
        "lost=0",
        "system stopped",
    ),
}

#: Examples that need an optional extra: (example, module it imports). They run
#: in ``test_example_needing_an_extra`` (the ``cluster`` step of CI), not here.
NEEDS = {"ray_cluster": "ray"}

_SECRETS = ("API_KEY", "OTEL_", "LLMGINE_TRACE", "OLLAMA_HOST")


def _offline_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not any(s in k for s in _SECRETS)}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture(scope="module")
def outputs() -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    """Run every example at once; map each name to its finished process."""
    env = _offline_environment()
    running = {
        name: subprocess.Popen(
            [sys.executable, str(EXAMPLES / f"{name}.py")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=EXAMPLES.parent,
        )
        for name in EXPECTED
        if name not in NEEDS
    }
    done = {}
    try:
        for name, process in running.items():
            out, err = process.communicate(timeout=120)
            done[name] = subprocess.CompletedProcess(
                process.args, process.returncode, out, err
            )
        yield done
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()


def test_every_example_is_checked() -> None:
    on_disk = {path.stem for path in EXAMPLES.glob("*.py")}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - set(NEEDS)))
def test_example(name: str, outputs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    _check_output(name, outputs[name])


@pytest.mark.cluster
@pytest.mark.parametrize("name", sorted(NEEDS))
def test_example_needing_an_extra(name: str) -> None:
    pytest.importorskip(NEEDS[name])
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=_offline_environment(),
        cwd=EXAMPLES.parent,
        timeout=300,
        check=False,
    )
    _check_output(name, result)


def _check_output(name: str, result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    position = 0
    for expected in EXPECTED[name]:
        found = result.stdout.find(expected, position)
        assert found >= 0, f"{expected!r} missing (or out of order) in:\n{result.stdout}"
        position = found + len(expected)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_has_main_and_a_docstring(name: str) -> None:
    source = (EXAMPLES / f"{name}.py").read_text(encoding="utf-8")
    assert source.startswith('"""')
    assert "async def main() -> None:" in source
    assert 'if __name__ == "__main__":\n    trio.run(main)' in source
