"""``ToolActor``: a registry's calls run in a supervised actor, with limits.

An actor handles one message at a time, and a tool call may take minutes, so
the actor does not run calls inside ``receive``. It *admits* them: ``receive``
takes a free slot (``max_in_flight``; when none is free it waits, the mailbox
fills, and the mailbox's overflow policy pushes back on senders), starts the
call in a nursery the actor owns, and answers the ask later
(:meth:`~llmgine.actors.ActorContext.defer`). The call waits for its tool's
:class:`trio.CapacityLimiter`, then runs under the registry's timeouts.
:class:`ToolActorRef` makes it look exactly like :meth:`ToolRegistry.execute`.

A caller that gives up (its timeout, or its cancel scope) cancels its call. When
the actor stops (or is restarted after a failure), calls still running get
``grace`` seconds to finish, then are cancelled, and their callers get
:class:`~llmgine.ActorStopped`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import trio

from .._exceptions import ActorStopped, ConfigurationError, ToolError
from ..actors import Actor, ActorRef, Deferred, Failure, Mailbox
from ..llm import ToolCallPart, ToolResultPart, ToolSpec
from ._registry import ToolLike, ToolRegistry

__all__ = ["ToolActor", "ToolActorRef", "ToolTraits", "spawn_tool_actor"]


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{what!r} must be a positive int (got {value!r})")
    return value


class ToolActor(Actor):
    """Runs the calls of a :class:`ToolRegistry` with per-tool concurrency limits.

    Send it :class:`~llmgine.llm.ToolCallPart` asks through a
    :class:`ToolActorRef` (see :func:`spawn_tool_actor`). ``max_in_flight``
    bounds the calls admitted at once; ``concurrency`` bounds the calls of one
    tool running at once, and ``limits`` overrides it per tool name. Time spent
    waiting for a tool's limit does not count toward its timeout.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        max_in_flight: int = 64,
        concurrency: int = 8,
        limits: Mapping[str, int] | None = None,
        grace: float = 1.0,
    ) -> None:
        self._registry = registry
        self._slots = trio.Semaphore(_positive_int(max_in_flight, "max_in_flight"))
        self._concurrency = _positive_int(concurrency, "concurrency")
        self._limits = {
            name: _positive_int(n, f"limits[{name!r}]")
            for name, n in (limits or {}).items()
        }
        if isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0:
            raise ConfigurationError(f"'grace' must be a number >= 0 (got {grace!r})")
        self._grace = float(grace)
        self._limiters: dict[str, trio.CapacityLimiter] = {}
        self._nursery: trio.Nursery | None = None
        self._running = 0
        self._idle = trio.Event()
        self._idle.set()

    async def on_start(self) -> None:
        self._nursery = await self.context.system.nursery.start(self._host)

    async def on_stop(self) -> None:
        nursery, self._nursery = self._nursery, None
        if nursery is None:
            return
        try:
            with trio.move_on_after(self._grace):
                await self._idle.wait()
        finally:
            nursery.cancel_scope.cancel()
        await self._idle.wait()  # the cancelled calls answer their callers

    async def receive(self, message: object) -> object:
        """Admit a :class:`ToolCallPart`; its result answers the ask when ready."""
        if not isinstance(message, ToolCallPart):
            kind = type(message).__name__
            error = ToolError(f"a ToolActor takes ToolCallPart messages (got {kind})")
            return Failure(error)
        nursery = self._nursery
        if nursery is None:  # pragma: no cover - on_start always sets it
            raise RuntimeError("ToolActor received a message before on_start")
        await self._slots.acquire()
        deferred = self.context.defer()
        if self._running == 0:
            self._idle = trio.Event()
        self._running += 1
        nursery.start_soon(self._run, message, deferred, name=f"tool {message.name}")
        return deferred

    def _limiter(self, name: str) -> trio.CapacityLimiter:
        limiter = self._limiters.get(name)
        if limiter is None:
            limiter = trio.CapacityLimiter(self._limits.get(name, self._concurrency))
            self._limiters[name] = limiter
        return limiter

    async def _host(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            task_status.started(nursery)
            await trio.sleep_forever()

    async def _run(self, call: ToolCallPart, deferred: Deferred) -> None:
        result: ToolResultPart | None = None
        try:
            with deferred.cancel_scope():  # cancelled when the caller gives up
                if call.name in self._registry:
                    async with self._limiter(call.name):
                        result = await self._registry.execute(call)
                else:  # no limiter for names the model made up: they fail at once
                    result = await self._registry.execute(call)
        except Exception as exc:  # a bug below us: answer the asker, keep the host
            deferred.fail(exc)
        finally:
            if result is not None:
                deferred.resolve(result)
            elif deferred.cancelled:
                deferred.settle_cancelled()
            else:
                deferred.fail(
                    ActorStopped(
                        f"{self.context.path} stopped before tool call"
                        f" {call.id!r} finished"
                    )
                )
            self._slots.release()
            self._running -= 1
            if self._running == 0:
                self._idle.set()


class _Spawner(Protocol):
    async def spawn(
        self, factory: Any, *, name: str, mailbox: Mailbox | None = ...
    ) -> ActorRef: ...


@attrs.frozen(kw_only=True)
class ToolTraits:
    """What a tool declares beyond its spec, for the caller of a remote one."""

    name: str
    requires_approval: bool = False
    idempotent: bool = False

    @classmethod
    def of(cls, tool: ToolLike) -> ToolTraits:
        """The traits ``tool`` declares (False where it says nothing)."""
        return cls(
            name=tool.name,
            requires_approval=getattr(tool, "requires_approval", False) is True,
            idempotent=getattr(tool, "idempotent", False) is True,
        )


class ToolActorRef:
    """A :class:`ToolActor` seen as a registry: ``specs()``, ``execute(call)``.

    ``execute`` raises only what the actor runtime raises (:class:`MailboxFull`,
    :class:`AskTimeout` after ``admit_timeout``, :class:`ActorStopped`); the
    model's and the tool's mistakes come back as error results. Cancelling
    ``execute`` (or its ``admit_timeout`` passing) cancels the call in the
    actor. ``admit_timeout`` bounds the whole call as the caller sees it,
    admission included; the registry's per-tool timeouts bound the tool.
    """

    __slots__ = ("_specs", "_traits", "admit_timeout", "ref")

    def __init__(
        self,
        ref: ActorRef,
        specs: Sequence[ToolSpec],
        *,
        admit_timeout: float | None = None,
        traits: Iterable[ToolTraits] = (),
    ) -> None:
        self.ref = ref
        self.admit_timeout = admit_timeout
        self._specs = tuple(specs)
        self._traits = {t.name: t for t in traits}

    def __repr__(self) -> str:
        return f"<ToolActorRef {self.ref.path}>"

    def specs(self) -> tuple[ToolSpec, ...]:
        """What to send as ``LLMRequest.tools``."""
        return self._specs

    def get(self, name: str) -> ToolTraits | None:
        """What the actor's tool ``name`` declares (a chat engine asks before
        running a call of one that ``requires_approval``), or None."""
        return self._traits.get(name)

    async def execute(self, call: ToolCallPart) -> ToolResultPart:
        """Run one call in the actor and return its result."""
        result: ToolResultPart = await self.ref.ask(call, timeout=self.admit_timeout)
        return result

    async def execute_all(self, calls: Sequence[ToolCallPart]) -> list[ToolResultPart]:
        """Run several calls concurrently; the results come in the order of the calls."""
        results: list[ToolResultPart | None] = [None] * len(calls)

        async def run_one(index: int, call: ToolCallPart) -> None:
            results[index] = await self.execute(call)

        async with trio.open_nursery() as nursery:
            for index, call in enumerate(calls):
                nursery.start_soon(run_one, index, call)
        return [r for r in results if r is not None]


async def spawn_tool_actor(
    spawner: _Spawner,
    registry: ToolRegistry,
    *,
    name: str = "tools",
    mailbox: Mailbox | None = None,
    admit_timeout: float | None = None,
    **options: Any,
) -> ToolActorRef:
    """Spawn a :class:`ToolActor` for ``registry`` and return its :class:`ToolActorRef`.

    ``spawner`` is an ``ActorSystem``, a ``SupervisorRef`` or an actor's
    ``context``; ``options`` go to :class:`ToolActor` (``max_in_flight``,
    ``concurrency``, ``limits``, ``grace``).
    """
    factory = functools.partial(ToolActor, registry, **options)
    factory()  # check the options now, not at the first message
    ref = await spawner.spawn(factory, name=name, mailbox=mailbox)
    traits = [ToolTraits.of(t) for t in registry]
    return ToolActorRef(ref, registry.specs(), admit_timeout=admit_timeout, traits=traits)
