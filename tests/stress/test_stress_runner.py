"""run_suite, the command line, the report and the benchmark table."""

from __future__ import annotations

import json

import pytest

import stress
from stress import SCENARIOS, Scenario, render_table, run_suite, to_json
from stress._cluster import available as cluster_available
from stress._run import Run
from stress.runner import main


def test_public_surface() -> None:
    assert set(stress.__all__) == {
        "SCENARIOS",
        "Scenario",
        "ScenarioResult",
        "main",
        "render_table",
        "run_scenario",
        "run_suite",
        "to_json",
    }
    assert list(SCENARIOS) == [
        "steady",
        "burst",
        "crashes",
        "escalation",
        "trees",
        "breaker_storm",
        "slow_consumers",
        "sessions",
        "chat",
        "shutdown",
        "crash",
        *(["cluster"] if cluster_available() else []),  # with the llmgine[ray] extra
    ]
    for scenario in SCENARIOS.values():
        assert scenario.description


def test_run_suite_runs_one_seeded_scenario() -> None:
    (result,) = run_suite(quick=True, scenario="steady", seed=9, duration=0.2)
    assert (result.name, result.profile, result.seed) == ("steady", "quick", 9)
    assert result.ok


def test_run_suite_rejects_unknown_scenarios() -> None:
    with pytest.raises(ValueError, match="'scenario' must be one of steady, burst"):
        run_suite(scenario="nope")


async def _loses_one(run: Run) -> None:
    """Claims a job was accepted and never delivers it."""
    run.ledger.new()
    run.extra["actors"] = 0


async def _raises(run: Run) -> None:
    """Raises in the middle of the run."""
    raise RuntimeError("scenario bug")


def test_a_broken_invariant_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(SCENARIOS, "steady", Scenario(name="steady", body=_loses_one))
    assert main(["--scenario", "steady", "--json"]) == 1
    (data,) = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    assert data["lost"] == 1
    assert data["failures"] == ["1 accepted jobs vanished (ledger)"]


def test_a_raising_scenario_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SCENARIOS, "steady", Scenario(name="steady", body=_raises))
    (result,) = run_suite(scenario="steady", profile="tiny")
    assert not result.ok
    assert result.failures == ("the scenario raised RuntimeError: scenario bug",)


def test_main_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--quick", "--scenario", "steady", "--duration", "0.2", "--seed", "4"])
    assert code == 0
    out = capsys.readouterr().out
    assert "llmgine stress" in out
    assert "steady" in out
    assert "lost 0" in out


def test_report_renders_failures() -> None:
    (result,) = run_suite(scenario="steady", profile="tiny", duration=0.1)
    table = render_table([result], title="t")
    assert table.row_count == 1
    assert json.loads(to_json([result]))[0]["name"] == "steady"
