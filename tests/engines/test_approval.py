"""Tool approval: a turn stops before a call that needs approval, and goes on after."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from llmgine._exceptions import ConfigurationError, EngineError
from llmgine.actors import ActorSystem, open_actor_system
from llmgine.engines import (
    AbandonTurn,
    ApproveTools,
    ChatEngine,
    ClearConversation,
    Conversation,
    GetHistory,
    ResumeTurn,
    SQLiteConversationStore,
    ToolExecuted,
    TurnEvent,
    UserInput,
)
from llmgine.llm import ScriptedProvider
from llmgine.tools import ToolRegistry, ToolTraits, spawn_tool_actor, tool

from .conftest import answer, call, calls, roles, spawn_chat, tokens

sent: list[int] = []
looked_up: list[str] = []


@tool(requires_approval=True)
def send_money(cents: int) -> str:
    """Send money.

    Args:
        cents: How much.
    """
    sent.append(cents)
    return f"sent {cents}"


@tool
def balance(account: str) -> str:
    """Look up a balance.

    Args:
        account: Which account.
    """
    looked_up.append(account)
    return "1000"


@pytest.fixture(autouse=True)
def _reset() -> None:
    sent.clear()
    looked_up.clear()


def step() -> Any:
    return calls(
        call("b1", "balance", account="main"),
        call("s1", "send_money", cents=500),
        text="Checking, then sending.",
        usage=tokens(10, 5),
    )


def test_the_flag_is_on_the_tool() -> None:
    assert send_money.requires_approval
    assert not balance.requires_approval
    assert ChatEngine(ScriptedProvider(), model="m").pending_approvals == ()


async def test_a_call_that_needs_approval_stops_the_turn(system: ActorSystem) -> None:
    provider = ScriptedProvider([step(), answer("Sent.", tokens(20, 2))])
    engine = await spawn_chat(system, provider=provider, tools=[balance, send_money])
    result = await engine.ask(UserInput("Send 5 dollars."))
    assert [c.id for c in result.pending_approvals] == ["s1"]
    assert result.text == "Checking, then sending."
    assert result.usage == tokens(10, 5)
    assert looked_up == ["main"]
    assert sent == []
    assert roles(result.messages) == ["user", "assistant"]
    assert await engine.ask(GetHistory()) == ()  # not in the conversation yet

    done = await engine.ask(ApproveTools(approve=["s1"]))
    assert done.pending_approvals == ()
    assert done.text == "Sent."
    assert done.steps == 2
    assert done.usage == tokens(30, 7)
    assert sent == [500]
    assert looked_up == ["main"]
    assert roles(done.messages) == ["user", "assistant", "tool", "tool", "assistant"]
    assert await engine.ask(GetHistory()) == done.messages


async def test_a_tool_in_a_tool_actor_waits_for_approval_too(
    system: ActorSystem,
) -> None:
    tools = await spawn_tool_actor(system, ToolRegistry([balance, send_money]))
    assert tools.get("send_money") == ToolTraits(
        name="send_money", requires_approval=True
    )
    assert tools.get("nothing") is None
    provider = ScriptedProvider([step(), answer("Sent.", tokens(20, 2))])
    engine = await spawn_chat(system, provider=provider, tools=tools)
    result = await engine.ask(UserInput("Send 5 dollars."))
    assert [c.id for c in result.pending_approvals] == ["s1"]
    assert (looked_up, sent) == (["main"], [])
    done = await engine.ask(ApproveTools(approve=["s1"]))
    assert done.text == "Sent."
    assert sent == [500]


async def test_a_denied_call_gives_the_model_an_error_with_the_reason(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider([step(), "Not sent."])
    engine = await spawn_chat(system, provider=provider, tools=[balance, send_money])
    await engine.ask(UserInput("Send 5 dollars."))
    send, receive = trio.open_memory_channel[TurnEvent](16)
    done = await engine.ask(
        ApproveTools(deny={"s1": "over the daily limit"}, stream_to=send)
    )
    assert done.text == "Not sent."
    assert sent == []
    denied = provider.requests[1].messages[-1].parts[0]
    assert denied.is_error
    assert denied.content == (
        "The user denied this call of 'send_money': over the daily limit"
    )
    events = [e async for e in receive]
    assert isinstance(events[0], ToolExecuted)
    assert events[0].result == denied


async def test_while_a_turn_waits_a_new_input_is_refused(system: ActorSystem) -> None:
    provider = ScriptedProvider([step(), "Hello."])
    engine = await spawn_chat(system, provider=provider, tools=[balance, send_money])
    await engine.ask(UserInput("Send 5 dollars."))
    with pytest.raises(EngineError, match=r"send_money \(s1\).*ApproveTools"):
        await engine.ask(UserInput("Hi"))
    # ResumeTurn presents the same stop again, without calling anything
    again = await engine.ask(ResumeTurn())
    assert [c.id for c in again.pending_approvals] == ["s1"]
    assert len(provider.requests) == 1
    assert looked_up == ["main"]
    assert await engine.ask(AbandonTurn()) is None
    assert (await engine.ask(UserInput("Hi"))).text == "Hello."
    assert roles(await engine.ask(GetHistory())) == ["user", "assistant"]


async def test_clearing_the_conversation_drops_a_waiting_turn(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider([step(), "Hello."])
    engine = await spawn_chat(system, provider=provider, tools=[balance, send_money])
    await engine.ask(UserInput("Send 5 dollars."))
    await engine.ask(ClearConversation())
    assert (await engine.ask(UserInput("Hi"))).text == "Hello."


@pytest.mark.parametrize(
    ("decision", "problem"),
    [
        (ApproveTools(approve=["nope"]), "no call waits for approval with id nope"),
        (ApproveTools(), "undecided: s1"),
        (ApproveTools(approve=["s1"], deny={"s1": "no"}), "approved and denied"),
    ],
)
async def test_decisions_must_match_the_pending_calls(
    system: ActorSystem, decision: ApproveTools, problem: str
) -> None:
    provider = ScriptedProvider([step(), "Sent."])
    engine = await spawn_chat(system, provider=provider, tools=[balance, send_money])
    await engine.ask(UserInput("Send 5 dollars."))
    with pytest.raises(EngineError, match=problem):
        await engine.ask(decision)
    send, receive = trio.open_memory_channel[TurnEvent](4)
    with pytest.raises(EngineError, match=problem):
        await engine.ask(attrs.evolve(decision, stream_to=send))
    assert [e async for e in receive] == []  # closed, however the ask ended
    assert (await engine.ask(ApproveTools(approve=["s1"]))).text == "Sent."


async def test_approving_with_nothing_pending_is_an_error(system: ActorSystem) -> None:
    engine = await spawn_chat(system, provider=ScriptedProvider())
    with pytest.raises(EngineError, match="no tool call waits for approval"):
        await engine.ask(ApproveTools())
    send, receive = trio.open_memory_channel[TurnEvent](4)
    with pytest.raises(EngineError, match="no tool call waits for approval"):
        await engine.ask(ApproveTools(approve=["x"], stream_to=send))
    assert [e async for e in receive] == []  # closed


def test_approve_tools_checks_its_arguments() -> None:
    assert ApproveTools(approve=["a"]).approve == ("a",)
    with pytest.raises(ConfigurationError, match="not a str"):
        ApproveTools(approve="a")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="call ids"):
        ApproveTools(approve=[1])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="'deny' must map"):
        ApproveTools(deny=["a"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="reasons"):
        ApproveTools(deny={"a": 1})  # type: ignore[dict-item]


async def test_a_turn_may_stop_again_after_approval(system: ActorSystem) -> None:
    provider = ScriptedProvider(
        [
            calls(call("s1", "send_money", cents=1)),
            calls(call("s2", "send_money", cents=2)),
            "Both sent.",
        ]
    )
    engine = await spawn_chat(system, provider=provider, tools=[send_money])
    first = await engine.ask(UserInput("Send 1 then 2."))
    second = await engine.ask(ApproveTools(approve=["s1"]))
    assert [c.id for c in second.pending_approvals] == ["s2"]
    assert sent == [1]
    done = await engine.ask(ApproveTools(approve=["s2"]))
    assert done.text == "Both sent."
    assert sent == [1, 2]
    assert first.pending_approvals
    assert not done.pending_approvals


# -- durable: a pending approval survives a restart -------------------------------


async def durable_engine(
    system: ActorSystem, path: Path, provider: ScriptedProvider
) -> Any:
    return await system.spawn(
        functools.partial(
            ChatEngine,
            provider=provider,
            model="m",
            tools=ToolRegistry([balance, send_money]),
            conversation=Conversation("c1", store=SQLiteConversationStore(path)),
            durable=True,
        ),
        name="chat",
    )


async def test_a_pending_approval_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "chat.sqlite3"
    async with open_actor_system("one") as system:
        engine = await durable_engine(system, path, ScriptedProvider([step()]))
        result = await engine.ask(UserInput("Send 5 dollars."))
        assert [c.id for c in result.pending_approvals] == ["s1"]
    # a new process, in effect: a new system, store and engine on the same file
    later = ScriptedProvider([answer("Sent.", tokens(20, 2))])
    async with open_actor_system("two") as system:
        engine = await durable_engine(system, path, later)
        with pytest.raises(EngineError, match="ApproveTools"):
            await engine.ask(UserInput("Hi"))
        again = await engine.ask(ResumeTurn())
        assert [c.id for c in again.pending_approvals] == ["s1"]
        done = await engine.ask(ApproveTools(approve=["s1"]))
        assert done.text == "Sent."
        assert done.steps == 2
        assert done.usage == tokens(30, 7)
        assert sent == [500]
        assert looked_up == ["main"]
        history = await engine.ask(GetHistory())
    assert roles(history) == ["user", "assistant", "tool", "tool", "assistant"]
    assert await SQLiteConversationStore(path).load_journal("c1") == []


async def test_a_denial_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "chat.sqlite3"
    async with open_actor_system("one") as system:
        engine = await durable_engine(system, path, ScriptedProvider([step()]))
        await engine.ask(UserInput("Send 5 dollars."))
    later = ScriptedProvider(["Not sent."])
    async with open_actor_system("two") as system:
        engine = await durable_engine(system, path, later)
        done = await engine.ask(ApproveTools(deny={"s1": "no"}))
    assert done.text == "Not sent."
    assert sent == []
    assert "denied" in later.requests[0].messages[-1].parts[0].content


async def test_an_approved_call_that_crashed_is_not_asked_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chat.sqlite3"
    started = trio.Event()

    @tool(requires_approval=True)
    async def slow_send(cents: int) -> str:
        """Send slowly.

        Args:
            cents: How much.
        """
        started.set()
        await trio.sleep_forever()
        return "never"

    async def engine_on(system: ActorSystem, provider: ScriptedProvider) -> Any:
        return await system.spawn(
            functools.partial(
                ChatEngine,
                provider=provider,
                model="m",
                tools=[slow_send],
                conversation=Conversation("c1", store=SQLiteConversationStore(path)),
                durable=True,
            ),
            name="chat",
        )

    async with open_actor_system("one") as system:
        engine = await engine_on(
            system, ScriptedProvider([calls(call("s1", "slow_send", cents=1))])
        )
        await engine.ask(UserInput("Send."))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(engine.ask, ApproveTools(approve=["s1"]))
            await started.wait()
            nursery.cancel_scope.cancel()  # the crash, after the call started
    later = ScriptedProvider(["Unsure."])
    async with open_actor_system("two") as system:
        engine = await engine_on(system, later)
        done = await engine.ask(ResumeTurn())  # no new approval is asked for
    assert done.pending_approvals == ()
    assert "unknown" in later.requests[0].messages[-1].parts[0].content


@settings(max_examples=40, deadline=None)
@given(
    needs=st.lists(st.booleans(), min_size=1, max_size=4),
    decisions=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_every_kept_call_has_its_result_whatever_is_decided(
    needs: list[bool], decisions: list[bool]
) -> None:
    """However calls are approved or denied, the stored turn is valid history."""
    ran: list[str] = []

    @tool(requires_approval=True)
    def guarded(n: int) -> str:
        """Needs approval.

        Args:
            n: Which.
        """
        ran.append(f"guarded {n}")
        return "done"

    @tool
    def free(n: int) -> str:
        """Runs at once.

        Args:
            n: Which.
        """
        ran.append(f"free {n}")
        return "done"

    step_calls = [
        call(f"c{i}", "guarded" if need else "free", n=i) for i, need in enumerate(needs)
    ]

    async def scenario() -> None:
        provider = ScriptedProvider([calls(*step_calls), "Done."])
        async with open_actor_system("prop") as system:
            engine = await spawn_chat(system, provider=provider, tools=[guarded, free])
            result = await engine.ask(UserInput("go"))
            pending = [c.id for c in result.pending_approvals]
            assert pending == [
                c.id for c, need in zip(step_calls, needs, strict=True) if need
            ]
            if pending:
                approve = [i for i, ok in zip(pending, decisions, strict=False) if ok]
                deny = {
                    i: "no" for i, ok in zip(pending, decisions, strict=False) if not ok
                }
                result = await engine.ask(ApproveTools(approve=approve, deny=deny))
            history = await engine.ask(GetHistory())
        called = [p.id for m in history for p in m.tool_calls]
        answered = [p.call_id for m in history for p in m.parts if hasattr(p, "call_id")]
        assert called == answered  # one result per call, in the order of the calls
        assert result.text == "Done."
        approved = {c for c, ok in zip(pending, decisions, strict=False) if ok}
        expected = {
            f"{c.name} {c.arguments['n']}"  # type: ignore[index]
            for c, need in zip(step_calls, needs, strict=True)
            if not need or c.id in approved
        }
        assert sorted(ran) == sorted(expected)

    trio.run(scenario)
