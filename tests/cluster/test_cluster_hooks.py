"""What the runtime offers a cluster, and what happens without Ray (no Ray needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import llmgine
from llmgine import ConfigurationError
from llmgine.actors import (
    ActorSystem,
    DeadLetter,
    DeadLetterReason,
    SQLiteDeadLetterStore,
    open_actor_system,
)


class FakeRuntime:
    """Counts as one remote actor with one message queued and one processed."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def spawn_node(self, name: str, **options: Any) -> Any:
        self.calls.append(f"spawn_node {name} {sorted(options)}")
        return name

    def counters(self) -> tuple[int, ...]:
        return (1, 2, 1, 0, 0, 1, 0, 0)

    async def aclose(self) -> None:
        self.calls.append("aclose")

    def abort(self) -> None:
        self.calls.append("abort")


class FakeCluster:
    def __init__(self) -> None:
        self.runtime = FakeRuntime()
        self.systems: list[ActorSystem] = []

    async def attach(self, system: ActorSystem) -> FakeRuntime:
        self.systems.append(system)
        return self.runtime


async def test_a_cluster_attaches_spawns_nodes_counts_and_closes_first() -> None:
    cluster = FakeCluster()
    async with llmgine.open_actor_system("app", cluster=cluster) as system:
        assert cluster.systems == [system]
        assert await system.spawn_node("n1", heartbeat=0.5) == "n1"
        stats = system.statistics()
        assert (stats.actors, stats.accepted, stats.processed, stats.queued) == (
            1,
            2,
            1,
            1,
        )
        assert stats.lost == 0
    assert cluster.runtime.calls == ["spawn_node n1 ['heartbeat']", "aclose", "abort"]


async def test_a_failing_body_kills_the_nodes() -> None:
    cluster = FakeCluster()
    with pytest.raises(KeyError):
        async with open_actor_system("app", cluster=cluster):
            raise KeyError("bug")
    assert cluster.runtime.calls == ["abort"]


async def test_spawn_node_needs_a_cluster() -> None:
    async with open_actor_system("app") as system:
        with pytest.raises(ConfigurationError, match=r"cluster=RayCluster\(\)"):
            await system.spawn_node("n1")


def test_without_ray_the_cluster_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    from llmgine.cluster import RayCluster

    with pytest.raises(ConfigurationError, match=r"pip install 'llmgine\[ray\]'"):
        RayCluster(num_cpus=2)


async def test_node_lost_letters_are_stored_and_loaded(tmp_path: Path) -> None:
    path = tmp_path / "letters.db"
    async with open_actor_system(
        "app", dead_letter_store=SQLiteDeadLetterStore(path)
    ) as system:
        system.dead_letters.add(
            DeadLetter(
                message="hello", recipient="/app/n1/c", reason=DeadLetterReason.NODE_LOST
            )
        )
    async with open_actor_system(
        "app", dead_letter_store=SQLiteDeadLetterStore(path)
    ) as system:
        (letter,) = system.dead_letters.list()
    assert (letter.message, letter.reason) == ("hello", DeadLetterReason.NODE_LOST)
