"""Conversations in SQLite: resumed by a new engine in a new actor system."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from llmgine._exceptions import ConfigurationError
from llmgine.actors import open_actor_system
from llmgine.engines import (
    ClearConversation,
    Conversation,
    GetHistory,
    SQLiteConversationStore,
    UserInput,
)
from llmgine.engines._store import dump_message, load_message
from llmgine.llm import (
    BlobPart,
    Message,
    ReasoningPart,
    Role,
    ScriptedProvider,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

from .conftest import answer, call, calls, registry, roles, spawn_chat

EVERY_PART = Message(
    role=Role.ASSISTANT,
    parts=[
        TextPart(text="Let me look."),
        ReasoningPart(text="think", signature="sig=="),
        ReasoningPart(text="unsigned"),
        BlobPart(mime_type="image/png", data="iVBORw0KGgo="),
        BlobPart(mime_type="application/pdf", url="https://example.com/a.pdf"),
        ToolCallPart(id="c1", name="f", arguments={"a": [1, {"b": None}], "s": "x"}),
        ToolCallPart(id="c2", name="g", arguments='{"broken": ', signature="ts"),
    ],
)


@pytest.mark.parametrize(
    "message",
    [
        EVERY_PART,
        Message.user("héllo ☃"),
        Message.system("Be brief."),
        Message(
            role=Role.TOOL,
            parts=[ToolResultPart(call_id="c1", content="boom", is_error=True, name="f")],
        ),
    ],
)
def test_messages_round_trip_through_json(message: Message) -> None:
    line = dump_message(message)
    assert "\n" not in line
    assert load_message(line) == message


def test_the_json_is_tagged_and_short() -> None:
    line = dump_message(
        Message(role=Role.TOOL, parts=[ToolResultPart(call_id="c1", content="3")])
    )
    assert line == (
        '{"role":"tool","parts":[{"call_id":"c1","content":"3","type":"tool_result"}]}'
    )


def test_bad_stored_arguments_are_refused() -> None:
    with pytest.raises(Exception, match="ToolCallPart"):
        load_message(
            '{"role":"assistant","parts":'
            '[{"type":"tool_call","id":"c","name":"f","arguments":3}]}'
        )


async def test_store_appends_loads_lists_and_clears(tmp_path: Path) -> None:
    store = SQLiteConversationStore(tmp_path / "chats.db")
    assert store.path == str(tmp_path / "chats.db")
    assert repr(store) == f"SQLiteConversationStore({store.path!r})"
    assert await store.load("a") == []
    await store.append("a", 0, [Message.user("1"), Message.assistant("2")])
    await store.append("b", 0, [EVERY_PART])
    await store.append("a", 2, [Message.user("3")])
    assert await store.load("a") == [
        Message.user("1"),
        Message.assistant("2"),
        Message.user("3"),
    ]
    assert await store.load("b") == [EVERY_PART]
    assert await store.conversations() == ["a", "b"]
    await store.clear("a")
    assert await store.load("a") == []
    assert await store.conversations() == ["b"]
    # a second store object on the same file sees the same data
    assert await SQLiteConversationStore(tmp_path / "chats.db").load("b") == [EVERY_PART]


async def test_a_taken_position_is_refused_not_interleaved(tmp_path: Path) -> None:
    store = SQLiteConversationStore(tmp_path / "chats.db")
    await store.append("a", 0, [Message.user("1")])
    with pytest.raises(sqlite3.IntegrityError):
        await store.append("a", 0, [Message.user("other"), Message.assistant("x")])
    assert await store.load("a") == [Message.user("1")]


def test_an_in_memory_database_is_refused() -> None:
    for path in (":memory:", ""):
        with pytest.raises(ConfigurationError, match="file path"):
            SQLiteConversationStore(path)


async def test_a_new_engine_in_a_new_system_resumes_the_conversation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sessions.sqlite3"
    first_provider = ScriptedProvider(
        [calls(call("c1", "add", a=2, b=2)), answer("4. Anything else?")]
    )
    async with open_actor_system("first") as system:
        engine = await spawn_chat(
            system,
            provider=first_provider,
            tools=registry(),
            conversation=Conversation("session-1", store=SQLiteConversationStore(path)),
        )
        first = await engine.ask(UserInput("2+2?"))

    second_provider = ScriptedProvider([answer("You asked 2+2.")])
    async with open_actor_system("second") as system:
        conversation = Conversation("session-1", store=SQLiteConversationStore(path))
        assert not conversation.loaded
        engine = await spawn_chat(
            system, provider=second_provider, tools=registry(), conversation=conversation
        )
        second = await engine.ask(UserInput("What did I ask?"))
        history = await engine.ask(GetHistory())
    assert conversation.loaded
    [request] = second_provider.requests
    assert request.messages == (*first.messages, Message.user("What did I ask?"))
    assert history == first.messages + second.messages
    assert await SQLiteConversationStore(path).load("session-1") == list(history)


async def test_a_failed_turn_stores_nothing_and_clear_deletes(tmp_path: Path) -> None:
    store = SQLiteConversationStore(tmp_path / "c.db")
    provider = ScriptedProvider([answer("one"), RuntimeError("bug")])
    async with open_actor_system("s", shutdown_timeout=1.0) as system:
        engine = await spawn_chat(
            system, provider=provider, conversation=Conversation("x", store=store)
        )
        await engine.ask(UserInput("a"))
        with pytest.raises(RuntimeError):
            await engine.ask(UserInput("b"))
        assert roles(await store.load("x")) == ["user", "assistant"]
        await engine.ask(ClearConversation())
        assert await store.load("x") == []


async def test_a_store_error_fails_the_turn_and_keeps_memory_in_step(
    tmp_path: Path,
) -> None:
    store = SQLiteConversationStore(tmp_path / "c.db")
    conversation = Conversation("x", store=store)
    await conversation.load()
    # another writer took position 0 behind this conversation's back
    await store.append("x", 0, [Message.user("elsewhere")])
    provider = ScriptedProvider([answer("one"), answer("two")])
    async with open_actor_system("s") as system:
        engine = await spawn_chat(system, provider=provider, conversation=conversation)
        with pytest.raises(sqlite3.IntegrityError):
            await engine.ask(UserInput("a"))
        assert conversation.messages == ()
        assert engine.statistics().restarts == 0
        await conversation.load()
        result = await engine.ask(UserInput("b"))
    assert roles(await store.load("x")) == ["user", "user", "assistant"]
    assert result.text == "two"


class FailingStore:
    """A store whose writes and deletes fail."""

    async def load(self, conversation_id: str) -> list[Message]:
        return []

    async def append(self, conversation_id: str, start: int, messages: object) -> None:
        raise OSError("disk full")

    async def clear(self, conversation_id: str) -> None:
        raise OSError("read-only file system")


async def test_store_errors_are_answered_not_crashed_on() -> None:
    conversation = Conversation(store=FailingStore())
    provider = ScriptedProvider([calls(call("c1", "add", a=1, b=1)), "x"])
    async with open_actor_system("s") as system:
        engine = await spawn_chat(
            system,
            provider=provider,
            tools=registry(),
            conversation=conversation,
            max_steps=1,
        )
        with pytest.raises(OSError, match="disk full"):
            await engine.ask(UserInput("a"))  # MaxStepsExceeded, then cannot keep
        with pytest.raises(OSError, match="read-only"):
            await engine.ask(ClearConversation())
        assert engine.statistics().restarts == 0
    assert conversation.messages == ()
