"""Engine runs are ``invoke_agent`` spans; LLM calls and tool calls nest under them."""

from __future__ import annotations

import functools

import pytest
import trio

from llmgine._exceptions import MaxStepsExceeded
from llmgine.actors import RecordKind, TraceRecord, open_actor_system
from llmgine.engines import TurnEvent, UserInput
from llmgine.llm import LLMRequest, Message, ProviderActor, ScriptedProvider
from llmgine.tools import spawn_tool_actor

from .conftest import RecordingSink, answer, call, calls, registry, spawn_chat, tokens


def only(records: list[TraceRecord], kind: RecordKind) -> list[TraceRecord]:
    return [r for r in records if r.kind is kind]


async def test_llm_and_tool_spans_nest_under_the_engine_run() -> None:
    sink = RecordingSink()
    provider = ScriptedProvider(
        [
            calls(call("c1", "add", a=1, b=2), call("c2", "weather", city="Oslo")),
            answer("done", tokens(7, 3)),
        ]
    )
    async with open_actor_system("app", tracer=sink) as system:
        engine = await spawn_chat(
            system,
            "assistant",
            name="assistant",
            provider=provider,
            tools=registry(),
            model="gpt-x",
        )
        await engine.ask(UserInput("go"))
    [run] = only(sink.records, RecordKind.ENGINE_RUN)
    assert run.name == "invoke_agent assistant"
    assert run.ok
    assert run.actor == "/app/assistant"
    attributes = dict(run.attributes)
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.agent.name"] == "assistant"
    assert attributes["gen_ai.request.model"] == "gpt-x"
    assert attributes["gen_ai.provider.name"] == "scripted"
    assert len(str(attributes["gen_ai.conversation.id"])) == 32
    assert attributes["gen_ai.usage.input_tokens"] == 7
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["llmgine.engine.steps"] == 2
    llm_calls = only(sink.records, RecordKind.LLM_CALL)
    tool_calls = only(sink.records, RecordKind.TOOL_CALL)
    assert len(llm_calls) == 2
    assert sorted(t.name for t in tool_calls) == [
        "execute_tool add",
        "execute_tool weather",
    ]
    for child in llm_calls + tool_calls:
        assert child.trace_id == run.trace_id
        assert child.parent_id == run.span_id
        assert child.actor == "/app/assistant"  # made in the engine's own task


async def test_through_a_provider_actor_the_llm_span_stays_in_the_trace() -> None:
    sink = RecordingSink()
    provider = ScriptedProvider([answer("hi")])
    async with open_actor_system("app", tracer=sink) as system:
        llm = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        engine = await spawn_chat(system, provider=llm)
        await engine.ask(UserInput("hello"))
    [run] = only(sink.records, RecordKind.ENGINE_RUN)
    assert "gen_ai.provider.name" not in run.attributes
    [llm_call] = only(sink.records, RecordKind.LLM_CALL)
    assert llm_call.trace_id == run.trace_id
    assert llm_call.actor == "/app/llm"  # the actor that made the call
    by_span = {r.span_id: r for r in sink.records if r.duration is not None}
    parent = by_span[llm_call.parent_id]  # type: ignore[index]
    assert parent.kind is RecordKind.MESSAGE  # the ProviderActor handling the ask
    assert parent.parent_id == run.span_id


async def test_a_failed_run_is_a_failed_span() -> None:
    sink = RecordingSink()
    provider = ScriptedProvider([calls(call("c1", "add", a=1, b=2))])
    async with open_actor_system("app", tracer=sink) as system:
        engine = await spawn_chat(
            system, provider=provider, tools=registry(), max_steps=1
        )
        with pytest.raises(MaxStepsExceeded):
            await engine.ask(UserInput("loop"))
    [run] = only(sink.records, RecordKind.ENGINE_RUN)
    assert run.error_type == "MaxStepsExceeded"
    assert run.attributes["llmgine.engine.steps"] == 1


async def test_an_engine_given_no_name_is_named_after_its_actor() -> None:
    from llmgine.engines import ChatEngine

    sink = RecordingSink()
    async with open_actor_system("app", tracer=sink) as system:
        provider = ScriptedProvider(["Hello."])
        engine = await system.spawn(ChatEngine, provider, model="m", name="support")
        await engine.ask(UserInput("hi"))
        assert ChatEngine(provider, model="m").name == "chat"  # before a spawn
    [run] = only(sink.records, RecordKind.ENGINE_RUN)
    assert run.name == "invoke_agent support"
    assert dict(run.attributes)["gen_ai.agent.name"] == "support"


async def test_each_record_names_the_actor_that_made_it() -> None:
    sink = RecordingSink()
    provider = ScriptedProvider([calls(call("c1", "add", a=1, b=2)), answer("3")])
    async with open_actor_system("app", tracer=sink) as system:
        llm = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        tools = await spawn_tool_actor(system, registry(), name="tools")
        engine = await spawn_chat(system, "chat", provider=llm, tools=tools)
        send, receive = trio.open_memory_channel[TurnEvent](100)
        async with receive:
            await engine.ask(UserInput("1+2?", stream_to=send))  # streamed calls
        outside = ScriptedProvider([answer("direct")])
        await outside.complete(LLMRequest(model="m", messages=[Message.user("hi")]))
    actors = {(r.kind, r.actor) for r in sink.records}
    assert (RecordKind.ENGINE_RUN, "/app/chat") in actors
    assert (RecordKind.TOOL_CALL, "/app/tools") in actors
    llm_calls = only(sink.records, RecordKind.LLM_CALL)
    assert [r.actor for r in llm_calls] == ["/app/llm", "/app/llm", None]
