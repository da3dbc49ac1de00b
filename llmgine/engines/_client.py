"""How a turn calls the model: a provider object, or a ``ProviderActor``'s ref.

:func:`model_client` wraps either once, when the engine is made, in an object
with the same three methods, so a turn never asks which one it holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

import trio

from .._exceptions import LLMgineError
from ..actors import ActorRef
from ..llm import LLMRequest, LLMResponse, Provider, StreamAccumulator, StreamEvent
from ..llm._actor import GetProviderInfo, ProviderInfo, StreamRequest, structured_output

__all__ = ["ModelClient", "model_client"]

OnEvent = Callable[[StreamEvent], Awaitable[None]]

#: Events a ProviderActor may send ahead of the turn reading them.
_STREAM_BUFFER = 16


class ModelClient(Protocol):
    """What a turn calls the model through."""

    @property
    def name(self) -> str | None:
        """The provider's ``gen_ai.provider.name``, when known up front."""

    @property
    def complete(self) -> Callable[[LLMRequest], Awaitable[LLMResponse]]:
        """The whole reply to a request (an async function of it)."""

    async def stream(self, request: LLMRequest, on_event: OnEvent) -> LLMResponse:
        """Stream ``request``: each event to ``on_event``, then the whole reply."""

    async def structured_output(self) -> bool:
        """True when the provider takes ``response_schema`` natively."""


class ProviderClient:
    """A provider object, called directly."""

    __slots__ = ("complete", "provider")

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        #: The provider's own method: a turn awaits it with no frame between.
        self.complete: Callable[[LLMRequest], Awaitable[LLMResponse]] = provider.complete

    @property
    def name(self) -> str | None:
        name = getattr(self.provider, "name", None)
        return name if isinstance(name, str) else None

    async def stream(self, request: LLMRequest, on_event: OnEvent) -> LLMResponse:
        accumulator = StreamAccumulator()
        events = self.provider.stream(request)
        try:
            async for event in events:
                accumulator.add(event)
                await on_event(event)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        return accumulator.response(provider=self.name)

    async def structured_output(self) -> bool:
        return structured_output(self.provider)


class ActorClient:
    """A ``ProviderActor``'s ref: each call is an ask, so its breaker sees it."""

    __slots__ = ("_info", "ref")

    def __init__(self, ref: ActorRef) -> None:
        self.ref = ref
        self._info: ProviderInfo | None = None

    @property
    def name(self) -> str | None:
        return None  # the actor's own spans name the provider

    async def complete(self, request: LLMRequest) -> LLMResponse:
        response: LLMResponse = await self.ref.ask(request)
        return response

    async def stream(self, request: LLMRequest, on_event: OnEvent) -> LLMResponse:
        send, receive = trio.open_memory_channel[StreamEvent](_STREAM_BUFFER)
        answer: list[LLMResponse] = []
        failed: list[Exception] = []

        async def ask() -> None:
            try:
                answer.append(
                    await self.ref.ask(StreamRequest(request=request, events=send))
                )
            except Exception as exc:  # raised below, outside the nursery
                failed.append(exc)
            finally:
                send.close()  # the actor closes it too; this covers a refused ask

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask)
                with receive:
                    async for event in receive:
                        await on_event(event)
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:  # the reader's error (ask() catches its own)
                raise group.exceptions[0] from None
            raise  # pragma: no cover - only cancellations from outside come two
        if failed:
            raise failed[0]
        return answer[0]

    async def structured_output(self) -> bool:
        if self._info is None:
            try:
                info = await self.ref.ask(GetProviderInfo())
            except LLMgineError:  # not a ProviderActor, or its circuit is open
                return False
            if not isinstance(info, ProviderInfo):
                return False
            self._info = info
        return self._info.structured_output


def model_client(provider: Provider | ActorRef) -> ModelClient:
    """The client for a provider object or a ``ProviderActor``'s ref."""
    if isinstance(provider, ActorRef):
        return ActorClient(provider)
    return ProviderClient(provider)
