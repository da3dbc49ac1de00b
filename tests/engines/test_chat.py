"""``ChatEngine`` end to end with a scripted provider: the tool-calling loop."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import trio
import trio.testing

from llmgine._exceptions import (
    ActorStopped,
    CircuitOpenError,
    ConfigurationError,
    MaxStepsExceeded,
    ProviderUnavailable,
    RateLimitError,
    UsageLimitExceeded,
)
from llmgine.actors import ActorSystem, CircuitBreaker
from llmgine.engines import (
    ChatEngine,
    ChatResult,
    ClearConversation,
    Conversation,
    GetHistory,
    UsageLimits,
    UserInput,
)
from llmgine.llm import (
    LLMRequest,
    Message,
    ProviderActor,
    Role,
    ScriptedProvider,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from llmgine.tools import ToolRegistry, spawn_tool_actor, tool

from .conftest import (
    add,
    answer,
    call,
    calls,
    registry,
    roles,
    spawn_chat,
    tokens,
    weather,
)


def results_of(messages: tuple[Message, ...] | list[Message]) -> list[ToolResultPart]:
    return [p for m in messages for p in m.parts if isinstance(p, ToolResultPart)]


async def test_a_turn_without_tools_answers_with_the_reply(system: ActorSystem) -> None:
    provider = ScriptedProvider([answer("Hello!", tokens(10, 3))])
    engine = await spawn_chat(
        system,
        provider=provider,
        model="gpt-4o-mini",
        tools=registry(),
        system_prompt="Be brief.",
        temperature=0.2,
        max_tokens=100,
    )
    result = await engine.ask(UserInput(text="Hi"))
    assert result == ChatResult(
        text="Hello!",
        steps=1,
        usage=tokens(10, 3),
        messages=(Message.user("Hi"), Message.assistant("Hello!")),
    )
    [request] = provider.requests
    assert request.model == "gpt-4o-mini"
    assert request.system == "Be brief."
    assert request.messages == (Message.user("Hi"),)
    assert request.temperature == 0.2
    assert request.max_tokens == 100
    assert [t.name for t in request.tools] == ["add", "weather", "explode"]
    assert request.stream is False


async def test_multi_step_tool_loop_sums_usage_and_counts_steps(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider(
        [
            calls(call("c1", "add", a=2, b=3), usage=tokens(20, 5)),
            calls(call("c2", "weather", city="Paris"), usage=tokens(30, 6)),
            answer("5, and sunny in Paris.", tokens(40, 7)),
        ]
    )
    engine = await spawn_chat(system, provider=provider, tools=registry())
    result = await engine.ask(UserInput("Sum and weather?"))
    assert result.text == "5, and sunny in Paris."
    assert result.steps == 3
    assert result.usage == tokens(90, 18)
    assert roles(result.messages) == [
        "user", "assistant", "tool", "assistant", "tool", "assistant"
    ]  # fmt: skip
    assert results_of(result.messages) == [
        ToolResultPart(call_id="c1", content="5", name="add"),
        ToolResultPart(call_id="c2", content="sunny in Paris", name="weather"),
    ]
    # each step sends the conversation so far
    assert [len(r.messages) for r in provider.requests] == [1, 3, 5]
    assert provider.requests[2].messages == result.messages[:5]


async def test_tool_calls_of_one_step_run_concurrently_and_answer_in_call_order(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    first_started, second_started = trio.Event(), trio.Event()

    @tool
    async def first() -> str:
        """Waits for the second call: deadlocks unless both run at once."""
        first_started.set()
        await second_started.wait()
        await trio.sleep(5)  # and finishes last
        return "first done"

    @tool
    async def second() -> str:
        """Waits for the first call."""
        second_started.set()
        await first_started.wait()
        return "second done"

    provider = ScriptedProvider(
        [calls(call("a", "first"), call("b", "second")), answer("both done")]
    )
    engine = await spawn_chat(
        system, provider=provider, tools=ToolRegistry([first, second])
    )
    with trio.fail_after(60):
        result = await engine.ask(UserInput("go"))
    assert result.text == "both done"
    tool_messages = [m for m in result.messages if m.role is Role.TOOL]
    assert [m.parts for m in tool_messages] == [
        (ToolResultPart(call_id="a", content="first done", name="first"),),
        (ToolResultPart(call_id="b", content="second done", name="second"),),
    ]


async def test_tool_errors_are_returned_to_the_model(system: ActorSystem) -> None:
    provider = ScriptedProvider(
        [
            calls(
                call("c1", "explode", reason="kaboom"),
                call("c2", "nonexistent"),
                call("c3", "add", a="not a number", b=1),
                ToolCallPart(id="c4", name="add", arguments='{"a": 1,'),
            ),
            answer("Sorry, the tools failed."),
        ]
    )
    engine = await spawn_chat(system, provider=provider, tools=registry())
    result = await engine.ask(UserInput("try"))
    assert result.text == "Sorry, the tools failed."
    errors = results_of(provider.requests[1].messages)
    assert [(e.call_id, e.name, e.is_error) for e in errors] == [
        ("c1", "explode", True),
        ("c2", "nonexistent", True),
        ("c3", "add", True),
        ("c4", "add", True),
    ]
    assert "RuntimeError: kaboom" in errors[0].content
    assert "unknown tool 'nonexistent'" in errors[1].content


async def test_max_steps_raises_and_keeps_what_happened(system: ActorSystem) -> None:
    provider = ScriptedProvider(
        [calls(call("c1", "add", a=1, b=1)), calls(call("c2", "add", a=2, b=2))]
    )
    engine = await spawn_chat(system, provider=provider, tools=registry(), max_steps=2)
    with pytest.raises(MaxStepsExceeded, match="max_steps=2"):
        await engine.ask(UserInput("loop"))
    assert len(provider.requests) == 2
    history = await engine.ask(GetHistory())
    assert roles(history) == ["user", "assistant", "tool", "assistant", "tool"]
    assert [r.content for r in results_of(history)] == ["2", "4"]
    stats = engine.statistics()
    assert stats.restarts == 0
    # the next turn goes on from there
    provider.add(answer("fine"))
    assert (await engine.ask(UserInput("and now?"))).text == "fine"
    assert provider.requests[-1].messages[:5] == history


async def test_usage_limit_drops_a_reply_whose_calls_never_ran(
    system: ActorSystem,
) -> None:
    provider = ScriptedProvider(
        [
            calls(call("c1", "add", a=1, b=1), usage=tokens(50, 10)),
            calls(call("c2", "add", a=2, b=2), usage=tokens(50, 10)),
        ]
    )
    engine = await spawn_chat(
        system,
        provider=provider,
        tools=registry(),
        usage_limits=UsageLimits(max_total_tokens=100),
    )
    with pytest.raises(UsageLimitExceeded, match="max_total_tokens=100 exceeded"):
        await engine.ask(UserInput("count"))
    history = await engine.ask(GetHistory())
    assert roles(history) == ["user", "assistant", "tool"]
    assert engine.statistics().restarts == 0


async def test_usage_limit_keeps_a_complete_answer(system: ActorSystem) -> None:
    provider = ScriptedProvider([answer("long answer", tokens(5, 500))])
    engine = await spawn_chat(
        system, provider=provider, usage_limits=UsageLimits(max_output_tokens=100)
    )
    with pytest.raises(UsageLimitExceeded, match="max_output_tokens=100"):
        await engine.ask(UserInput("write a lot"))
    history = await engine.ask(GetHistory())
    assert history == (Message.user("write a lot"), Message.assistant("long answer"))


def test_usage_limits_check_each_budget() -> None:
    limits = UsageLimits(max_input_tokens=10, max_output_tokens=20, max_total_tokens=25)
    assert limits.exceeded(tokens(10, 15)) is None  # limits are inclusive
    assert limits.exceeded(tokens(10, 16)) == (
        "max_total_tokens=25 exceeded: the turn used 26 tokens"
    )
    assert limits.exceeded(tokens(11, 0)) is not None
    assert "max_input_tokens" in str(limits.exceeded(tokens(11, 0)))
    assert "max_output_tokens" in str(limits.exceeded(tokens(0, 21)))
    limits.check(tokens(1, 1))
    with pytest.raises(UsageLimitExceeded):
        limits.check(tokens(100, 0))
    for bad in (0, -1, True, 1.5, "10"):
        with pytest.raises(ConfigurationError, match="max_total_tokens"):
            UsageLimits(max_total_tokens=bad)  # type: ignore[arg-type]


async def test_provider_error_mid_turn_rolls_the_turn_back(system: ActorSystem) -> None:
    provider = ScriptedProvider(
        [answer("first"), calls(call("c1", "add", a=1, b=2)), RateLimitError]
    )
    engine = await spawn_chat(system, provider=provider, tools=registry())
    await engine.ask(UserInput("one"))
    with pytest.raises(RateLimitError):
        await engine.ask(UserInput("two"))
    history = await engine.ask(GetHistory())
    assert history == (Message.user("one"), Message.assistant("first"))
    assert engine.statistics().restarts == 0
    provider.add(answer("second"))
    result = await engine.ask(UserInput("two"))
    assert result.text == "second"
    assert provider.requests[-1].messages == (*history, Message.user("two"))


async def test_a_breaker_on_the_provider_actor_opens_and_fails_fast(
    system: ActorSystem, autojump_clock: trio.testing.MockClock
) -> None:
    provider = ScriptedProvider([calls(call("c1", "add", a=1, b=2)), ProviderUnavailable])
    llm = await system.spawn(
        functools.partial(ProviderActor, provider, close_on_stop=False),
        name="llm",
        breaker=CircuitBreaker(max_failures=1, reset_timeout=30.0),
    )
    engine = await spawn_chat(system, provider=llm, tools=registry())
    with pytest.raises(ProviderUnavailable):
        await engine.ask(UserInput("first try"))
    with pytest.raises(CircuitOpenError):
        await engine.ask(UserInput("second try"))
    assert len(provider.requests) == 2  # the open circuit kept the provider out of it
    assert await engine.ask(GetHistory()) == ()
    await trio.sleep(31)  # half-open: one trial passes
    provider.add(answer("back"))
    result = await engine.ask(UserInput("third try"))
    assert result.text == "back"
    assert await engine.ask(GetHistory()) == result.messages
    assert engine.statistics().restarts == 0
    assert llm.statistics().restarts == 0


async def test_later_turns_continue_the_conversation(system: ActorSystem) -> None:
    provider = ScriptedProvider([answer("Hi Ann."), answer("Your name is Ann.")])
    engine = await spawn_chat(system, provider=provider)
    first = await engine.ask(UserInput("I am Ann."))
    second = await engine.ask(UserInput("Who am I?"))
    assert second.messages == (Message.user("Who am I?"), Message.assistant(second.text))
    assert provider.requests[1].messages == (*first.messages, Message.user("Who am I?"))
    assert await engine.ask(GetHistory()) == first.messages + second.messages


async def test_clear_conversation_forgets_everything(system: ActorSystem) -> None:
    provider = ScriptedProvider([answer("one"), answer("two")])
    engine = await spawn_chat(system, provider=provider)
    await engine.ask(UserInput("a"))
    assert await engine.ask(ClearConversation()) is None
    assert await engine.ask(GetHistory()) == ()
    await engine.ask(UserInput("b"))
    assert provider.requests[-1].messages == (Message.user("b"),)


async def test_an_unknown_message_is_answered_with_an_error(system: ActorSystem) -> None:
    engine = await spawn_chat(system, provider=ScriptedProvider())
    with pytest.raises(ConfigurationError, match="ChatEngine does not handle str"):
        await engine.ask("hello")
    assert engine.statistics().restarts == 0


async def test_tools_as_a_list_or_none(system: ActorSystem) -> None:
    provider = ScriptedProvider(
        [calls(call("c1", "add", a=1, b=1)), answer("2"), calls(call("c2", "add")), "?"]
    )
    listed = await spawn_chat(system, "listed", provider=provider, tools=[add, weather])
    assert (await listed.ask(UserInput("1+1"))).text == "2"
    assert [t.name for t in provider.requests[0].tools] == ["add", "weather"]
    bare = await spawn_chat(system, "bare", provider=provider)
    result = await bare.ask(UserInput("1+1"))
    assert provider.requests[2].tools == ()
    [error] = results_of(result.messages)
    assert error.is_error
    assert "no tools are registered" in error.content


async def test_tools_through_a_tool_actor(system: ActorSystem) -> None:
    tools = await spawn_tool_actor(system, registry(), name="tools")
    provider = ScriptedProvider(
        [calls(call("c1", "add", a=20, b=22), call("c2", "weather", city="Rome")), "ok"]
    )
    engine = await spawn_chat(system, provider=provider, tools=tools)
    result = await engine.ask(UserInput("go"))
    assert [r.content for r in results_of(result.messages)] == ["42", "sunny in Rome"]
    assert provider.requests[0].tools == registry().specs()


class BrokenTools:
    """A tool executor whose infrastructure fails on one tool."""

    def __init__(self) -> None:
        self.cancelled = 0

    def specs(self) -> tuple[()]:
        return ()

    async def execute(self, call: ToolCallPart) -> ToolResultPart:
        if call.name == "down":
            raise ActorStopped("the tool actor has stopped")
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            self.cancelled += 1
            raise
        raise AssertionError("unreachable")


async def test_a_tool_runtime_failure_fails_the_turn_and_cancels_the_others(
    system: ActorSystem,
) -> None:
    tools = BrokenTools()
    provider = ScriptedProvider([calls(call("c1", "slow"), call("c2", "down"))])
    engine = await spawn_chat(system, provider=provider, tools=tools)
    with pytest.raises(ActorStopped, match="tool actor"):
        await engine.ask(UserInput("go"))
    assert tools.cancelled == 1
    assert await engine.ask(GetHistory()) == ()


class Fixer:
    """A tool executor whose results come back without name or with a wrong id."""

    def specs(self) -> tuple[()]:
        return ()

    async def execute(self, call: ToolCallPart) -> ToolResultPart:
        return ToolResultPart(call_id="wrong", content=f"did {call.name}")


async def test_results_get_the_call_id_and_tool_name(system: ActorSystem) -> None:
    provider = ScriptedProvider([calls(call("c1", "work")), "done"])
    engine = await spawn_chat(system, provider=provider, tools=Fixer())
    result = await engine.ask(UserInput("go"))
    assert results_of(result.messages) == [
        ToolResultPart(call_id="c1", content="did work", name="work")
    ]


async def test_a_bug_restarts_the_engine_and_a_given_conversation_survives(
    system: ActorSystem,
) -> None:
    conversation = Conversation()
    provider = ScriptedProvider([answer("one"), RuntimeError("bug"), answer("two")])
    engine = await spawn_chat(system, provider=provider, conversation=conversation)
    await engine.ask(UserInput("a"))
    with pytest.raises(RuntimeError, match="bug"):
        await engine.ask(UserInput("b"))
    await trio.testing.wait_all_tasks_blocked()
    assert engine.statistics().restarts == 1
    result = await engine.ask(UserInput("b"))
    assert result.text == "two"
    assert roles(conversation.messages) == ["user", "assistant", "user", "assistant"]


async def test_a_text_reply_alongside_tool_calls_is_kept(system: ActorSystem) -> None:
    provider = ScriptedProvider(
        [calls(call("c1", "add", a=1, b=1), text="Let me add."), answer("2")]
    )
    engine = await spawn_chat(system, provider=provider, tools=registry())
    result = await engine.ask(UserInput("1+1"))
    assert result.messages[1].parts[0] == TextPart(text="Let me add.")
    assert result.text == "2"


async def test_the_engine_works_without_an_actor_system() -> None:
    engine = ChatEngine(ScriptedProvider(["hi"]), model="m")
    result = await engine.receive(UserInput("hello"))
    assert isinstance(result, ChatResult)
    assert result.text == "hi"
    assert repr(engine) == "<ChatEngine chat model='m'>"
    assert engine.conversation.messages == result.messages


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"provider": object()}, "'provider'"),
        ({"model": ""}, "'model'"),
        ({"model": None}, "'model'"),
        ({"max_steps": 0}, "'max_steps'"),
        ({"max_steps": None}, "'max_steps'"),
        ({"max_steps": 1.5}, "'max_steps'"),
        ({"usage_limits": {"max_total_tokens": 3}}, "'usage_limits'"),
        ({"tools": 5}, "'tools'"),
        ({"tools": "add"}, "'tools'"),
        ({"max_tokens": 0}, "'max_tokens'"),
        ({"turn_timeout": -1}, "'turn_timeout'"),
        ({"turn_timeout": True}, "'turn_timeout'"),
        ({"system_prompt": 3}, "'system_prompt'"),
        ({"name": ""}, "'name'"),
        ({"conversation": []}, "'conversation'"),
        ({"bus": object()}, "'bus'"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], match: str) -> None:
    arguments: dict[str, Any] = {"provider": ScriptedProvider(), "model": "m"}
    arguments.update(options)
    with pytest.raises(ConfigurationError, match=match):
        ChatEngine(**arguments)


def test_user_input_takes_text_by_position_or_keyword() -> None:
    assert UserInput("hi") == UserInput(text="hi")
    assert UserInput("hi").stream_to is None
    with pytest.raises(ConfigurationError, match="'text' must be a str"):
        UserInput(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'stream_to'"):
        UserInput("hi", stream_to=[])  # type: ignore[arg-type]


def test_a_request_is_built_from_the_conversation() -> None:
    engine = ChatEngine(ScriptedProvider(), model="m", system_prompt="S")
    request = engine.request([Message.user("x")])
    assert request == LLMRequest(model="m", messages=[Message.user("x")], system="S")
