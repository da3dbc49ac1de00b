"""Scale out on Ray: actors on node processes, a node killed, nothing lost.

Run: python examples/ray_cluster.py   (needs: pip install 'llmgine[ray]')

A local Ray cluster (two CPUs) starts with the actor system; two nodes each
run a counter. The first node's process is killed with SIGKILL: the driver
sees it die, dead-letters what it held as ``node_lost``, starts a new process
and spawns the counter again from its spec. The ref keeps working.
"""

from __future__ import annotations

import importlib.util
import os
import signal

import attrs
import trio

from llmgine import open_actor_system
from llmgine.actors import Actor, ActorStopped, Mailbox


@attrs.frozen
class Add:
    """Add ``n`` to the counter."""

    n: int


@attrs.frozen
class Get:
    """Ask for the counter's value."""


class Counter(Actor):
    """Counts; it runs in a node's process, not in this one."""

    def __init__(self) -> None:
        self.n = 0

    async def receive(self, message: object) -> object:
        match message:
            case Add(n=n):
                self.n += n
            case Get():
                return (self.n, os.getpid())
        return None


async def main() -> None:
    if importlib.util.find_spec("ray") is None:
        print("Ray is not installed: pip install 'llmgine[ray]'")
        return
    from llmgine.cluster import RayCluster

    async with open_actor_system("app", cluster=RayCluster(num_cpus=2)) as system:
        nodes = [await system.spawn_node(name) for name in ("n1", "n2")]
        refs = [
            await node.spawn(Counter, name="counter", mailbox=Mailbox(capacity=100))
            for node in nodes
        ]
        for ref in refs:
            for _ in range(1000):
                await ref.tell(Add(1))  # many tells travel in one Ray call
        for ref in refs:
            count, pid = await ref.ask(Get(), timeout=30)
            print(f"{ref.path}: {count} in another process: {pid != os.getpid()}")

        node, ref = nodes[0], refs[0]
        old_pid = node.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        while True:  # the first asks may meet the dead node
            try:
                count, pid = await ref.ask(Get(), timeout=30)
                break
            except ActorStopped:
                await trio.sleep(0.05)
        print(f"after kill -9: a new process: {pid != old_pid}; count from 0: {count}")
        print(f"node restarts: {node.statistics().restarts}")
        stats = system.statistics()
        print(f"accepted={stats.accepted} processed={stats.processed} lost={stats.lost}")
    print("system stopped; nodes and Ray shut down")


if __name__ == "__main__":
    trio.run(main)
