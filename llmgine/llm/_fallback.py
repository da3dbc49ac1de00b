"""A provider that tries several in turn: the next one when one is down."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import attrs

from .._exceptions import (
    CircuitOpenError,
    ConfigurationError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimitError,
)
from ._base import Provider
from ._stream import StreamEvent
from ._types import LLMRequest, LLMResponse

__all__ = ["DEFAULT_FALLBACK_ON", "FallbackProvider"]

DEFAULT_FALLBACK_ON: tuple[type[BaseException], ...] = (
    ProviderUnavailable,
    RateLimitError,
    ProviderTimeout,
    CircuitOpenError,
)
"""Errors that mean "this provider cannot answer now", so the next one is tried."""


async def _aclose(events: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


class FallbackProvider:
    """Tries its providers in order until one answers.

    Each entry is a provider, or ``(provider, model)`` to send that provider a
    different model name (a fallback from OpenAI to Anthropic needs one). Only
    the errors in ``fallback_on`` (outages, rate limits and exhausted quotas,
    timeouts, open breakers) move on to the next provider; any other error is
    the caller's and is raised at once. When every provider fails, the last
    error is raised with a note listing them all. A stream falls back only
    until its first event.
    """

    def __init__(
        self,
        providers: Iterable[Provider | tuple[Provider, str]],
        *,
        name: str = "fallback",
        fallback_on: tuple[type[BaseException], ...] = DEFAULT_FALLBACK_ON,
    ) -> None:
        self._entries = [p if isinstance(p, tuple) else (p, None) for p in providers]
        if not self._entries:
            raise ConfigurationError(
                "FallbackProvider needs at least one provider (got 0)"
            )
        self._name = name
        self._fallback_on = fallback_on

    @property
    def name(self) -> str:
        """The name of this composite (each provider traces its own calls)."""
        return self._name

    @property
    def providers(self) -> tuple[Provider, ...]:
        """The providers, in the order they are tried."""
        return tuple(p for p, _ in self._entries)

    def __repr__(self) -> str:
        names = ", ".join(p.name for p, _ in self._entries)
        return f"FallbackProvider([{names}])"

    def _requests(self, request: LLMRequest) -> Iterable[tuple[Provider, LLMRequest]]:
        for provider, model in self._entries:
            yield provider, (attrs.evolve(request, model=model) if model else request)

    def _give_up(self, errors: list[tuple[Provider, BaseException]]) -> BaseException:
        last = errors[-1][1]
        tried = "; ".join(f"{p.name}: {type(e).__name__}: {e}" for p, e in errors)
        last.add_note(f"FallbackProvider: every provider failed ({tried})")
        return last

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """The first reply any provider gives."""
        errors: list[tuple[Provider, BaseException]] = []
        for provider, attempt in self._requests(request):
            try:
                return await provider.complete(attempt)
            except self._fallback_on as exc:
                errors.append((provider, exc))
        raise self._give_up(errors)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """The stream of the first provider that starts one."""
        errors: list[tuple[Provider, BaseException]] = []
        for provider, attempt in self._requests(request):
            events = provider.stream(attempt)
            try:
                first = await events.__anext__()
            except StopAsyncIteration:
                return
            except self._fallback_on as exc:
                errors.append((provider, exc))
                await _aclose(events)
                continue
            try:
                yield first
                async for event in events:
                    yield event
            finally:
                await _aclose(events)
            return
        raise self._give_up(errors)

    async def aclose(self) -> None:
        """Close every provider."""
        seen: set[int] = set()
        for provider, _ in self._entries:
            if id(provider) not in seen:
                seen.add(id(provider))
                await provider.aclose()
