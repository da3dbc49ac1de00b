"""Benchmark: the cost of ``ChatEngine(durable=True)`` per turn, as ratios.

Run: ``python -m stress.bench_durable [--quick] [--turns N] [--rounds N]``, or
``llmgine bench durable``; ``main(argv)`` returns the figures.

Each turn is two steps against a local ``ScriptedProvider`` (a reply calling
one tool, the tool's result, a final reply), asked of an engine in an actor
system. Three setups run in the same process, interleaved round by round so
machine load moves them alike:

* ``memory``: ``durable=False``, no store (nothing written);
* ``store``: ``durable=False`` with a ``SQLiteConversationStore`` (the turn is
  written in one transaction when it ends);
* ``durable``: ``durable=True`` on the same kind of store (the input, the
  reply with the tool call, the tool call's start and its result are each
  journalled in a transaction of their own, then the turn is stored and the
  journal emptied in one more: five transactions a turn instead of one).

The figure is the median time per turn of each setup over the rounds, and the
ratios ``durable / store`` and ``durable / memory``. SQLite's own settings are
left as the store sets them, so each transaction is synced to disk: the ratio
mostly counts the extra syncs on the machine's disk.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs
import trio

from llmgine.actors import ActorSystem, open_actor_system
from llmgine.engines import ChatEngine, Conversation, SQLiteConversationStore, UserInput
from llmgine.llm import LLMResponse, Message, Role, ScriptedProvider, ToolCallPart
from llmgine.tools import ToolRegistry, tool

SETUPS = ("memory", "store", "durable")


@attrs.frozen(kw_only=True)
class Figures:
    """Median seconds per turn of each setup, and the ratios."""

    turns: int
    rounds: int
    per_turn: dict[str, float]

    @property
    def durable_vs_store(self) -> float:
        """How many times a durable turn costs a stored, non-durable one."""
        return self.per_turn["durable"] / self.per_turn["store"]

    @property
    def durable_vs_memory(self) -> float:
        """How many times a durable turn costs one kept only in memory."""
        return self.per_turn["durable"] / self.per_turn["memory"]


@tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


def _script(turns: int) -> list[Any]:
    call = LLMResponse(
        message=Message(
            role=Role.ASSISTANT,
            parts=[ToolCallPart(id="c1", name="add", arguments={"a": 1, "b": 2})],
        )
    )
    return [item for _ in range(turns) for item in (call, "3")]


async def _run(
    system: ActorSystem, setup: str, folder: Path, name: str, turns: int
) -> float:
    store = None if setup == "memory" else SQLiteConversationStore(folder / f"{name}.db")
    engine = await system.spawn(
        functools.partial(
            ChatEngine,
            provider=ScriptedProvider(_script(turns)),
            model="m",
            tools=ToolRegistry([add]),
            conversation=Conversation(name, store=store),
            durable=setup == "durable",
        ),
        name=name,
    )
    await engine.ask(UserInput("warm up"))  # creates the tables
    started = time.perf_counter()
    for _ in range(turns - 1):
        await engine.ask(UserInput("1 + 2?"))
    elapsed = time.perf_counter() - started
    await engine.stop()
    return elapsed / (turns - 1)


async def measure(turns: int, rounds: int) -> Figures:
    """Run every setup ``rounds`` times, interleaved; ``turns`` turns each."""
    samples: dict[str, list[float]] = {setup: [] for setup in SETUPS}
    with tempfile.TemporaryDirectory() as directory:
        async with open_actor_system("bench-durable") as system:
            for round_ in range(rounds):
                # rotate the order so no setup always runs first
                order = SETUPS[round_ % 3 :] + SETUPS[: round_ % 3]
                for setup in order:
                    name = f"{setup}-{round_}"
                    samples[setup].append(
                        await _run(system, setup, Path(directory), name, turns)
                    )
    return Figures(
        turns=turns,
        rounds=rounds,
        per_turn={setup: statistics.median(values) for setup, values in samples.items()},
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Parse ``argv``, measure, print the table, and return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer turns and rounds")
    parser.add_argument("--turns", type=int, default=None, help="turns per round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per setup")
    options = parser.parse_args(argv)
    turns = options.turns or (21 if options.quick else 101)
    rounds = options.rounds or (3 if options.quick else 7)
    figures = trio.run(measure, max(turns, 2), max(rounds, 1))
    print(
        f"durable turns: {figures.turns - 1} two-step turns x {figures.rounds} rounds,"
        " scripted provider, one tool call per turn"
    )
    for setup in SETUPS:
        print(f"  {setup:<8} {figures.per_turn[setup] * 1e3:8.3f} ms/turn")
    print(f"  durable / store  {figures.durable_vs_store:6.2f}x")
    print(f"  durable / memory {figures.durable_vs_memory:6.2f}x")
    return {
        "durable_vs_store": figures.durable_vs_store,
        "durable_vs_memory": figures.durable_vs_memory,
        **{f"{setup}_turn_ms": figures.per_turn[setup] * 1e3 for setup in SETUPS},
    }


if __name__ == "__main__":
    main(sys.argv[1:])
