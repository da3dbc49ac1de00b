"""stress/bench_agents.py: the scripted OpenAI-wire model, the peers, the figures."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from llmgine.cli._suite import import_suite
from stress import _child, _openai_wire, bench, bench_agents


def test_the_server_calls_two_tools_then_answers() -> None:
    counter = [0]
    user = {"role": "user", "content": "q"}
    first = _openai_wire.reply({"messages": [user]}, counter)
    [call] = first["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    tool = {"role": "tool", "tool_call_id": call["id"], "content": "r"}
    second = _openai_wire.reply({"messages": [user, {}, tool]}, counter)
    assert second["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == (
        "get_time"
    )
    third = _openai_wire.reply({"messages": [user, {}, tool, {}, tool]}, counter)
    assert third["choices"][0]["message"]["content"] == _openai_wire.ANSWER
    assert third["choices"][0]["finish_reason"] == "stop"
    # a new turn starts over at the last user message
    again = _openai_wire.reply(
        {"messages": [user, {}, tool, {}, tool, {}, user]}, counter
    )
    assert again["choices"][0]["finish_reason"] == "tool_calls"


def test_peers_are_optional() -> None:
    present, missing = bench_agents.available(peers=False)
    assert present == ["httpx", "llmgine"]
    assert missing == []
    present, missing = bench_agents.available(peers=True)
    assert set(present) | set(missing) == set(bench_agents.CLIENTS)


def test_the_figures_and_their_labels() -> None:
    figures = bench_agents.Figures(
        per_turn={"httpx": 0.002, "llmgine": 0.0022, "pydantic_ai": 0.02},
        skipped=("openai_agents",),
        conversations=10,
        turns_per_s={"httpx": 100.0, "llmgine": 99.0},
        peak_rss_mib={"httpx": 40.0, "llmgine": 60.0},
    )
    out = bench_agents.results(figures)
    assert out["llmgine_vs_httpx"] == pytest.approx(1.1)
    assert out["pydantic_ai_vs_httpx"] == pytest.approx(10.0)
    assert out["llmgine_load_peak_rss_mib"] == 60.0
    assert all(key in bench.KNOWN for key in out)
    # a ratio paired round by round wins over the ratio of the medians
    paired = attrs.evolve(figures, paired={"llmgine": 1.05})
    assert bench_agents.results(paired)["llmgine_vs_httpx"] == 1.05


def test_it_runs_on_demand_only(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def load(name: str) -> Any:
        asked.append(name)
        return lambda argv: {}

    monkeypatch.setattr(bench, "_load", load)
    assert bench.main(["--no-check"]) == 0
    assert "agents" not in asked
    asked.clear()
    assert bench.main(["agents", "--no-check"]) == 0
    assert asked == ["agents"]


def test_a_short_run_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    out = bench_agents.main(["--turns", "2", "--rounds", "1", "--conversations", "0"])
    assert out["llmgine_turn_cpu_ms"] > 0
    printed = capsys.readouterr().out
    assert "llmgine" in printed
    assert "x raw httpx" in printed


def test_the_command_runs_it_with_its_server_and_load_test(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # as `llmgine bench agents` loads it: from a checkout, as llmgine._stress,
    # a name a fresh interpreter does not know
    agents = import_suite("bench_agents")
    argv = ["--quick", "--turns", "1", "--rounds", "1", "--conversations", "2"]
    out = agents.main([*argv, "--no-peers"])
    assert out["llmgine_load_turns_per_s"] > 0
    assert out["httpx_load_peak_rss_mib"] > 0
    assert "2 concurrent conversations" in capsys.readouterr().out


def test_a_child_that_dies_is_an_error_not_a_wait() -> None:
    with pytest.raises(RuntimeError, match="ended before it started"):
        _child.start(bench_agents.__name__, "no_such_function")
    with pytest.raises(RuntimeError, match="failed in its process"):
        _child.run(bench_agents.__name__, "no_such_function", 1)
