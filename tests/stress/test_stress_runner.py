"""run_suite, the command line, the report and the benchmark table."""

from __future__ import annotations

import json
import sys
import types

import pytest

import stress
from stress import SCENARIOS, Scenario, render_table, run_suite, to_json
from stress import bench as bench_module
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
        "breaker_storm",
        "slow_consumers",
        "sessions",
        "chat",
        "shutdown",
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


def test_bench_combines_the_modules(capsys: pytest.CaptureFixture[str]) -> None:
    calls = []

    def fake(name: str):  # type: ignore[no-untyped-def]
        if name == "bus":
            return None

        def run(argv: list[str]) -> dict[str, float]:
            calls.append((name, argv))
            print(f"{name} own table")
            return {"tell_vs_loop": 0.9, "ask_vs_pingpong": 1.2, "tell_per_s": 5e5}

        return run

    figures, printed = bench_module.collect(True, loader=fake)
    assert calls == [("runtime", ["--quick"]), ("tracer", ["--quick"])]
    assert printed["runtime"] == "runtime own table\n"
    met = {(f.bench, f.key): f.met for f in figures}
    assert met["runtime", "tell_vs_loop"] is True
    assert met["runtime", "ask_vs_pingpong"] is False  # 1.2x < 1.6x
    assert met["runtime", "tell_per_s"] is None
    assert bench_module.render(figures).row_count == 6


def test_bench_targets_from_the_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_module = types.SimpleNamespace(PUBLISH_TARGET=330_000, P99_TARGET_MS=0.5)
    monkeypatch.setitem(sys.modules, "stress.bench_bus", fake_module)

    def run(argv: list[str]) -> dict[str, float]:
        return {"publish_1_per_s": 400_000.0, "latency_p99_ms": 0.7, "other": 3.0}

    figures, _ = bench_module.collect(benches=["bus"], loader=lambda name: run)
    by_key = {f.key: f for f in figures}
    assert by_key["publish_1_per_s"].met is True
    assert by_key["publish_1_per_s"].show(330_000) == "330,000/s"
    assert by_key["latency_p99_ms"].ceiling
    assert by_key["latency_p99_ms"].met is False  # 0.7 ms > 0.5 ms
    assert by_key["latency_p99_ms"].show(0.5) == "0.5 ms"
    assert (by_key["other"].name, by_key["other"].met) == ("other", None)
    assert by_key["other"].show(3.0) == "3"


def test_bench_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        bench_module,
        "_load",
        lambda name: (lambda argv: {"quiet_vs_none": 0.99}) if name == "tracer" else None,
    )
    assert bench_module.main(["--quick", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "tracer on, untraced tells" in out
    assert "not present: stress/bench_runtime.py, stress/bench_bus.py" in out


def test_bench_loads_the_runtime_module() -> None:
    assert bench_module._load("runtime") is not None
    assert bench_module._load("does_not_exist") is None
