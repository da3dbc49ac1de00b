"""A provider as a supervised actor."""

from __future__ import annotations

from typing import Any

from .._exceptions import ConfigurationError, ProviderError
from ..actors import Actor, Failure
from ._base import Provider
from ._types import LLMRequest

__all__ = ["ProviderActor"]


class ProviderActor(Actor):
    """Answers an ``ask`` with an :class:`LLMRequest` by the provider's reply.

    Provider errors (rate limits, outages, bad requests...) are answered as
    :class:`~llmgine.actors.Failure`: the asker gets the typed error raised,
    the actor is not restarted, and a circuit breaker on it counts the failure,
    so an outage fails fast once the breaker opens. Any other exception is a
    bug and restarts the actor, as usual. Only ``complete()`` goes through the
    actor: a request with ``stream=True`` is streamed and accumulated, and the
    whole reply is the answer. The provider is closed when the actor stops (an
    HTTP provider opens a fresh client if a restarted actor uses it again);
    pass ``close_on_stop=False`` when the provider is shared.

    Spawn it with ``functools.partial``::

        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        response = await ref.ask(request, timeout=60)
    """

    def __init__(self, provider: Provider, *, close_on_stop: bool = True) -> None:
        self.provider = provider
        self._close_on_stop = close_on_stop

    async def receive(self, message: Any) -> Any:
        """Complete an :class:`LLMRequest`; anything else is answered as an error."""
        if not isinstance(message, LLMRequest):
            return Failure(
                ConfigurationError(
                    f"ProviderActor expects an LLMRequest (got {type(message).__name__})"
                )
            )
        try:
            return await self.provider.complete(message)
        except ProviderError as exc:
            return Failure(exc)

    async def on_stop(self) -> None:
        """Close the provider (unless it is shared)."""
        if self._close_on_stop:
            await self.provider.aclose()
