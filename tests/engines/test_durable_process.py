"""A durable turn survives ``kill -9`` of its process: a new process resumes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trio

from llmgine.engines import (
    ChatEngine,
    ChatResult,
    Conversation,
    ResumeTurn,
    SQLiteConversationStore,
)
from llmgine.llm import Role, ScriptedProvider, ToolResultPart
from llmgine.tools import ToolRegistry, tool

from .conftest import answer

CHILD = textwrap.dedent(
    """
    import sys
    import trio
    from llmgine.engines import ChatEngine, Conversation, SQLiteConversationStore
    from llmgine.engines import UserInput
    from llmgine.llm import LLMResponse, Message, Role, ScriptedProvider, ToolCallPart
    from llmgine.tools import ToolRegistry, tool

    database, runs = sys.argv[1], sys.argv[2]

    def record(what):
        with open(runs, "a", encoding="utf-8") as file:
            file.write(what + "\\n")

    @tool
    def charge(order: str) -> str:
        \"\"\"Charge an order.\"\"\"
        record(f"charge {order}")
        return f"charged {order}"

    @tool(idempotent=True)
    def lookup(order: str) -> str:
        \"\"\"Look an order up.\"\"\"
        record(f"lookup {order}")
        return f"found {order}"

    @tool
    async def ship(order: str) -> str:
        \"\"\"Ship an order: the process dies while it runs.\"\"\"
        record(f"ship {order}")
        print("shipping", flush=True)
        await trio.sleep_forever()

    def calls(*names):
        parts = [
            ToolCallPart(id=f"c{i}", name=name, arguments={"order": order})
            for i, (name, order) in enumerate(names)
        ]
        return LLMResponse(message=Message(role=Role.ASSISTANT, parts=parts))

    async def main():
        provider = ScriptedProvider([
            calls(("charge", "a")),
            calls(("charge", "b"), ("lookup", "c")),
            calls(("ship", "d")),
        ])
        store = SQLiteConversationStore(database)
        engine = ChatEngine(
            provider, model="m", tools=ToolRegistry([charge, lookup, ship]),
            conversation=Conversation("orders", store=store), durable=True,
        )
        await engine.on_start()
        await engine.receive(UserInput("process the orders"))

    trio.run(main)
    """
)


def _kill_mid_turn(script: Path, database: Path, runs: Path) -> int:
    """Run the child until its third step's tool runs, then ``kill -9`` it."""
    child = subprocess.Popen(
        [sys.executable, str(script), str(database), str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "shipping\n", child.stderr
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=30)
    return child.returncode


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
async def test_kill_9_mid_turn_then_resume_runs_every_finished_tool_once(
    tmp_path: Path,
) -> None:
    database = tmp_path / "chat.db"
    runs = tmp_path / "runs.txt"
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    returncode = await trio.to_thread.run_sync(_kill_mid_turn, script, database, runs)
    assert returncode == -signal.SIGKILL

    def recorded() -> list[str]:
        return runs.read_text(encoding="utf-8").splitlines()

    assert sorted(recorded()) == ["charge a", "charge b", "lookup c", "ship d"]

    @tool
    def charge(order: str) -> str:
        """Charge an order."""
        raise AssertionError("charged twice")  # pragma: no cover

    @tool(idempotent=True)
    def lookup(order: str) -> str:
        """Look an order up."""
        raise AssertionError("looked up twice")  # pragma: no cover

    @tool
    def ship(order: str) -> str:
        """Ship an order."""
        raise AssertionError("shipped twice")  # pragma: no cover

    provider = ScriptedProvider([answer("a and b charged; d may have shipped")])
    engine = ChatEngine(
        provider,
        model="m",
        tools=ToolRegistry([charge, lookup, ship]),
        conversation=Conversation("orders", store=SQLiteConversationStore(database)),
        durable=True,
    )
    await engine.on_start()
    assert engine.unfinished == "process the orders"
    result = await engine.receive(ResumeTurn())
    assert isinstance(result, ChatResult)
    assert len(provider.requests) == 1
    assert result.steps == 4
    results = [m.parts[0] for m in result.messages if m.role is Role.TOOL]
    assert all(isinstance(r, ToolResultPart) for r in results)
    assert [r.content for r in results[:3]] == [  # type: ignore[union-attr]
        "charged a",
        "charged b",
        "found c",
    ]
    [shipped] = results[3:]
    assert isinstance(shipped, ToolResultPart)
    assert shipped.is_error
    assert "unknown" in shipped.content
    assert sorted(recorded()) == ["charge a", "charge b", "lookup c", "ship d"]
    stored = await SQLiteConversationStore(database).load("orders")
    assert stored == list(result.messages)
