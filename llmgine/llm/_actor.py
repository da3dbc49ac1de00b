"""A provider as a supervised actor."""

from __future__ import annotations

from typing import Any

import trio

from .._exceptions import (
    ConfigurationError,
    LLMgineError,
    MalformedResponseError,
)
from ..actors import Actor, Deferred, Failure
from ._base import Provider
from ._types import LLMRequest

__all__ = ["ProviderActor"]


class ProviderActor(Actor):
    """Answers an ``ask`` with an :class:`LLMRequest` by the provider's reply.

    Provider errors (rate limits, outages, bad requests, a reply that cannot
    be read...) are answered as :class:`~llmgine.actors.Failure`: the asker
    gets the typed error raised, the actor is not restarted, and a circuit
    breaker on it counts the failure, so an outage fails fast once the breaker
    opens. A malformed reply is the model's fault, not the actor's: whatever a
    provider sends (nesting that exhausts the recursion limit, text that is
    not Unicode), it is answered as a :class:`~llmgine.MalformedResponseError`
    and no number of bad replies restarts the actor or stops the system. Any
    other exception is a bug and restarts the actor, as usual.

    Only ``complete()`` goes through the actor: a request with ``stream=True``
    is streamed and accumulated, and the whole reply is the answer. The
    provider is closed when the actor stops (an HTTP provider opens a fresh
    client if a restarted actor uses it again); pass ``close_on_stop=False``
    when the provider is shared.

    Up to ``max_concurrency`` calls run at once: ``receive`` admits a request,
    starts the call beside the message loop and answers the ask when the reply
    comes (:meth:`ActorContext.defer`). When every slot is taken the actor
    waits, its mailbox fills and the mailbox's overflow policy pushes back.

    Spawn it with ``functools.partial``::

        ref = await system.spawn(functools.partial(ProviderActor, provider), name="llm")
        response = await ref.ask(request, timeout=60)
    """

    def __init__(
        self,
        provider: Provider,
        *,
        max_concurrency: int = 8,
        close_on_stop: bool = True,
    ) -> None:
        if (
            isinstance(max_concurrency, bool)
            or not isinstance(max_concurrency, int)
            or max_concurrency <= 0
        ):
            raise ConfigurationError(
                f"'max_concurrency' must be a positive int (got {max_concurrency!r})"
            )
        self.provider = provider
        self._close_on_stop = close_on_stop
        self._slots = trio.Semaphore(max_concurrency)

    async def receive(self, message: Any) -> Any:
        """Complete an :class:`LLMRequest`; anything else is answered as an error."""
        if not isinstance(message, LLMRequest):
            return Failure(
                ConfigurationError(
                    f"ProviderActor expects an LLMRequest (got {type(message).__name__})"
                )
            )
        await self._slots.acquire()
        deferred = self.context.defer()
        self.context.start_soon(self._call, message, deferred)
        return deferred

    async def _call(self, request: LLMRequest, deferred: Deferred) -> None:
        try:
            response = await self.provider.complete(request)
        except LLMgineError as exc:
            deferred.resolve(Failure(exc))
        except (RecursionError, UnicodeError) as exc:
            # only a reply can cause these here: the model's fault, not a bug
            error = MalformedResponseError(
                f"the reply could not be read ({type(exc).__name__})",
                provider=getattr(self.provider, "name", ""),
            )
            error.__cause__ = exc
            deferred.resolve(Failure(error))
        except Exception as exc:
            deferred.fail(exc)
            raise  # a bug, not the provider's answer: restart the actor
        else:
            deferred.resolve(response)
        finally:
            self._slots.release()

    async def on_stop(self) -> None:
        """Close the provider (unless it is shared)."""
        if self._close_on_stop:
            await self.provider.aclose()
