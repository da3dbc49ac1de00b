"""The actor system: a trio nursery, a root supervisor, dead letters, a tracer hook."""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeAlias

import attrs
import trio

from .._exceptions import ConfigurationError
from ..tracing import (
    RecordKind,
    TraceContext,
    TraceRecord,
    TraceSink,
    current_sink,
    current_trace,
    new_span_id,
)
from ._actor import Actor
from ._breaker import CircuitBreaker
from ._cell import Cell
from ._dead_letters import DeadLetters, DeadLetterStore, check_capacity
from ._mailbox import Mailbox
from ._ref import ActorRef
from ._supervisor import OneForOne, Restart, Strategy, Supervisor, SupervisorRef
from ._timer import AskTimer

__all__ = [
    "ActorSystem",
    "SystemStatistics",
    "current_system",
    "open_actor_system",
]

Node: TypeAlias = Cell | Supervisor


class ClusterRuntime(Protocol):
    """A cluster attached to a running system (``llmgine.cluster`` makes one)."""

    async def spawn_node(self, name: str, **options: Any) -> Any:
        """Start a node; return its ``NodeRef``."""

    def counters(self) -> tuple[int, ...]:
        """Remote counters: actors, accepted, processed, failed, dead-lettered,
        queued, restarts, cancelled."""

    async def aclose(self) -> None:
        """Stop every node."""

    def abort(self) -> None:
        """Kill every node at once."""


class Cluster(Protocol):
    """Where nodes run: ``open_actor_system(cluster=...)`` (``RayCluster``)."""

    async def attach(self, system: ActorSystem) -> ClusterRuntime:
        """Connect for ``system``."""


_current_system: contextvars.ContextVar[ActorSystem | None] = contextvars.ContextVar(
    "llmgine_current_system", default=None
)


def current_system() -> ActorSystem | None:
    """The actor system the calling task runs in, or None."""
    return _current_system.get()


@attrs.frozen(kw_only=True)
class SystemStatistics:
    """Counters summed over every actor the system has run.

    At every quiescent point ``accepted == processed + dead_lettered + queued``.
    """

    actors: int
    accepted: int
    processed: int
    failed: int
    dead_lettered: int
    queued: int
    restarts: int
    dead_letters_held: int
    cancelled: int = 0
    in_flight: int = 0

    @property
    def lost(self) -> int:
        """Accepted messages not accounted for (0 unless a handler is mid-message)."""
        return (
            self.accepted
            - self.processed
            - self.dead_lettered
            - self.queued
            - self.in_flight
        )


class ActorSystem:
    """A running actor system. Made by :func:`open_actor_system`."""

    def __init__(
        self,
        name: str,
        *,
        tracer: TraceSink | None,
        store: DeadLetterStore | None,
        shutdown_timeout: float,
        strategy: Strategy,
        dead_letter_capacity: int = 10_000,
    ) -> None:
        self.name = name
        self.tracer = tracer
        self.shutdown_timeout = shutdown_timeout
        self.dead_letters = DeadLetters(capacity=dead_letter_capacity, store=store)
        self.dead_letters._system = self
        self.tell_budget = 64
        #: Hold every actor to the reference admission and settlement paths
        #: (no inlined fast path): set before spawning, for tests.
        self.reference_paths = False
        self.timer = AskTimer(self)
        self._nursery: trio.Nursery | None = None
        self._nodes: dict[str, Node] = {}
        self._finders: list[Callable[[str], object | None]] = []
        # accepted, processed, failed, dead-lettered, restarts, cancelled
        self._retired = [0, 0, 0, 0, 0, 0]
        self._active = 0
        self._idle: trio.Event | None = None
        self._failure: BaseException | None = None
        self._cluster: ClusterRuntime | None = None
        self.root = Supervisor(self, None, name, f"/{name}", strategy)
        self.root.running = True

    def __repr__(self) -> str:
        return f"<ActorSystem {self.name}>"

    @property
    def nursery(self) -> trio.Nursery:
        """The nursery actor tasks run in."""
        if self._nursery is None:
            raise ConfigurationError("the actor system is not running")
        return self._nursery

    @property
    def path(self) -> str:
        """The root path, ``/{name}``."""
        return self.root.path

    async def spawn(
        self,
        factory: Callable[..., Actor],
        *args: Any,
        name: str,
        mailbox: Mailbox | None = None,
        restart: Restart = Restart.PERMANENT,
        breaker: CircuitBreaker | None = None,
        **kwargs: Any,
    ) -> ActorRef:
        """Start an actor under the root supervisor.

        ``factory(*args, **kwargs)`` builds the actor (``factory`` is usually
        its class); a restart calls it again for a fresh instance. ``name``,
        ``mailbox``, ``restart`` and ``breaker`` are spawn's own options; every
        other keyword goes to the factory. A factory keyword named like one of
        spawn's options (or ``factory``) is passed with ``functools.partial``.
        Arguments the factory does not take raise
        :class:`~llmgine.ConfigurationError`.
        """
        return await self.root.spawn(
            factory,
            *args,
            name=name,
            mailbox=mailbox,
            restart=restart,
            breaker=breaker,
            **kwargs,
        )

    async def spawn_supervisor(
        self,
        name: str,
        *,
        strategy: Strategy | None = None,
        restart: Restart = Restart.PERMANENT,
    ) -> SupervisorRef:
        """Start a supervisor under the root; spawn children through its ref."""
        return await self.root.spawn_supervisor(name, strategy=strategy, restart=restart)

    async def spawn_node(self, name: str, **options: Any) -> Any:
        """Start a node of the system's cluster and return its ``NodeRef``.

        Needs ``open_actor_system(..., cluster=RayCluster(...))``; ``options``
        are ``max_restarts``, ``within``, ``backoff``, ``heartbeat`` and Ray
        actor options (see ``llmgine.cluster``).
        """
        if self._cluster is None:
            raise ConfigurationError(
                "spawn_node needs a cluster: open_actor_system(..., cluster=RayCluster())"
            )
        return await self._cluster.spawn_node(name, **options)

    def spawn_nowait(
        self, factory: Callable[..., Actor], *args: Any, **options: Any
    ) -> ActorRef:
        """:meth:`spawn` without yielding, for synchronous callers."""
        return self.root.spawn_nowait(factory, *args, **options)

    def spawn_supervisor_nowait(self, name: str, **options: Any) -> SupervisorRef:
        """:meth:`spawn_supervisor` without yielding, for synchronous callers."""
        return self.root.spawn_supervisor_nowait(name, **options)

    def lookup(self, path: str) -> ActorRef | SupervisorRef | None:
        """The ref at ``path`` (like ``/app/llm/openai``), or None."""
        node = self._nodes.get(path)
        return None if node is None else node.ref

    def recipient(self, path: str) -> object | None:
        """Whatever receives letters for ``path``: a local actor's ref, else a
        ref one of the finders knows (a cluster node's remote refs), else None."""
        ref = self.lookup(path)
        if ref is not None:
            return ref
        for find in self._finders:
            found = find(path)
            if found is not None:
                return found
        return None

    def add_finder(self, find: Callable[[str], object | None]) -> None:
        """Let :meth:`recipient` (dead-letter redelivery) find refs by path
        that live elsewhere: ``find`` answers a path with a ref, or None."""
        self._finders.append(find)

    def register(self, node: Node) -> None:
        """Record a new node under its path."""
        self._nodes[node.path] = node

    def unregister(self, node: Node) -> None:
        """Forget a node that stopped for good, keeping its counters."""
        if self._nodes.get(node.path) is node:
            del self._nodes[node.path]
        if isinstance(node, Cell):
            q = node.queue
            retired = self._retired
            retired[0] += q.accepted
            retired[1] += q.processed
            retired[2] += q.failed
            retired[3] += q.dead_lettered
            retired[4] += node.restarts
            retired[5] += q.cancelled

    def retire_all(self) -> None:
        """Forget every node (the system is going away), keeping their counters."""
        for node in list(self._nodes.values()):
            self.unregister(node)

    def statistics(self) -> SystemStatistics:
        """Counters summed over the whole system, stopped actors included."""
        accepted, processed, failed, dead, restarts, cancelled = self._retired
        queued = 0
        actors = 0
        in_flight = 0
        for node in self._nodes.values():
            if isinstance(node, Cell):
                q = node.queue
                actors += 1
                accepted += q.accepted
                processed += q.processed
                failed += q.failed
                dead += q.dead_lettered
                queued += len(q)
                restarts += node.restarts
                cancelled += q.cancelled
                in_flight += node.in_flight()
        if self._cluster is not None:  # remote refs, as the driver's books have them
            remote = self._cluster.counters()
            actors += remote[0]
            accepted += remote[1]
            processed += remote[2]
            failed += remote[3]
            dead += remote[4]
            queued += remote[5]
            restarts += remote[6]
            cancelled += remote[7]
        return SystemStatistics(
            actors=actors,
            accepted=accepted,
            processed=processed,
            failed=failed,
            dead_lettered=dead,
            queued=queued,
            restarts=restarts,
            dead_letters_held=len(self.dead_letters),
            cancelled=cancelled,
            in_flight=in_flight,
        )

    # -- idleness --------------------------------------------------------------
    def activity(self, delta: int) -> None:
        """Count actors with work; wake ``wait_until_idle`` when none have."""
        self._active += delta
        if self._active == 0 and self._idle is not None:
            self._idle.set()
            self._idle = None

    async def wait_until_idle(self) -> None:
        """Return once every mailbox is empty and no actor is handling a message."""
        while self._active > 0:
            if self._idle is None:
                self._idle = trio.Event()
            await self._idle.wait()
        await trio.lowlevel.checkpoint()

    # -- tracing and failure ---------------------------------------------------
    def event(
        self,
        kind: RecordKind,
        name: str,
        attributes: Mapping[str, object],
        *,
        error: BaseException | None = None,
        actor: str | None = None,
    ) -> None:
        """Hand a point event to the tracer, if there is one (never waits)."""
        tracer = self.tracer
        if tracer is None:
            return
        # Point events are always recorded: inside a trace that is not
        # sampled, one starts a trace of its own.
        parent = current_trace.get()
        if parent is not None and not parent.sampled:
            parent = None
        ctx = parent if parent is not None else TraceContext.new_root()
        tracer.emit(
            TraceRecord(
                kind=kind,
                name=name,
                trace_id=ctx.trace_id,
                span_id=new_span_id(),
                parent_id=parent.span_id if parent is not None else None,
                actor=actor or name,
                error=None if error is None else f"{type(error).__qualname__}: {error}",
                error_type=None if error is None else type(error).__qualname__,
                attributes=dict(attributes),
            )
        )

    def fail(self, error: BaseException) -> None:
        """The root gave up: end the system with ``error``."""
        if self._failure is None:
            self._failure = error
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_actor_system(
    name: str = "system",
    *,
    tracer: TraceSink | None = None,
    dead_letter_store: DeadLetterStore | None = None,
    dead_letter_capacity: int = 10_000,
    shutdown_timeout: float = 5.0,
    strategy: Strategy | None = None,
    cluster: Cluster | None = None,
) -> AsyncIterator[ActorSystem]:
    """Run an actor system for the duration of the ``async with`` block.

    Leaving the block stops every actor gracefully, in reverse start order
    (each within ``shutdown_timeout`` seconds, then cancelled). A failure that
    escalates past the root supervisor leaves the block with a
    :class:`SupervisionError`; cancelling the surrounding scope stops every actor.
    With no ``tracer`` nothing is traced (:func:`llmgine.open_actor_system`
    builds one from ``LLMGINE_TRACE`` when none is passed).

    At most ``dead_letter_capacity`` dead letters are held in memory (the
    oldest are evicted first). However the block is left (normally, by an
    exception, by cancellation or by a :class:`SupervisionError`), every dead
    letter filed before is written to ``dead_letter_store`` and every trace
    record handed to the tracer is delivered, shielded from cancellation.

    With a ``cluster`` (``llmgine.cluster.RayCluster``) the system can
    :meth:`~ActorSystem.spawn_node`; its nodes stop before the local actors.
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigurationError(
            f"'name' must be a non-empty str without '/' (got {name!r})"
        )
    check_capacity(dead_letter_capacity)
    system = ActorSystem(
        name,
        tracer=tracer,
        store=dead_letter_store,
        shutdown_timeout=shutdown_timeout,
        strategy=OneForOne() if strategy is None else strategy,
        dead_letter_capacity=dead_letter_capacity,
    )
    system_token = _current_system.set(system)
    sink_token = current_sink.set(tracer)
    try:
        await system.dead_letters._load()
        async with trio.open_nursery() as service:
            if tracer is not None:
                tracer.start(system)
                service.start_soon(tracer.run)
            if dead_letter_store is not None:
                service.start_soon(system.dead_letters._run_writer)
            try:
                async with trio.open_nursery() as nursery:
                    system._nursery = nursery
                    try:
                        if cluster is not None:
                            system._cluster = await cluster.attach(system)
                        yield system
                        if system._cluster is not None:
                            await system._cluster.aclose()
                        await system.root.finalize()
                    finally:
                        if system._cluster is not None:
                            system._cluster.abort()
                        system.root.close()
                    nursery.cancel_scope.cancel()
            finally:
                system._nursery = None
                system.retire_all()
                service.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # Actor and service tasks never raise: the one error is the body's own.
        error = _sole(group)
        raise error from error.__cause__
    finally:
        await _write_out(system, tracer)
        current_sink.reset(sink_token)
        _current_system.reset(system_token)
    if system._failure is not None:
        raise system._failure


async def _write_out(system: ActorSystem, tracer: TraceSink | None) -> None:
    """Store every dead letter and deliver every trace record filed so far.

    Every way out of the system comes through here, shielded from the
    cancellation that may be leaving, within the shutdown timeout.
    """
    with trio.move_on_after(system.shutdown_timeout, shield=True):
        try:
            await system.dead_letters._close()
        finally:
            if tracer is not None:
                await tracer.aclose()


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The single error inside (possibly nested) one-element groups."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
