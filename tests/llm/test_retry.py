"""Retries on trio's clock: waits asked for are honoured, callers' errors are not.

Every test here runs under ``autojump_clock`` (a MockClock): waits take no real
time, and ``trio.current_time()`` shows exactly how long the provider waited.
"""

from __future__ import annotations

import httpx
import pytest
import trio
import trio.testing

from llmgine._exceptions import (
    BadRequestError,
    ConfigurationError,
    ProviderTimeout,
    ProviderUnavailable,
    QuotaExceededError,
    RateLimitError,
)
from llmgine.llm import LLMRequest, Message, OpenAIProvider, RetryPolicy, StreamFinish
from llmgine.llm._errors import is_retryable

from ._wire_fixtures import (
    GEMINI_RATE_LIMIT,
    OPENAI_QUOTA_ERROR,
    OPENAI_RATE_LIMIT,
    OPENAI_TEXT,
    openai_chunk,
)
from .conftest import Wire, collect, sse, stream_response

REQUEST = LLMRequest(model="gpt-4.1", messages=[Message.user("Hi")])
OK = httpx.Response(200, json=OPENAI_TEXT)
NO_JITTER = RetryPolicy(max_attempts=3, initial=1.0, maximum=8.0, jitter=0.0)


def rate_limited(headers: dict[str, str]) -> httpx.Response:
    return httpx.Response(429, json=OPENAI_RATE_LIMIT, headers=headers)


async def run(wire: Wire, policy: RetryPolicy = NO_JITTER) -> tuple[object, float]:
    """Complete REQUEST over ``wire``; return the outcome and the time it took."""
    start = trio.current_time()
    async with wire.client() as client:
        provider = OpenAIProvider(api_key="sk", client=client, retry=policy)
        try:
            outcome: object = await provider.complete(REQUEST)
        except Exception as exc:
            outcome = exc
    return outcome, trio.current_time() - start


@pytest.mark.parametrize(
    ("headers", "waited"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "1"}, 0.25),
    ],
)
async def test_retry_after_is_honoured(
    autojump_clock: trio.testing.MockClock, headers: dict[str, str], waited: float
) -> None:
    wire = Wire(rate_limited(headers), OK)
    outcome, elapsed = await run(wire)
    assert getattr(outcome, "text", None) == "Hello! How can I assist you today?"
    assert len(wire.requests) == 2
    assert elapsed == pytest.approx(waited)


async def test_gemini_retry_info_is_honoured(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wire = Wire(httpx.Response(429, json=GEMINI_RATE_LIMIT), OK)
    _, elapsed = await run(wire)
    assert elapsed == pytest.approx(31.0)


async def test_exponential_backoff_without_a_hint(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wire = Wire(httpx.Response(503), httpx.Response(500), OK)
    outcome, elapsed = await run(wire)
    assert not isinstance(outcome, Exception)
    assert elapsed == pytest.approx(1.0 + 2.0)


async def test_attempts_run_out_and_the_last_error_is_raised(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wire = Wire(httpx.Response(503), httpx.Response(503), httpx.Response(529))
    outcome, _ = await run(wire)
    assert isinstance(outcome, ProviderUnavailable)
    assert outcome.status == 529
    assert len(wire.requests) == 3


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (httpx.Response(429, json=OPENAI_QUOTA_ERROR), QuotaExceededError),
        (httpx.Response(400, json={"error": {"message": "bad"}}), BadRequestError),
    ],
)
async def test_callers_errors_are_not_retried(
    autojump_clock: trio.testing.MockClock, response: httpx.Response, kind: type
) -> None:
    wire = Wire(response, OK)
    outcome, elapsed = await run(wire)
    assert type(outcome) is kind
    assert len(wire.requests) == 1
    assert elapsed == 0


async def test_a_wait_beyond_max_retry_after_is_raised_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wire = Wire(rate_limited({"retry-after": "3600"}), OK)
    outcome, elapsed = await run(wire)
    assert isinstance(outcome, RateLimitError)
    assert outcome.retry_after == 3600.0
    assert elapsed == 0
    assert len(wire.requests) == 1


async def test_instant_policy_never_waits(autojump_clock: trio.testing.MockClock) -> None:
    wire = Wire(rate_limited({"retry-after": "3600"}), httpx.Response(503), OK)
    outcome, elapsed = await run(wire, RetryPolicy.for_tests())
    assert not isinstance(outcome, Exception)
    assert elapsed == 0
    assert len(wire.requests) == 3


async def test_connection_errors_are_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wire = Wire(httpx.ConnectError("connection refused"), OK)
    outcome, elapsed = await run(wire)
    assert not isinstance(outcome, Exception)
    assert elapsed == pytest.approx(1.0)


async def test_never_makes_one_attempt(autojump_clock: trio.testing.MockClock) -> None:
    wire = Wire(httpx.Response(503), OK)
    outcome, _ = await run(wire, RetryPolicy.never())
    assert isinstance(outcome, ProviderUnavailable)
    assert len(wire.requests) == 1


async def test_cancellation_during_a_wait_is_prompt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    wire = Wire(rate_limited({"retry-after": "30"}), OK)
    async with wire.client() as client:
        provider = OpenAIProvider(api_key="sk", client=client, retry=NO_JITTER)
        with trio.move_on_after(5) as scope:
            await provider.complete(REQUEST)
    assert scope.cancelled_caught
    assert trio.current_time() == pytest.approx(5.0)
    assert len(wire.requests) == 1


async def test_stream_opening_is_retried(autojump_clock: trio.testing.MockClock) -> None:
    chunks = [openai_chunk({"content": "Hi"}), openai_chunk({}, finish="stop")]
    body = sse(*((None, c) for c in chunks), (None, "[DONE]"))
    wire = Wire(rate_limited({"retry-after": "2"}), stream_response(body))
    async with wire.client() as client:
        provider = OpenAIProvider(api_key="sk", client=client, retry=NO_JITTER)
        events = await collect(provider.stream(REQUEST))
    assert isinstance(events[-1], StreamFinish)
    assert trio.current_time() == pytest.approx(2.0)


def test_backoff_grows_to_the_maximum_with_bounded_jitter() -> None:
    policy = RetryPolicy(initial=0.5, maximum=4.0, jitter=0.25)
    waits = [policy.wait_before(n, None) for n in range(1, 7)]
    bases = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(b <= w <= b + 0.25 for w, b in zip(waits, bases, strict=True))
    assert policy.wait_before(1, RateLimitError("x", retry_after=9.0)) == 9.0


def test_policy_decides_what_is_worth_retrying() -> None:
    policy = RetryPolicy(max_retry_after=10.0)
    assert policy.should_retry(ProviderUnavailable("x"))
    assert policy.should_retry(ProviderTimeout("x"))
    assert policy.should_retry(RateLimitError("x", retry_after=10.0))
    assert not policy.should_retry(RateLimitError("x", retry_after=10.5))
    assert not policy.should_retry(QuotaExceededError("x"))
    assert not policy.should_retry(KeyError("x"))
    assert is_retryable(RateLimitError("x", retry_after=1e9))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "'max_attempts' must be a positive int (got 0)"),
        ({"max_attempts": True}, "'max_attempts' must be a positive int (got True)"),
        ({"initial": -1}, "'initial' must be a non-negative number of seconds (got -1)"),
        ({"jitter": "x"}, "'jitter' must be a non-negative number of seconds (got 'x')"),
    ],
)
def test_policy_validation_says_what_was_expected(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert str(info.value) == message
