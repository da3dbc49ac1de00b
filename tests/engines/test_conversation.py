"""``Conversation``, turns and the context window."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmgine._exceptions import ConfigurationError
from llmgine.actors import ActorSystem
from llmgine.engines import (
    ContextWindow,
    Conversation,
    SQLiteConversationStore,
    UserInput,
    estimate_tokens,
    split_turns,
)
from llmgine.llm import (
    BlobPart,
    Message,
    Part,
    ReasoningPart,
    Role,
    ScriptedProvider,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

from .conftest import answer, call, calls, registry, roles, spawn_chat


def tool_turn(n: int, results: int = 1) -> list[Message]:
    """A turn with ``results`` tool calls answered, then a reply."""
    ids = [f"t{n}-{i}" for i in range(results)]
    return [
        Message.user(f"question {n}"),
        Message(
            role=Role.ASSISTANT,
            parts=[ToolCallPart(id=i, name="add", arguments={}) for i in ids],
        ),
        *(
            Message(role=Role.TOOL, parts=[ToolResultPart(call_id=i, content="1")])
            for i in ids
        ),
        Message.assistant(f"answer {n}"),
    ]


def chat_turn(n: int) -> list[Message]:
    return [Message.user(f"question {n}"), Message.assistant(f"answer {n}")]


def test_split_turns_opens_a_turn_at_each_user_message() -> None:
    greeting = Message.assistant("Welcome!")
    messages = [greeting, *chat_turn(1), *tool_turn(2)]
    assert split_turns(messages) == [
        (greeting,),
        tuple(chat_turn(1)),
        tuple(tool_turn(2)),
    ]
    assert split_turns([]) == []
    # a user message carrying tool results continues the turn (Anthropic style)
    results = Message(role=Role.USER, parts=[ToolResultPart(call_id="x", content="1")])
    assert split_turns([*chat_turn(1), results]) == [(*chat_turn(1), results)]


def test_window_by_messages_drops_the_oldest_whole_turns() -> None:
    messages = [*chat_turn(1), *tool_turn(2), *chat_turn(3)]  # 2 + 4 + 2 messages
    assert ContextWindow(max_messages=6).apply(messages) == (
        *tool_turn(2),
        *chat_turn(3),
    )
    # 5 cannot hold the tool turn whole: it goes, never half of it
    assert ContextWindow(max_messages=5).apply(messages) == tuple(chat_turn(3))
    # the latest turn is always kept, even over budget
    assert ContextWindow(max_messages=1).apply(messages) == tuple(chat_turn(3))
    assert ContextWindow(max_messages=100).apply(messages) == tuple(messages)
    assert ContextWindow(max_messages=3).apply([]) == ()


def test_window_by_tokens_counts_the_system_prompt() -> None:
    messages = [*chat_turn(1), *chat_turn(2), *chat_turn(3)]

    def ten(message: Message) -> int:
        return 10

    window = ContextWindow(max_tokens=40, count_tokens=ten)
    assert window.apply(messages) == (*chat_turn(2), *chat_turn(3))
    # the system prompt takes 10 of the 40: only one turn fits
    assert window.apply(messages, system="Be brief.") == tuple(chat_turn(3))
    both = ContextWindow(max_tokens=1000, max_messages=2, count_tokens=ten)
    assert both.apply(messages) == tuple(chat_turn(3))


def test_window_budgets_are_validated() -> None:
    for bad in (0, -3, True, 2.5):
        with pytest.raises(ConfigurationError, match="'max_messages'"):
            ContextWindow(max_messages=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="'max_tokens'"):
            ContextWindow(max_tokens=bad)  # type: ignore[arg-type]


def test_estimate_tokens_counts_every_kind_of_part() -> None:
    assert estimate_tokens(Message.user("")) == 4
    assert estimate_tokens(Message.user("abcd" * 10)) == 14
    parts: list[Part] = [
        TextPart(text="abcd"),
        ReasoningPart(text="abcdefgh"),
        ToolCallPart(id="c", name="add", arguments={"a": 1}),
        ToolResultPart(call_id="c", content="12345"),
        BlobPart(mime_type="image/png", url="https://example.com/x.png"),
    ]
    # 4 + 1 + 2 + (1 + 2) + 2 + 256
    assert estimate_tokens(Message(role=Role.ASSISTANT, parts=parts)) == 268


@st.composite
def histories(draw: st.DrawFn) -> list[Message]:
    shapes = draw(st.lists(st.integers(min_value=0, max_value=3), max_size=8))
    messages: list[Message] = []
    for n, results in enumerate(shapes):
        messages.extend(tool_turn(n, results) if results else chat_turn(n))
    return messages


@given(
    histories(),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=400),
)
def test_window_keeps_a_suffix_of_whole_turns_with_every_result(
    messages: list[Message], max_messages: int, max_tokens: int
) -> None:
    kept = ContextWindow(max_messages=max_messages, max_tokens=max_tokens).apply(messages)
    assert list(kept) == messages[len(messages) - len(kept) :]
    if messages:
        assert kept
        assert kept[0].role is Role.USER
        assert kept[-len(split_turns(messages)[-1]) :] == split_turns(messages)[-1]
    called = {c.id for m in kept for c in m.tool_calls}
    answered = {p.call_id for m in kept for p in m.parts if isinstance(p, ToolResultPart)}
    assert called == answered
    if len(split_turns(kept)) > 1:
        assert len(kept) <= max_messages
        assert sum(estimate_tokens(m) for m in kept) <= max_tokens


async def test_conversation_holds_appends_and_clears() -> None:
    conversation = Conversation("c-1", messages=chat_turn(1))
    assert conversation.id == "c-1"
    assert len(conversation) == 2
    assert repr(conversation) == "<Conversation c-1 (2 messages)>"
    assert conversation.loaded
    assert conversation.store is None
    assert conversation.window is None
    await conversation.append([])
    await conversation.append(chat_turn(2))
    assert conversation.turns() == [tuple(chat_turn(1)), tuple(chat_turn(2))]
    assert conversation.request_messages([Message.user("next")]) == (
        *chat_turn(1),
        *chat_turn(2),
        Message.user("next"),
    )
    await conversation.load()  # without a store: nothing to read
    assert len(conversation) == 4
    await conversation.clear()
    assert conversation.messages == ()
    assert len(Conversation().id) == 32
    assert Conversation().id != Conversation().id


def test_conversation_checks_its_arguments(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match="'id'"):
        Conversation("")
    with pytest.raises(ConfigurationError, match="not both"):
        Conversation(
            messages=chat_turn(1),
            store=SQLiteConversationStore(f"{tmp_path}/c.db"),
        )


async def test_the_engine_sends_the_window_not_the_whole_history(
    system: ActorSystem,
) -> None:
    conversation = Conversation(
        messages=[*chat_turn(1), *tool_turn(2)],
        window=ContextWindow(max_messages=7),
    )
    provider = ScriptedProvider([calls(call("c1", "add", a=1, b=1)), answer("2")])
    engine = await spawn_chat(
        system, provider=provider, tools=registry(), conversation=conversation
    )
    await engine.ask(UserInput("1+1"))
    first, second = provider.requests
    # 1 + 4 fit in 7 with the new user message; the first chat turn does too: 7
    assert roles(first.messages) == [
        "user", "assistant", "user", "assistant", "tool", "assistant", "user"
    ]  # fmt: skip
    # the turn grew by two messages: the oldest whole turn had to go
    assert second.messages[0] == Message.user("question 2")
    assert roles(second.messages) == [
        "user", "assistant", "tool", "assistant", "user", "assistant", "tool"
    ]  # fmt: skip
    assert len(conversation) == 6 + 4  # the conversation itself keeps everything
