"""The cluster chaos scenario of ``llmgine stress``, on the shared local Ray cluster."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:  # the stress suite lives beside the package
    sys.path.insert(0, ROOT)

pytestmark = pytest.mark.cluster


def test_killed_nodes_lose_nothing(ray_session: Any) -> None:
    from stress import SCENARIOS, run_scenario

    assert "cluster" in SCENARIOS  # registered where Ray is installed
    result = run_scenario("cluster", profile="tiny", seed=5)
    assert result.failures == ()
    assert result.ok
    assert result.lost == 0
    assert result.queued == 0
    assert result.extra["kills"] == result.extra["restarts"] == 1
    assert result.accepted == result.processed + result.dead_lettered
    assert result.dead_letters.get("node_lost", 0) == result.dead_lettered
    assert result.leaked_tasks == 0
    assert result.leaked_actors == 0
