"""When and how long to wait before trying a provider call again.

Built on tenacity's :class:`tenacity.AsyncRetrying` with :func:`trio.sleep`, so
waits run on trio's clock: tests under ``trio.testing.MockClock`` (the
``autojump_clock`` fixture) never really sleep.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import attrs
import tenacity
import trio

from .._exceptions import ConfigurationError, ProviderError
from ._errors import is_retryable

__all__ = ["RetryPolicy"]

T = TypeVar("T")


def _positive_int(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"{attribute.name!r} must be a positive int (got {value!r})"
        )


def _non_negative(
    instance: object, attribute: attrs.Attribute[float], value: float
) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigurationError(
            f"{attribute.name!r} must be a non-negative number of seconds (got {value!r})"
        )


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How a provider retries a failed call.

    ``max_attempts`` counts the first try. Waits grow exponentially from
    ``initial`` up to ``maximum`` seconds, plus up to ``jitter`` random seconds.
    When the provider says how long to wait (``retry-after-ms``,
    ``retry-after``, Gemini ``RetryInfo``) that wait is used instead, unless it
    exceeds ``max_retry_after``: then the error is raised at once rather than
    blocking the caller for minutes. Only retryable errors are retried (rate
    limits but not exhausted quotas, overloads, 5xx, connection failures,
    timeouts). ``instant=True`` makes every wait zero: the switch for tests.
    """

    max_attempts: int = attrs.field(default=3, validator=_positive_int)
    initial: float = attrs.field(default=0.5, validator=_non_negative)
    maximum: float = attrs.field(default=8.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.5, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative)
    instant: bool = False

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    @classmethod
    def for_tests(cls, max_attempts: int = 3) -> RetryPolicy:
        """Retries as usual, but without any wait."""
        return cls(max_attempts=max_attempts, instant=True)

    def should_retry(self, error: BaseException) -> bool:
        """Whether ``error`` (from one attempt) is worth another one."""
        if not is_retryable(error):
            return False
        wait = getattr(error, "retry_after", None)
        return wait is None or self.instant or wait <= self.max_retry_after

    def wait_before(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (from 1)."""
        if self.instant:
            return 0.0
        wait = error.retry_after if isinstance(error, ProviderError) else None
        if wait is not None:
            return float(wait)
        backoff = min(self.maximum, self.initial * 2.0 ** (attempt - 1))
        return backoff + random.uniform(0.0, self.jitter)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        return self.wait_before(state.attempt_number, error)

    def _retry(self, state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        return error is not None and self.should_retry(error)

    def retrying(
        self, *, before_sleep: Callable[[tenacity.RetryCallState], None] | None = None
    ) -> tenacity.AsyncRetrying:
        """A tenacity controller applying this policy with trio's sleep."""
        return tenacity.AsyncRetrying(
            sleep=trio.sleep,
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=self._retry,
            before_sleep=before_sleep,
            reraise=True,
        )

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
    ) -> T:
        """Run ``fn`` until it succeeds, fails for good, or attempts run out.

        The first attempt runs bare: a tenacity controller is built only once
        it failed with an error worth retrying (most calls succeed at once,
        and building one costs more than a trip through trio's scheduler).
        """
        try:
            return await fn()
        except Exception as exc:
            return await self.resume(exc, fn, before_sleep=before_sleep)

    async def resume(
        self,
        error: Exception,
        fn: Callable[[], Awaitable[T]],
        *,
        before_sleep: Callable[[tenacity.RetryCallState], None] | None = None,
    ) -> T:
        """Go on as :meth:`call` does after a first attempt of ``fn`` failed
        with ``error`` (raised again when it is not worth another attempt).

        For a caller that makes the first attempt itself, with no frame of
        this policy around it while it runs.
        """
        if self.max_attempts == 1 or not self.should_retry(error):
            raise error
        first: list[Exception] = [error]

        async def attempt() -> T:
            if first:  # tenacity counts the failed first attempt as its own
                raise first.pop()
            return await fn()

        result: T = await self.retrying(before_sleep=before_sleep)(attempt)
        return result
