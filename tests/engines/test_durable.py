"""Durable turns: journalled as they go, resumed after a crash without repeating work.

A crash is simulated by cancelling everything mid-turn (nothing runs after the
moment of the crash, as after ``kill -9``); a fresh store and engine on the same
SQLite file then resume. ``test_durable_process.py`` kills a real process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import (
    ConfigurationError,
    EngineError,
    MaxStepsExceeded,
    ProviderUnavailable,
)
from llmgine.actors import Failure, open_actor_system
from llmgine.engines import (
    AbandonTurn,
    ChatEngine,
    ChatResult,
    ClearConversation,
    Conversation,
    GetHistory,
    ResumeTurn,
    SQLiteConversationStore,
    UserInput,
)
from llmgine.engines._journal import (
    StepReplied,
    ToolStarted,
    TurnOpened,
    dump_entry,
)
from llmgine.llm import (
    LLMRequest,
    Message,
    Role,
    ScriptedProvider,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from llmgine.tools import ToolRegistry, tool

from .conftest import answer, call, calls, roles, spawn_chat, tokens


class Crash:
    """Stops everything at once when called: nothing runs after it."""

    def __init__(self) -> None:
        self.scope = trio.CancelScope()

    async def __call__(self, *_: object) -> Any:
        self.scope.cancel()
        await trio.sleep_forever()


class Effects:
    """Tools with side effects that count their runs."""

    def __init__(self, crash: Crash | None = None) -> None:
        self.runs: list[str] = []
        self.crash = crash

    def registry(self) -> ToolRegistry:
        @tool
        async def charge(order: str) -> str:
            """Charge an order (not idempotent).

            Args:
                order: Order id.
            """
            self.runs.append(f"charge {order}")
            if order == "crash" and self.crash is not None:
                await self.crash()
            return f"charged {order}"

        @tool(idempotent=True)
        async def lookup(order: str) -> str:
            """Look an order up (idempotent).

            Args:
                order: Order id.
            """
            self.runs.append(f"lookup {order}")
            if order == "crash" and self.crash is not None:
                await self.crash()
            return f"found {order}"

        return ToolRegistry([charge, lookup])


def engine_on(
    path: Path, provider: ScriptedProvider, tools: Any = None, **options: Any
) -> ChatEngine:
    conversation = Conversation("c", store=SQLiteConversationStore(path))
    return ChatEngine(
        provider,
        model="m",
        tools=tools,
        conversation=conversation,
        durable=True,
        **options,
    )


async def crash_during(engine: ChatEngine, crash: Crash, message: object) -> None:
    await engine.on_start()
    with crash.scope:
        await engine.receive(message)
    assert crash.scope.cancelled_caught


def journal_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM llmgine_turn_journal").fetchone()
    return int(count)


async def test_durable_needs_a_store_that_keeps_journals(tmp_path: Path) -> None:
    provider = ScriptedProvider()
    with pytest.raises(ConfigurationError, match="needs a conversation with a store"):
        ChatEngine(provider, model="m", durable=True)

    class Plain:
        async def load(self, conversation_id: str) -> list[Message]:
            return []

        async def append(self, cid: str, start: int, messages: Sequence[Message]) -> None:
            pass

        async def clear(self, conversation_id: str) -> None:
            pass

    with pytest.raises(ConfigurationError, match="Plain has no load_journal"):
        ChatEngine(
            provider, model="m", durable=True, conversation=Conversation(store=Plain())
        )
    with pytest.raises(ConfigurationError, match="'durable' must be a bool"):
        ChatEngine(provider, model="m", durable=1)  # type: ignore[arg-type]
    plain = Conversation(store=Plain())
    with pytest.raises(ConfigurationError, match="keeps no turn journal"):
        await plain.end_turn([Message.user("hi")])


async def test_a_finished_durable_turn_is_stored_and_leaves_no_journal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chat.db"
    effects = Effects()
    provider = ScriptedProvider(
        [calls(call("c1", "charge", order="a"), usage=tokens(3, 1)), answer("paid")]
    )
    engine = engine_on(path, provider, effects.registry())
    assert engine.durable
    assert engine.unfinished is None
    await engine.on_start()
    result = await engine.receive(UserInput("pay a"))
    assert isinstance(result, ChatResult)
    assert result.text == "paid"
    assert result.steps == 2
    assert result.usage == tokens(3, 1)
    assert roles(result.messages) == ["user", "assistant", "tool", "assistant"]
    assert journal_rows(path) == 0
    stored = await SQLiteConversationStore(path).load("c")
    assert stored == list(result.messages)
    assert not ChatEngine(provider, model="m").durable


async def test_a_crash_mid_turn_resumes_without_repeating_finished_work(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    crash = Crash()
    effects = Effects(crash)
    first = ScriptedProvider(
        [
            calls(call("c1", "charge", order="a"), usage=tokens(10, 1)),
            calls(call("c1", "lookup", order="b"), usage=tokens(20, 2)),
            crash,  # the third LLM call never finishes: the process dies
        ]
    )
    await crash_during(engine_on(path, first, effects.registry()), crash, UserInput("go"))
    assert effects.runs == ["charge a", "lookup b"]
    assert journal_rows(path) == 7  # opened, 2 x (reply, started, finished)
    assert await SQLiteConversationStore(path).load("c") == []

    second = ScriptedProvider([answer("all done", usage=tokens(30, 3))])
    engine = engine_on(path, second, effects.registry())
    await engine.on_start()
    assert engine.unfinished == "go"
    result = await engine.receive(ResumeTurn())
    assert isinstance(result, ChatResult)
    assert effects.runs == ["charge a", "lookup b"]  # no tool ran again
    assert len(second.requests) == 1  # only the unfinished LLM call
    assert roles(second.requests[0].messages) == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]
    assert result.text == "all done"
    assert result.steps == 3
    assert result.usage == tokens(60, 6)
    assert result.messages[0] == Message.user("go")
    assert journal_rows(path) == 0
    assert engine.unfinished is None
    assert await SQLiteConversationStore(path).load("c") == list(result.messages)


@pytest.mark.parametrize("name", ["charge", "lookup"])
async def test_a_tool_call_that_started_without_result(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, name: str
) -> None:
    path = tmp_path / "chat.db"
    crash = Crash()
    effects = Effects(crash)
    first = ScriptedProvider([calls(call("c1", name, order="crash"))])
    await crash_during(engine_on(path, first, effects.registry()), crash, UserInput("go"))
    assert effects.runs == [f"{name} crash"]

    second = ScriptedProvider([answer("noted")])
    effects_after = Effects()  # no crash this time
    engine = engine_on(path, second, effects_after.registry())
    await engine.on_start()
    result = await engine.receive(ResumeTurn())
    assert isinstance(result, ChatResult)
    [first_result] = [m.parts[0] for m in result.messages if m.role is Role.TOOL]
    assert isinstance(first_result, ToolResultPart)
    if name == "lookup":  # idempotent: run again
        assert effects_after.runs == ["lookup crash"]
        assert first_result == ToolResultPart(
            call_id="c1", content="found crash", name="lookup"
        )
    else:  # not idempotent: the model hears the outcome is unknown
        assert effects_after.runs == []
        assert first_result.is_error
        assert first_result.call_id == "c1"
        assert "outcome of this call of 'charge' is unknown" in first_result.content
        assert "not declared idempotent" in first_result.content
    assert second.requests[0].messages[-1].parts == (first_result,)


async def test_a_tool_call_not_started_runs_on_resume(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    crash = Crash()
    effects = Effects(crash)
    reply = calls(call("c1", "charge", order="a"))
    first = ScriptedProvider([reply])
    engine = engine_on(path, first, effects.registry())
    await engine.on_start()
    with crash.scope:
        # the reply is journalled, then the process dies before any tool starts
        await engine.journal.write(TurnOpened(text="go"))  # type: ignore[union-attr]
        await engine.journal.write(  # type: ignore[union-attr]
            StepReplied(message=reply.message, usage=Usage())
        )
    second = ScriptedProvider([answer("done")])
    engine = engine_on(path, second, effects.registry())
    await engine.on_start()
    result = await engine.receive(ResumeTurn())
    assert isinstance(result, ChatResult)
    assert effects.runs == ["charge a"]
    assert roles(result.messages) == ["user", "assistant", "tool", "assistant"]


async def test_user_input_while_a_turn_is_unfinished_is_refused(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    crash = Crash()
    first = ScriptedProvider([crash])
    await crash_during(engine_on(path, first), crash, UserInput("lost?"))

    provider = ScriptedProvider([answer("fresh")])
    conversation = Conversation("c", store=SQLiteConversationStore(path))
    async with open_actor_system("durable", shutdown_timeout=1.0) as system:
        engine = await spawn_chat(
            system, provider=provider, conversation=conversation, durable=True
        )
        send, receive = trio.open_memory_channel[object](1)
        with pytest.raises(
            EngineError, match=r"unfinished turn \('lost\?'\).*ResumeTurn"
        ):
            await engine.ask(UserInput("new", stream_to=send))
        with pytest.raises(trio.EndOfChannel):
            receive.receive_nowait()  # the stream was closed
        assert engine.statistics().restarts == 0
        assert await engine.ask(AbandonTurn()) is None
        assert journal_rows(path) == 0
        result = await engine.ask(UserInput("new"))
        assert result.text == "fresh"
        assert await engine.ask(GetHistory()) == (
            Message.user("new"),
            Message.assistant("fresh"),
        )
        with pytest.raises(EngineError, match="there is no unfinished turn"):
            await engine.ask(ResumeTurn())
        assert await engine.ask(AbandonTurn()) is None


async def test_a_failed_durable_turn_stays_unfinished_and_resumes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chat.db"
    effects = Effects()
    provider = ScriptedProvider(
        [calls(call("c1", "charge", order="a")), ProviderUnavailable("down")]
    )
    engine = engine_on(path, provider, effects.registry())
    await engine.on_start()
    outcome = await engine.receive(UserInput("pay"))
    assert isinstance(outcome, Failure)
    assert isinstance(outcome.error, ProviderUnavailable)
    assert engine.unfinished == "pay"
    assert engine.conversation.messages == ()
    refused = await engine.receive(UserInput("pay"))
    assert isinstance(refused, Failure)
    assert "AbandonTurn()" in str(refused.error)
    provider.add(answer("paid"))
    result = await engine.receive(ResumeTurn())
    assert isinstance(result, ChatResult)
    assert result.text == "paid"
    assert effects.runs == ["charge a"]
    assert len(engine.conversation.turns()) == 1


async def test_a_durable_turn_past_max_steps_keeps_what_happened(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    provider = ScriptedProvider([calls(call("c1", "lookup", order="a"))] * 2)
    engine = engine_on(path, provider, Effects().registry(), max_steps=1)
    await engine.on_start()
    outcome = await engine.receive(UserInput("loop"))
    assert isinstance(outcome, Failure)
    assert isinstance(outcome.error, MaxStepsExceeded)
    assert roles(engine.conversation.messages) == ["user", "assistant", "tool"]
    assert engine.unfinished is None
    assert journal_rows(path) == 0


async def test_turn_timeout_leaves_a_durable_turn_unfinished(
    tmp_path: Path, mock_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    entered = trio.Event()

    async def slow(request: LLMRequest) -> str:
        entered.set()
        await trio.sleep_forever()
        raise AssertionError("never reached")  # pragma: no cover

    engine = engine_on(path, ScriptedProvider([slow, answer("on time")]), turn_timeout=5)
    await engine.on_start()
    outcomes: list[object] = []

    async def turn() -> None:
        outcomes.append(await engine.receive(UserInput("hi")))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(turn)
        await entered.wait()
        mock_clock.jump(5)
    [outcome] = outcomes
    assert isinstance(outcome, Failure)
    assert "is unfinished: ResumeTurn() continues it" in str(outcome.error)
    result = await engine.receive(ResumeTurn())
    assert isinstance(result, ChatResult)
    assert result.text == "on time"


async def test_clearing_the_conversation_drops_the_unfinished_turn(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chat.db"
    engine = engine_on(path, ScriptedProvider([ProviderUnavailable("down")]))
    await engine.on_start()
    assert isinstance(await engine.receive(UserInput("hi")), Failure)
    assert journal_rows(path) == 1
    assert await engine.receive(ClearConversation()) is None
    assert engine.unfinished is None
    assert journal_rows(path) == 0


async def test_an_unreadable_journal_never_blocks_a_start(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    store = SQLiteConversationStore(path)
    await store.write_journal("c", '{"kind":"opened","text":"hi"}')
    await store.write_journal("c", '{"kind":"mystery"}')
    engine = engine_on(path, ScriptedProvider([answer("ok")]))
    await engine.on_start()
    assert engine.unfinished == "(unreadable)"
    outcome = await engine.receive(ResumeTurn())
    assert isinstance(outcome, Failure)
    assert "cannot be resumed" in str(outcome.error)
    assert "AbandonTurn() drops it" in str(outcome.error)
    assert await engine.receive(AbandonTurn()) is None
    result = await engine.receive(UserInput("again"))
    assert isinstance(result, ChatResult)
    assert result.text == "ok"


async def test_a_turn_finished_elsewhere_is_not_resumed(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    store = SQLiteConversationStore(path)
    await store.write_journal("c", dump_entry(TurnOpened(text="hi")))
    engine = engine_on(path, ScriptedProvider())
    await engine.on_start()
    await store.drop_journal("c")  # another process abandoned it meanwhile
    outcome = await engine.receive(ResumeTurn())
    assert isinstance(outcome, Failure)
    assert "no unfinished turn" in str(outcome.error)
    assert engine.unfinished is None


async def test_resume_behind_an_executor_that_cannot_say_idempotent(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    class Remote:
        """A tool executor without get(): idempotency unknown, so never re-run."""

        def __init__(self) -> None:
            self.runs = 0

        def specs(self) -> Sequence[ToolSpec]:
            return [ToolSpec(name="lookup", description="d", parameters={})]

        async def execute(self, call: ToolCallPart) -> ToolResultPart:
            self.runs += 1
            return ToolResultPart(call_id=call.id, content="x")

    path = tmp_path / "chat.db"
    store = SQLiteConversationStore(path)
    reply = calls(call("c1", "lookup", order="a"))
    for entry in (
        TurnOpened(text="go"),
        StepReplied(message=reply.message, usage=Usage()),
        ToolStarted(index=0),
    ):
        await store.write_journal("c", dump_entry(entry))
    remote = Remote()
    engine = engine_on(path, ScriptedProvider([answer("ok")]), remote)
    await engine.on_start()
    result = await engine.receive(ResumeTurn())
    assert isinstance(result, ChatResult)
    assert remote.runs == 0
    tool_result = result.messages[2].parts[0]
    assert isinstance(tool_result, ToolResultPart)
    assert tool_result.is_error


async def test_a_system_cancelled_mid_turn_leaves_a_turn_to_resume(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    path = tmp_path / "chat.db"
    crash = Crash()
    effects = Effects(crash)
    first = ScriptedProvider([calls(call("c1", "charge", order="a")), crash])
    with crash.scope:
        async with open_actor_system("first", shutdown_timeout=0.1) as system:
            conversation = Conversation("c", store=SQLiteConversationStore(path))
            engine = await spawn_chat(
                system,
                provider=first,
                tools=effects.registry(),
                conversation=conversation,
                durable=True,
            )
            await engine.ask(UserInput("go"))
    assert crash.scope.cancelled_caught

    second = ScriptedProvider([answer("done")])
    async with open_actor_system("second", shutdown_timeout=1.0) as system:
        conversation = Conversation("c", store=SQLiteConversationStore(path))
        engine = await spawn_chat(
            system,
            provider=second,
            tools=effects.registry(),
            conversation=conversation,
            durable=True,
        )
        result = await engine.ask(ResumeTurn())
    assert result.text == "done"
    assert effects.runs == ["charge a"]
    assert len(second.requests) == 1


async def test_an_engine_restarted_by_a_bug_mid_turn_finds_the_turn_unfinished(
    tmp_path: Path,
) -> None:
    class Buggy:
        """A tool executor with a bug on its first call."""

        def __init__(self) -> None:
            self.calls = 0

        def specs(self) -> Sequence[ToolSpec]:
            return [ToolSpec(name="lookup", description="d", parameters={})]

        async def execute(self, call: ToolCallPart) -> ToolResultPart:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("bug")
            return ToolResultPart(call_id=call.id, content="ok")

    path = tmp_path / "chat.db"
    provider = ScriptedProvider([calls(call("c1", "lookup")), answer("done")])
    buggy = Buggy()
    async with open_actor_system("app", shutdown_timeout=1.0) as system:
        engine = await spawn_chat(
            system,
            provider=provider,
            tools=buggy,
            conversation=Conversation("c", store=SQLiteConversationStore(path)),
            durable=True,
        )
        with pytest.raises(RuntimeError, match="bug"):
            await engine.ask(UserInput("go"))
        with pytest.raises(EngineError, match="unfinished turn"):
            await engine.ask(UserInput("go"))  # answered by the next incarnation
        assert engine.statistics().restarts == 1
        result = await engine.ask(ResumeTurn())
    assert result.text == "done"
    assert buggy.calls == 1  # started without a result, and not known idempotent
    tool_result = result.messages[2].parts[0]
    assert isinstance(tool_result, ToolResultPart)
    assert tool_result.is_error
