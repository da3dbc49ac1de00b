"""A provider as a supervised actor."""

from __future__ import annotations

from typing import Any

import attrs
import trio

from .._exceptions import (
    ConfigurationError,
    LLMgineError,
    MalformedResponseError,
)
from ..actors import Actor, Deferred, Failure
from ._base import Provider
from ._stream import StreamAccumulator, StreamEvent
from ._types import LLMRequest, LLMResponse

__all__ = ["GetProviderInfo", "ProviderActor", "ProviderInfo", "StreamRequest"]


@attrs.frozen(kw_only=True)
class StreamRequest:
    """Stream ``request`` through a :class:`ProviderActor`.

    The actor sends every :class:`~llmgine.llm.StreamEvent` to ``events`` as
    the provider yields it, closes ``events`` when the stream ends (however
    it ends), and answers the ask with the whole :class:`LLMResponse`, so a
    circuit breaker counts a streamed call as it counts any other.
    """

    request: LLMRequest
    events: trio.MemorySendChannel[StreamEvent] = attrs.field(eq=False, repr=False)


@attrs.frozen
class GetProviderInfo:
    """Ask a :class:`ProviderActor` about its provider (a :class:`ProviderInfo`)."""


@attrs.frozen(kw_only=True)
class ProviderInfo:
    """A provider's ``name`` and whether it has native structured output."""

    name: str
    structured_output: bool


def structured_output(provider: object) -> bool:
    """True when ``provider`` takes ``LLMRequest.response_schema`` natively."""
    return getattr(provider, "structured_output", False) is True


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

    Ask it a :class:`StreamRequest` to stream: the events go to the request's
    channel as they come, and the whole reply answers the ask (a chat engine
    given the actor's ref streams this way). :class:`GetProviderInfo` is
    answered with a :class:`ProviderInfo`. The provider is closed when the
    actor stops (an HTTP provider opens a fresh client if a restarted actor
    uses it again); pass ``close_on_stop=False`` when the provider is shared.

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
        """Complete an :class:`LLMRequest` or a :class:`StreamRequest`; answer
        :class:`GetProviderInfo`; anything else is answered as an error."""
        if isinstance(message, GetProviderInfo):
            return ProviderInfo(
                name=str(getattr(self.provider, "name", "")),
                structured_output=structured_output(self.provider),
            )
        if not isinstance(message, LLMRequest | StreamRequest):
            return Failure(
                ConfigurationError(
                    "ProviderActor expects an LLMRequest or a StreamRequest"
                    f" (got {type(message).__name__})"
                )
            )
        await self._slots.acquire()
        deferred = self.context.defer()
        self.context.start_soon(self._call, message, deferred)
        return deferred

    async def _stream(self, message: StreamRequest) -> LLMResponse:
        accumulator = StreamAccumulator()
        events = self.provider.stream(message.request)
        try:
            async for event in events:
                accumulator.add(event)
                await message.events.send(event)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        return accumulator.response(provider=getattr(self.provider, "name", None))

    async def _call(
        self, message: LLMRequest | StreamRequest, deferred: Deferred
    ) -> None:
        try:
            if isinstance(message, StreamRequest):
                try:
                    response = await self._stream(message)
                finally:
                    message.events.close()  # no checkpoint: safe when cancelled
            else:
                response = await self.provider.complete(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            # the reader went away: not the provider's fault, nobody to answer
            deferred.resolve(
                Failure(ConfigurationError("the stream's reader closed its channel"))
            )
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
