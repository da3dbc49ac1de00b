"""A durable turn keeps the name of its output type: resumed with the same type it
answers the typed value; resumed with another (or none) it is refused, not
silently answered as text. Resuming can stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from llmgine.actors import Failure
from llmgine.engines import (
    ApproveTools,
    ChatResult,
    ResumeTurn,
    ToolExecuted,
    TurnEvent,
    UserInput,
)
from llmgine.engines._journal import TurnOpened, dump_entry, load_entry
from llmgine.engines._output import FINAL_RESULT
from llmgine.llm import ScriptedProvider, StreamFinish
from llmgine.tools import ToolRegistry, tool

from .conftest import call, calls
from .test_durable import Crash, Effects, crash_during, engine_on


@attrs.frozen
class Receipt:
    """What was charged.

    Attributes:
        order: The order.
        cents: How much.
    """

    order: str
    cents: int


@attrs.frozen
class Refund:
    """What was refunded.

    Attributes:
        order: The order.
    """

    order: str


@tool(requires_approval=True)
def refund(order: str) -> str:
    """Refund an order.

    Args:
        order: Order id.
    """
    return f"refunded {order}"


def receipt(id: str = "f1") -> object:
    return calls(call(id, FINAL_RESULT, order="a", cents=500))


async def crashed_turn(path: Path, output_type: object = Receipt) -> Effects:
    """A durable turn opened with ``output_type``, crashed in its second LLM call."""
    crash = Crash()
    effects = Effects(crash)
    provider = ScriptedProvider([calls(call("c1", "charge", order="a")), crash])
    engine = engine_on(path, provider, effects.registry())
    await crash_during(engine, crash, UserInput("charge a", output_type=output_type))
    return effects


async def restarted(path: Path, provider: ScriptedProvider, effects: Effects) -> Any:
    """A new engine on the crashed turn's file, started (it finds the turn)."""
    engine = engine_on(path, provider, effects.registry())
    await engine.on_start()
    return engine


async def test_a_turn_resumed_with_its_output_type_answers_the_typed_value(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    effects = await crashed_turn(path)
    provider = ScriptedProvider([receipt()])
    engine = await restarted(path, provider, effects)
    result = await engine.receive(ResumeTurn(output_type=Receipt))
    assert isinstance(result, ChatResult)
    assert result.output == Receipt(order="a", cents=500)
    assert effects.runs == ["charge a"]
    # the final-result tool was offered again, as when the turn began
    assert FINAL_RESULT in [t.name for t in provider.requests[0].tools]


async def test_a_turn_resumed_without_its_output_type_is_refused(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    effects = await crashed_turn(path)
    provider = ScriptedProvider([receipt()])
    engine = await restarted(path, provider, effects)
    unusable = await engine.receive(ResumeTurn(output_type=lambda: None))
    assert isinstance(unusable, Failure)
    assert "output_type" in str(unusable.error)
    for message in (ResumeTurn(), ResumeTurn(output_type=Refund)):
        refused = await engine.receive(message)
        assert isinstance(refused, Failure)
        assert "opened with output type Receipt" in str(refused.error)
        assert "ResumeTurn(output_type=...)" in str(refused.error)
    assert provider.requests == []
    assert engine.unfinished == "charge a"  # still there to resume properly
    result = await engine.receive(ResumeTurn(output_type=Receipt))
    assert isinstance(result, ChatResult)
    assert result.output == Receipt(order="a", cents=500)


async def test_a_plain_turn_is_not_resumed_as_a_structured_one(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    effects = await crashed_turn(path, output_type=None)
    engine = engine_on(path, ScriptedProvider(["done"]), effects.registry())
    await engine.on_start()
    refused = await engine.receive(ResumeTurn(output_type=Receipt))
    assert isinstance(refused, Failure)
    assert "opened with no output type, not output type Receipt" in str(refused.error)
    result = await engine.receive(ResumeTurn())
    assert isinstance(result, ChatResult)
    assert (result.text, result.output) == ("done", None)


async def test_a_resumed_turn_streams_to_its_reader(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    effects = await crashed_turn(path, output_type=None)
    engine = engine_on(
        path,
        ScriptedProvider([calls(call("c2", "lookup", order="a")), "done"]),
        effects.registry(),
    )
    await engine.on_start()
    send, receive = trio.open_memory_channel[TurnEvent](64)
    result = await engine.receive(ResumeTurn(stream_to=send))
    assert isinstance(result, ChatResult)
    events = [e async for e in receive]  # closed when the turn ended
    assert [e.call.name for e in events if isinstance(e, ToolExecuted)] == ["lookup"]
    assert isinstance(events[-1], StreamFinish)
    # a refused resume closes the reader's channel too
    send, receive = trio.open_memory_channel[TurnEvent](1)
    assert isinstance(await engine.receive(ResumeTurn(stream_to=send)), Failure)
    assert [e async for e in receive] == []


async def test_an_approval_after_a_restart_takes_the_turns_output_type(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    tools = ToolRegistry([refund])
    first = engine_on(
        path, ScriptedProvider([calls(call("r1", "refund", order="a"))]), tools
    )
    await first.on_start()
    stopped = await first.receive(UserInput("refund a", output_type=Refund))
    assert [c.id for c in stopped.pending_approvals] == ["r1"]

    provider = ScriptedProvider([calls(call("f1", FINAL_RESULT, order="a"))])
    engine = engine_on(path, provider, tools)  # a restart: the paused turn is gone
    await engine.on_start()
    refused = await engine.receive(ApproveTools(approve=["r1"]))
    assert isinstance(refused, Failure)
    assert "ApproveTools(output_type=...)" in str(refused.error)
    result = await engine.receive(ApproveTools(approve=["r1"], output_type=Refund))
    assert isinstance(result, ChatResult)
    assert result.output == Refund(order="a")


async def test_a_paused_turn_refuses_another_output_type(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    provider = ScriptedProvider(
        [
            calls(call("r1", "refund", order="a")),
            calls(call("f1", FINAL_RESULT, order="a")),
        ]
    )
    engine = engine_on(tmp_path / "chat.db", provider, ToolRegistry([refund]))
    await engine.on_start()
    await engine.receive(UserInput("refund a", output_type=Refund))
    refused = await engine.receive(ApproveTools(approve=["r1"], output_type=Receipt))
    assert isinstance(refused, Failure)
    assert "opened with output type Refund, not output type Receipt" in str(refused.error)
    result = await engine.receive(ApproveTools(approve=["r1"], output_type=Refund))
    assert result.output == Refund(order="a")


async def test_a_journal_that_kept_no_name_resumes_with_any_output_type(
    tmp_path: Path,
) -> None:
    written = dump_entry(TurnOpened(text="hi", output="Receipt"))
    assert load_entry(written) == TurnOpened(text="hi", output="Receipt")
    older = '{"kind":"opened","text":"hi"}'
    assert load_entry(older) == TurnOpened(text="hi", output=None, known=False)
    path = tmp_path / "chat.db"
    engine = engine_on(path, ScriptedProvider([receipt()]))
    await engine.conversation.store.write_journal("c", older)  # type: ignore[union-attr]
    await engine.on_start()
    result = await engine.receive(ResumeTurn(output_type=Receipt))
    assert result.output == Receipt(order="a", cents=500)
