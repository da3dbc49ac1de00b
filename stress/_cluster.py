"""Cluster chaos: node processes killed with ``kill -9`` under tells and asks.

Runs only where Ray is installed (the ``llmgine[ray]`` extra). A local Ray
cluster hosts two or more nodes, each running workers; the driver tells and
asks them throughout while a killer sends ``SIGKILL`` to node processes.

A worker writes the number of every job it handles to a file of its own
(appended with ``os.write``, so a line survives the process being killed the
moment after). At the end the ledger learns from those files which jobs
were handled and from the driver's dead letters which were not, and every
accepted job must have one of the two fates: ``lost == 0``.

One case has both, and is counted apart: a job handled by a node killed
before it acknowledged the job. The driver cannot know it was handled and
files it as ``NODE_LOST`` (its sender hears ``ActorStopped`` if it asked):
the window Erlang and Akka leave open too. The scenario reports how many
(``unacked``) and checks the books: jobs in the files equal the runtime's
``processed`` plus ``unacked``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from llmgine.actors import Actor, Mailbox, open_actor_system

from . import _harness
from ._harness import DEAD, PROCESSED
from ._run import Run

__all__ = ["available", "cluster"]


def available() -> bool:
    """Whether Ray is installed (the scenario is registered only then)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


class FileWorker(Actor):
    """Handles jobs on a node: appends each job's number (and latency) to a file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    async def on_start(self) -> None:
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    async def on_stop(self) -> None:
        os.close(self.fd)

    async def receive(self, job: Any) -> Any:
        latency = time.perf_counter() - job.sent_at  # CLOCK_MONOTONIC: one per machine
        os.write(self.fd, f"{job.seq} {latency:.6f}\n".encode())
        return job.seq


async def cluster(run: Run) -> None:
    """Ray node processes killed with kill -9 under tells and asks; nothing lost."""
    # Ray's driver prints "(raylet) A worker died ..." on stdout for every
    # kill; stdout belongs to the report (``--json``).
    with contextlib.redirect_stdout(sys.stderr):
        await _cluster(run)


async def _cluster(run: Run) -> None:
    from llmgine.cluster import RayCluster
    from llmgine.cluster._ray import import_ray

    ray = import_ray()
    for module in (sys.modules[__name__], _harness):  # workers need not import stress/
        ray.cloudpickle.register_pickle_by_value(module)
    n_nodes = run.pick(2, 2, 3)
    per_node = 2
    kills = run.pick(1, 2, 6)
    rate = run.pick(1_000, 3_000, 5_000)
    seconds = run.seconds(2.0, 4.0, 15.0)
    run.door_checks = False  # the scenario checks its books itself (see above)
    run.extra.update(actors=n_nodes * per_node, nodes=n_nodes)
    ledger = run.ledger
    with tempfile.TemporaryDirectory(prefix="llmgine-cluster-") as tmp:
        async with open_actor_system(
            "cluster", tracer=None, cluster=RayCluster(num_cpus=2)
        ) as system:
            run.systems.append(system)
            nodes = [
                await system.spawn_node(
                    f"n{k}", max_restarts=kills + 2, within=600.0, heartbeat=0.5
                )
                for k in range(n_nodes)
            ]
            refs = [
                await node.spawn(
                    FileWorker,
                    str(Path(tmp) / f"n{k}w{w}.log"),
                    name=f"w{w}",
                    mailbox=Mailbox(capacity=500),
                )
                for k, node in enumerate(nodes)
                for w in range(per_node)
            ]
            start = run.now()
            killed = 0
            asks = 0
            async with trio.open_nursery() as nursery:

                async def tell_load() -> None:
                    tick = 0.01
                    per_tick = max(1, int(rate * tick))
                    i = 0
                    deadline = trio.current_time() + seconds
                    while trio.current_time() < deadline:
                        for _ in range(per_tick):
                            await run.door.tell(refs[i % len(refs)])  # type: ignore[arg-type]
                            i += 1
                        await trio.sleep(tick)

                async def ask_load() -> None:
                    nonlocal asks
                    deadline = trio.current_time() + seconds
                    while trio.current_time() < deadline:
                        ref = refs[run.rng.randrange(len(refs))]
                        await run.door.ask(ref, timeout=10.0)  # type: ignore[arg-type]
                        asks += 1

                async def killer() -> None:
                    nonlocal killed
                    for k in range(kills):
                        await trio.sleep(
                            seconds * (k + 1) / (kills + 1) - (run.now() - start)
                        )
                        node = nodes[run.rng.randrange(len(nodes))]
                        while not (node.statistics().up and _is_node(node.pid)):
                            await trio.sleep(0.01)
                        os.kill(node.pid, signal.SIGKILL)  # type: ignore[arg-type]
                        killed += 1

                nursery.start_soon(tell_load)
                for _ in range(4):
                    nursery.start_soon(ask_load)
                nursery.start_soon(killer)
            with trio.fail_after(120):  # the last restart and the backlog, bounded
                while system.statistics().queued or not all(
                    node.statistics().up for node in nodes
                ):
                    await trio.sleep(0.02)
            run.load_seconds = run.now() - start
            restarts = sum(node.statistics().restarts for node in nodes)
            restart_s = [
                s for node in nodes if (s := node.statistics().last_restart_s) is not None
            ]
        run.clean.append(system)
        handled = _read_handled(run, Path(tmp))
    unacked = 0
    for letter in await system.dead_letters.drain():
        seq = getattr(letter.message, "seq", None)
        if (
            letter.reason.value == "node_lost"
            and type(seq) is int
            and ledger.fates[seq] & PROCESSED
        ):
            # a letter all the same (counted), but the job's fate is "handled"
            unacked += 1
            ledger.dead_reasons[letter.reason.value] += 1
            ledger.dead_at[letter.recipient.rpartition("/")[2], letter.reason.value] += 1
            continue
        ledger.dead(letter.message, letter.reason.value, letter.recipient)
    stats = system.statistics()
    audit = ledger.audit()
    run.extra.update(
        kills=killed,
        restarts=restarts,
        asks=asks,
        unacked=unacked,
        node_lost=stats.dead_lettered,
        restart_s=round(max(restart_s), 3) if restart_s else None,
    )
    run.expect(killed == kills, f"{killed} of {kills} kills happened")
    run.expect(restarts == killed, f"{killed} kills but {restarts} node restarts")
    run.expect(
        audit.accepted == stats.accepted,
        f"the door saw {audit.accepted} accepted, the runtime {stats.accepted}",
    )
    run.expect(
        handled == stats.processed + unacked,
        f"workers handled {handled}; the runtime counted {stats.processed}"
        f" processed and {unacked} handled but unacknowledged",
    )
    run.expect(
        audit.dead + unacked == stats.dead_lettered,
        f"{audit.dead} jobs dead and {unacked} unacknowledged, the runtime"
        f" counted {stats.dead_lettered} dead-lettered",
    )


def _is_node(pid: int | None) -> bool:
    """Whether ``pid`` is a live node process (pids are reused: never kill a stranger)."""
    if pid is None:
        return False
    if not Path("/proc/self").exists():  # no /proc here: trust the driver
        return True
    try:
        return b"NodeServer" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone
        return False


def _read_handled(run: Run, folder: Path) -> int:
    """Mark every job the workers' files name as processed; return how many."""
    ledger = run.ledger
    handled = 0
    for path in folder.glob("*.log"):
        for line in path.read_text().splitlines():
            seq_text, _, latency = line.partition(" ")
            seq = int(seq_text)
            fate = ledger.fates[seq]
            ledger.fates[seq] = fate | (
                _harness.TWICE if fate & (PROCESSED | DEAD) else PROCESSED
            )
            ledger.processed += 1
            ledger.latency.record(float(latency))
            handled += 1
    return handled
