"""ProviderActor: a provider as a supervised actor, with a breaker that fails fast."""

from __future__ import annotations

import functools

import httpx
import pytest
import trio
import trio.testing

from llmgine._exceptions import (
    CircuitOpenError,
    ConfigurationError,
    MalformedResponseError,
    ProviderUnavailable,
    RateLimitError,
)
from llmgine.actors import BreakerState, CircuitBreaker, open_actor_system
from llmgine.llm import (
    LLMRequest,
    Message,
    OpenAIProvider,
    ProviderActor,
    RetryPolicy,
    ScriptedProvider,
)
from llmgine.tracing import RecordKind

from .conftest import RecordingSink

REQUEST = LLMRequest(model="demo", messages=[Message.user("hi")])


async def test_ask_answers_with_the_response_and_traces_the_call() -> None:
    provider = ScriptedProvider(["hello"])
    sink = RecordingSink()
    async with open_actor_system("app", tracer=sink) as system:
        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        response = await ref.ask(REQUEST, timeout=5)
    assert response.text == "hello"
    calls = [r for r in sink.records if r.kind is RecordKind.LLM_CALL]
    assert [r.name for r in calls] == ["chat demo"]
    assert provider.closed  # on_stop closed it


async def test_provider_errors_are_answered_not_restarted() -> None:
    provider = ScriptedProvider([RateLimitError("slow down"), "recovered"])
    async with open_actor_system("app") as system:
        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        with pytest.raises(RateLimitError, match="slow down"):
            await ref.ask(REQUEST, timeout=5)
        assert (await ref.ask(REQUEST, timeout=5)).text == "recovered"
        stats = ref.statistics()
    assert stats.restarts == 0
    assert stats.processed == 2


async def test_breaker_opens_after_repeated_failures_and_recovers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    down = ProviderUnavailable("overloaded", provider="scripted")
    provider = ScriptedProvider([down, down, down, "back"])
    breaker = CircuitBreaker(max_failures=3, reset_timeout=10.0)
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, provider), name="llm", breaker=breaker
        )
        for _ in range(3):
            with pytest.raises(ProviderUnavailable):
                await ref.ask(REQUEST, timeout=5)
        assert ref.statistics().breaker is BreakerState.OPEN
        with pytest.raises(CircuitOpenError):
            await ref.ask(REQUEST, timeout=5)  # fails fast: the provider is not called
        assert len(provider.requests) == 3
        await trio.sleep(10.0)
        assert (await ref.ask(REQUEST, timeout=5)).text == "back"  # the half-open trial
        assert ref.statistics().breaker is BreakerState.CLOSED
        assert ref.statistics().restarts == 0


async def test_a_wrong_message_is_answered_as_an_error() -> None:
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, ScriptedProvider([])), name="llm"
        )
        with pytest.raises(ConfigurationError, match="expects an LLMRequest"):
            await ref.ask("hello", timeout=5)
        assert ref.statistics().restarts == 0


async def test_a_bug_restarts_the_actor_and_a_shared_provider_stays_open() -> None:
    def broken(request: LLMRequest) -> str:
        raise KeyError("bug in the callable")

    provider = ScriptedProvider([broken, "fine"])
    async with open_actor_system("app") as system:
        factory = functools.partial(ProviderActor, provider, close_on_stop=False)
        ref = await system.spawn(factory, name="llm")
        with pytest.raises(KeyError):
            await ref.ask(REQUEST, timeout=5)
        assert (await ref.ask(REQUEST, timeout=5)).text == "fine"
        assert ref.statistics().restarts == 1
    assert not provider.closed


async def test_a_streaming_request_is_answered_whole() -> None:
    provider = ScriptedProvider(["streamed reply"])
    async with open_actor_system("app") as system:
        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        stream_request = LLMRequest(model="demo", messages=[], stream=True)
        response = await ref.ask(stream_request, timeout=5)
    assert response.text == "streamed reply"


async def test_calls_run_concurrently_up_to_max_concurrency() -> None:
    release = trio.Event()
    running = 0
    peak = 0

    async def slow(request: LLMRequest) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        return "done"

    provider = ScriptedProvider([slow] * 5)
    answers: list[str] = []
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, provider, max_concurrency=3), name="llm"
        )

        async def ask() -> None:
            answers.append((await ref.ask(REQUEST, timeout=5)).text)

        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(ask)
            await trio.testing.wait_all_tasks_blocked()
            assert peak == 3  # three in flight; the others wait in the mailbox
            release.set()
    assert answers == ["done"] * 5
    assert peak == 3


async def test_a_bug_in_the_provider_fails_the_ask_and_restarts_the_actor() -> None:
    def broken(request: LLMRequest) -> str:
        raise KeyError("bug")

    provider = ScriptedProvider([broken, "fine"])
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, provider, close_on_stop=False), name="llm"
        )
        with pytest.raises(KeyError, match="bug"):
            await ref.ask(REQUEST, timeout=5)
        await system.wait_until_idle()
        assert ref.statistics().restarts == 1
        assert (await ref.ask(REQUEST, timeout=5)).text == "fine"


def test_max_concurrency_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="'max_concurrency' must be a positive"):
        ProviderActor(ScriptedProvider([]), max_concurrency=0)


def _deep_arguments_reply(request: httpx.Request) -> httpx.Response:
    arguments = '{"a":' * 1000 + "1" + "}" * 1000
    body = {
        "choices": [
            {
                "message": {
                    "tool_calls": [
                        {"id": "c", "function": {"name": "f", "arguments": arguments}}
                    ]
                },
                "finish_reason": "tool_calls",
            }
        ]
    }
    return httpx.Response(200, json=body)


def _deep_body_reply(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"[" * 5000 + b"]" * 5000)


async def test_no_number_of_bad_replies_stops_the_system() -> None:
    # hostile replies under the default root supervisor: deep tool arguments
    # become the raw text (the tool layer reports it), deep bodies are refused
    # typed; the actor is never restarted, so its restart intensity is safe
    bad = [_deep_body_reply, _deep_arguments_reply] * 10
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: bad.pop(0)(r)))
    provider = OpenAIProvider(
        api_key="k-0123456789", client=client, retry=RetryPolicy(max_attempts=1)
    )
    async with open_actor_system("app") as system:
        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        for _ in range(10):
            with pytest.raises(MalformedResponseError, match="nested too deep"):
                await ref.ask(REQUEST, timeout=5)
            reply = await ref.ask(REQUEST, timeout=5)
            (call,) = reply.message.tool_calls
            assert isinstance(call.arguments, str)  # left for the tool layer to refuse
        stats = ref.statistics()
    assert stats.restarts == 0
    assert stats.failed == 0


async def test_a_reply_the_runtime_cannot_read_is_a_failure_the_breaker_counts() -> None:
    provider = ScriptedProvider([RecursionError("deep"), UnicodeError("odd"), "fine"])
    breaker = CircuitBreaker(max_failures=2, reset_timeout=10.0)
    async with open_actor_system("app") as system:
        ref = await system.spawn(
            functools.partial(ProviderActor, provider), name="llm", breaker=breaker
        )
        for kind in ("RecursionError", "UnicodeError"):
            with pytest.raises(MalformedResponseError, match=kind):
                await ref.ask(REQUEST, timeout=5)
        assert ref.statistics().breaker is BreakerState.OPEN  # counted as failures
        with pytest.raises(CircuitOpenError):
            await ref.ask(REQUEST, timeout=5)
        assert ref.statistics().restarts == 0  # and never restarted
