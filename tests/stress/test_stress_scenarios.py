"""Every scenario, in a tiny configuration: nothing lost, every figure reported."""

from __future__ import annotations

import math

import pytest

from stress import SCENARIOS, ScenarioResult, run_scenario

# The cluster scenario (present with the llmgine[ray] extra) starts Ray: it
# runs with the cluster tests (tests/cluster/test_cluster_chaos.py).
LOCAL = [name for name in SCENARIOS if name != "cluster"]


@pytest.fixture(scope="module")
def results() -> dict[str, ScenarioResult]:
    return {name: run_scenario(name, profile="tiny", seed=3) for name in LOCAL}


@pytest.mark.parametrize("name", LOCAL)
def test_scenario_loses_nothing(results: dict[str, ScenarioResult], name: str) -> None:
    result = results[name]
    assert result.failures == ()
    assert result.ok
    assert result.lost == 0
    assert result.queued == 0
    assert result.leaked_tasks == 0
    assert result.leaked_actors == 0
    assert result.accepted == result.processed + result.dead_lettered
    if name != "chat":  # there, engines and providers also talk among themselves
        assert result.sent == result.accepted + result.refused
    assert sum(result.dead_letters.values()) == result.dead_lettered


@pytest.mark.parametrize("name", LOCAL)
def test_scenario_reports_its_figures(
    results: dict[str, ScenarioResult], name: str
) -> None:
    result = results[name]
    assert (result.name, result.profile, result.seed) == (name, "tiny", 3)
    assert result.processed > 0
    assert result.throughput > 0
    assert 0 < result.p50_ms <= result.p99_ms <= result.p999_ms
    assert result.peak_rss_mib > 0
    assert result.actors > 0
    assert result.wall_s > 0
    data = result.to_dict()
    assert data["ok"] is True
    assert set(data) >= {
        "lost",
        "throughput",
        "p50_ms",
        "p99_ms",
        "p999_ms",
        "restarts",
        "breaker_trips",
        "dead_letters",
        "leaked_tasks",
        "peak_rss_mib",
        "recovery_s",
    }


def test_faults_are_recovered_from(results: dict[str, ScenarioResult]) -> None:
    # Paced well below capacity, these recover at once on any machine.
    for name in ("burst", "crashes"):
        recovery = results[name].recovery_s
        assert recovery is not None, name
        assert math.isfinite(recovery)
        assert results[name].warnings == ()
    # These measure it too; a late recovery is a warning, not a broken invariant.
    for name in ("escalation", "breaker_storm"):
        result = results[name]
        assert (result.recovery_s is None) == bool(result.warnings), name
    assert results["steady"].recovery_s is None
    assert results["steady"].warnings == ()


def test_crashes_restart_and_dead_letter(results: dict[str, ScenarioResult]) -> None:
    crashes = results["crashes"]
    assert crashes.restarts == crashes.extra["crashes"] > 0
    assert crashes.dead_letters["handler_failed"] == crashes.extra["crashes"]


def test_escalation_surfaces(results: dict[str, ScenarioResult]) -> None:
    escalation = results["escalation"]
    assert escalation.extra["escalations"] > 0
    assert escalation.extra["surfaced"] is True


def test_breakers_trip_and_fail_fast(results: dict[str, ScenarioResult]) -> None:
    storm = results["breaker_storm"]
    assert storm.breaker_trips > 0
    assert storm.dead_letters["circuit_open"] > 0
    assert storm.refused > 0


def test_each_overflow_policy_behaves(results: dict[str, ScenarioResult]) -> None:
    slow = results["slow_consumers"]
    assert slow.dead_letters["mailbox_full"] > 0
    assert slow.dead_letters["dropped_oldest"] > 0
    assert slow.refused > 0
    assert slow.extra["drop_newest"].startswith("refused=0 ")


def test_chat_runs_the_real_stack(results: dict[str, ScenarioResult]) -> None:
    chat = results["chat"]
    assert chat.extra["turns_ok"] > 0
    assert chat.extra["http_faults"] > 0
    assert chat.processed > chat.sent  # provider and tool calls besides the turns


def test_sessions_and_shutdown(results: dict[str, ScenarioResult]) -> None:
    assert results["sessions"].extra["sessions"] > 0
    assert results["sessions"].extra["turns_ok"] > 0
    assert results["shutdown"].dead_letters["actor_stopped"] > 0
    assert results["shutdown"].refused > 0
