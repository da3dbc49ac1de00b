"""Nodes: Ray actor processes hosting actor systems, supervised from the driver.

A :class:`NodeHandle` runs on the driver, in the system's nursery. For each
incarnation of its node it runs two tasks: a *sender* that ships the outbox
in batches (one Ray call carries every message accepted since the last one)
and a *poller* that keeps one ``poll`` call waiting at the node; a poll comes
back with news (answers, settled counts, dead letters, trace records) or, at
the latest, after ``heartbeat`` seconds. A Ray actor-death error from either
call, or no poll back within three heartbeats, ends the incarnation: what the
node held becomes ``NODE_LOST`` dead letters, asks in flight fail with
:class:`ActorStopped`, and the node is started again (a new Ray actor, Ray's
own restarts off) with its actors spawned from their specs, within the
restart intensity, after the backoff.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import attrs
import trio

from .._exceptions import ActorStopped, ConfigurationError, SupervisionError
from ..actors import (
    Actor,
    Backoff,
    CircuitBreaker,
    DeadLetter,
    DeadLetterReason,
    Mailbox,
    Restart,
)
from ..tracing import ambient_context, current_trace
from ._host import NodeServer, Snapshot
from ._ray import await_ref, check_pickles, import_ray
from ._remote import _ASK, _CANCEL, _TELL, RemoteRef, _Slot

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..actors import ActorSystem

__all__ = ["NodeHandle", "NodeRef", "NodeStatistics"]

_BATCH = 8192  # most messages in one Ray call
_MISSED_BEATS = 3  # a node silent this many heartbeats is taken for dead


@attrs.frozen(kw_only=True)
class NodeStatistics:
    """A snapshot of one node: its process, restarts and the actors it runs."""

    name: str
    pid: int | None
    up: bool
    restarts: int
    actors: int
    queued: int
    last_restart_s: float | None


class _Lost(Exception):
    """An incarnation of a node ended (its process died or stopped answering)."""


class NodeHandle:
    """The driver's side of one node (see the module docstring)."""

    def __init__(
        self,
        system: ActorSystem,
        name: str,
        *,
        max_restarts: int,
        within: float,
        backoff: Backoff | None,
        heartbeat: float,
        ray_options: dict[str, Any],
    ) -> None:
        self.system = system
        self.name = name
        self.path = f"{system.path}/{name}"
        self.max_restarts = max_restarts
        self.within = within
        self.backoff = backoff
        self.heartbeat = heartbeat
        self.ray_options = ray_options
        self.refs: dict[int, RemoteRef] = {}
        system.add_finder(self.find)  # so NODE_LOST letters can be redelivered
        self.outbox: list[tuple[Any, ...]] = []
        self.restarts = 0
        self.restart_times: list[float] = []
        self.last_restart_s: float | None = None
        self.pid: int | None = None
        self.up = False
        self.closing = False
        self.tell_budget = 64
        self._seq = 0
        self._next_id = 0
        self._actor: Any = None
        self._wake = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self._scope: trio.CancelScope | None = None
        self._finished = trio.Event()

    def find(self, path: str) -> RemoteRef | None:
        """The running remote ref at ``path`` on this node, or None."""
        for ref in self.refs.values():
            if ref.path == path and not ref.stopped:
                return ref
        return None

    # -- the outbox ------------------------------------------------------------------
    def send(
        self, kind: int, ref: RemoteRef, lane: int, message: object, slot: _Slot | None
    ) -> int:
        """Accept a message for ``ref``: it leaves with the next batch; its seq."""
        self._seq += 1
        seq = self._seq
        tracer = self.system.tracer
        trace = None
        if tracer is not None:
            # as a local ref: the sender's trace, else the caller's ambient
            # one (an OpenTelemetry span the application opened)
            trace = current_trace.get() or ambient_context(tracer)
        self.outbox.append((kind, ref, seq, lane, message, trace))
        ref.unsent += 1
        ref.accepted += 1
        if slot is not None:
            ref.asks[seq] = slot
        self._wake.set()
        return seq

    def cancel(self, ref: RemoteRef, seq: int) -> None:
        """The asker of ``ref``'s ask ``seq`` gave up: tell the node to cancel it.

        It leaves with the next batch, after the ask if that has not left yet.
        """
        if seq in ref.asks:
            self.outbox.append((_CANCEL, ref, seq, 0, None, None))
            self._wake.set()

    def evict_unsent(self, ref: RemoteRef, lane: int) -> bool:
        """Drop ``ref``'s oldest unsent tell at or below ``lane`` (``DROP_OLDEST``)."""
        for index, item in enumerate(self.outbox):
            if item[1] is ref and item[0] == _TELL and item[3] >= lane:
                del self.outbox[index]
                ref.unsent -= 1
                ref.file(item[4], DeadLetterReason.DROPPED_OLDEST, None)
                return True
        return False

    # -- spawning --------------------------------------------------------------------
    async def spawn(
        self,
        factory: Callable[..., Actor],
        args: tuple[Any, ...],
        *,
        name: str,
        mailbox: Mailbox | None = None,
        restart: Restart = Restart.PERMANENT,
        breaker: CircuitBreaker | None = None,
        **kwargs: Any,
    ) -> RemoteRef:
        if self.closing:
            raise ActorStopped(f"node {self.path} has stopped")
        if not isinstance(name, str) or not name or "/" in name:
            raise ConfigurationError(
                f"'name' must be a non-empty str without '/' (got {name!r})"
            )
        if any(ref.name == name and not ref.stopped for ref in self.refs.values()):
            raise ConfigurationError(f"{self.path}/{name} is already running")
        check_pickles(factory, f"factory {factory!r}")
        check_pickles((args, kwargs), f"the arguments of factory {factory!r}")
        options = {
            **kwargs,
            "name": name,
            "mailbox": Mailbox() if mailbox is None else mailbox,
            "restart": restart,
            "breaker": breaker,
        }
        self._next_id += 1
        ref = RemoteRef(self, self._next_id, name, factory, args, options)
        await self._spawn_on(self._actor, ref)
        self.refs[ref.id] = ref
        return ref

    async def _spawn_on(self, actor: Any, ref: RemoteRef) -> None:
        try:
            error = await await_ref(
                actor.spawn.remote(ref.id, ref.factory, ref.args, ref.options)
            )
        except Exception as exc:
            if _is_death(exc):
                raise ActorStopped(f"node {self.path} died during the spawn") from exc
            raise ConfigurationError(
                f"node {self.path} could not take factory {ref.factory!r}: {exc}"
            ) from exc
        if error is not None:
            raise error

    async def _incarnate(self) -> None:
        """Start a new Ray actor for this node and spawn its actors there."""
        ray = import_ray()
        options = {"max_restarts": 0, "max_concurrency": 4, **self.ray_options}
        server = ray.remote(NodeServer).options(**options)
        tracer = self.system.tracer
        bound = None if tracer is None else getattr(tracer, "sample_bound", 1 << 64)
        actor = server.remote(self.name, bound)
        self._actor = actor
        try:
            self.pid = await await_ref(actor.pid.remote())
            for ref in list(self.refs.values()):
                if not ref.stopped:
                    await self._spawn_on(actor, ref)
        except BaseException:
            self._kill()
            raise
        self.up = True

    def _kill(self) -> None:
        if self._actor is not None:
            with contextlib.suppress(Exception):  # already gone
                import_ray().kill(self._actor, no_restart=True)

    # -- running ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start the first incarnation (errors reach ``spawn_node``), then supervise."""
        await self._incarnate()
        self.system.nursery.start_soon(self._supervise)

    async def _supervise(self) -> None:
        try:
            while True:
                await self._serve()
                if self.closing:
                    return
                lost_at = time.perf_counter()
                self._lose()
                while not await self._restart():
                    if self.closing:  # gave up: the system is failing
                        return
                self.last_restart_s = time.perf_counter() - lost_at
        finally:
            self._finished.set()

    async def _serve(self) -> None:
        self._scope = trio.CancelScope()
        with self._scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._send_loop)
                nursery.start_soon(self._poll_loop)
        self.up = False

    def _end_incarnation(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    async def _restart(self) -> bool:
        """One restart: False if it failed or the node gave up (past the intensity)."""
        now = trio.current_time()
        self.restart_times = [t for t in self.restart_times if now - t < self.within]
        self.restart_times.append(now)
        if len(self.restart_times) > self.max_restarts:
            self._give_up()
            error = SupervisionError(
                f"node {self.path} died more than {self.max_restarts} times"
                f" within {self.within} s"
            )
            self.system.fail(error)  # leaves open_actor_system with it
            return False
        if self.backoff is not None:
            await trio.sleep(self.backoff.delay(len(self.restart_times)))
        try:
            await self._incarnate()
        except Exception:
            return False
        self.restarts += 1
        if self.closing:  # stopped while this one started
            self._kill()
            self.up = False
        return True

    def _lose(self) -> None:
        self.up = False
        self._kill()
        for ref in self.refs.values():
            ref.lose_node()

    def _give_up(self) -> None:
        for item in self.outbox:
            ref = item[1]
            if item[0] == _CANCEL:
                continue
            ref.unsent -= 1
            slot = ref.asks.pop(item[2], None)
            error = ActorStopped(f"node {self.path} gave up")
            ref.file(item[4], DeadLetterReason.NODE_LOST, error)
            if slot is not None:
                slot.error = error
                slot.event.set()
        self.outbox.clear()
        for ref in self.refs.values():
            ref.close_for_good()
        self.closing = True

    async def _send_loop(self) -> None:
        actor = self._actor
        while True:
            if not self.outbox:
                self._idle.set()
                self._wake = trio.Event()
                await self._wake.wait()
                continue
            if self._idle.is_set():  # keep the event a flush() may be waiting on
                self._idle = trio.Event()
            items = self.outbox[:_BATCH]
            del self.outbox[:_BATCH]
            wire = []
            for kind, ref, seq, lane, message, trace in items:
                if kind == _CANCEL:  # not a message: nothing to count
                    if seq in ref.asks:
                        wire.append((kind, ref.id, seq, lane, None, None))
                    continue
                ref.unsent -= 1
                if kind == _ASK:
                    slot = ref.asks.get(seq)
                    if slot is None:  # pragma: no cover - answered by a give-up
                        continue
                    slot.sent = True
                else:
                    ref.lanes[lane][seq] = message
                    ref.in_lanes += 1
                wire.append((kind, ref.id, seq, lane, message, trace))
            if not await self._deliver(actor, wire):
                self._end_incarnation()
                return

    async def _deliver(self, actor: Any, wire: list[Any]) -> bool:
        """Ship one batch; False if the node died.

        A batch the node could not unpickle (a class it cannot import) was
        not delivered at all: its messages go again one by one, and only
        those that fail alone are refused.
        """
        try:
            snapshot = await await_ref(actor.deliver.remote(wire))
        except Exception as exc:
            if _is_death(exc):
                return False
            if len(wire) > 1:
                for item in wire:
                    if not await self._deliver(actor, [item]):
                        return False
                return True
            kind, actor_id, seq = wire[0][:3]
            self.refs[actor_id].refuse(seq, kind == _ASK, _refusal(exc))
            return True
        if snapshot is not None:
            self._apply(snapshot)
        return True

    async def _poll_loop(self) -> None:
        actor = self._actor
        while True:
            with trio.move_on_after(self.heartbeat * _MISSED_BEATS) as scope:
                try:
                    snapshot = await await_ref(actor.poll.remote(self.heartbeat))
                except Exception:
                    self._end_incarnation()
                    return
            if scope.cancelled_caught:
                self._end_incarnation()  # no heartbeat: the node is hung
                return
            self._apply(snapshot)

    def _apply(self, snapshot: Snapshot) -> None:
        counts, answers, letters, refused, traces = snapshot
        refs = self.refs
        evicted: dict[int, int] = {}
        dead_letters = self.system.dead_letters
        for actor_id, message, reason, error in letters:
            ref = refs.get(actor_id)
            recipient = self.path if ref is None else ref.path
            dead_letters.add(
                DeadLetter(
                    message=message,
                    recipient=recipient,
                    reason=DeadLetterReason(reason),
                    error=error,
                )
            )
            if reason == "dropped_oldest":
                evicted[actor_id] = evicted.get(actor_id, 0) + 1
        for actor_id, seq, is_ask, error in refused:
            ref = refs.get(actor_id)
            if ref is not None:
                ref.refuse(seq, is_ask, error)
        for row in counts:
            ref = refs.get(row[0])
            if ref is not None:
                ref.settle_tells(row[1], evicted.get(row[0], 0))
                ref.count(row[2:])
        for actor_id, seq, ok, payload in answers:
            ref = refs.get(actor_id)
            if ref is not None:
                ref.answer(seq, ok, payload)
        tracer = self.system.tracer
        if tracer is not None:
            for record in traces:
                tracer.emit(record)

    # -- stopping ----------------------------------------------------------------------
    async def flush(self) -> None:
        """Wait until every accepted message has left the outbox."""
        while self.up and (self.outbox or not self._idle.is_set()):
            await self._idle.wait()
            await trio.lowlevel.checkpoint()

    async def stop_actor(self, ref: RemoteRef) -> None:
        await self.flush()
        ref.stopped = True
        if self.up:
            try:
                self._apply(await await_ref(self._actor.stop_actor.remote(ref.id)))
            except Exception as exc:
                if not _is_death(exc):
                    raise

    async def aclose(self) -> None:
        """Stop the node: its actors stop (queued messages dead-lettered), then it."""
        if self.closing:
            return
        await self.flush()
        self.closing = True
        for ref in self.refs.values():
            ref.close_for_good()
        if self.up:
            with trio.move_on_after(self.system.shutdown_timeout + 1.0):
                try:
                    final = await await_ref(
                        self._actor.shutdown.remote(self.system.shutdown_timeout)
                    )
                except Exception:
                    final = None
                if final is not None:
                    self._apply(final)
        self._end_incarnation()
        self.up = False
        self._kill()
        for ref in self.refs.values():
            ref.lose_node()
            ref.stopped = True

    def abort(self) -> None:
        """Kill the node at once (the system is failing)."""
        self.closing = True
        self.up = False
        self._kill()

    def counters(self) -> tuple[int, ...]:
        """Summed over its refs: actors, accepted, processed, failed, dead-lettered,
        queued, restarts, cancelled."""
        actors = accepted = processed = failed = dead = queued = restarts = cancelled = 0
        for ref in self.refs.values():
            p, d, f, r, c, q = ref.counters()
            actors += not ref.stopped
            accepted += ref.accepted
            processed += p
            dead += d
            failed += f
            restarts += r
            cancelled += c
            queued += q
        return (actors, accepted, processed, failed, dead, queued, restarts, cancelled)

    def statistics(self) -> NodeStatistics:
        counters = self.counters()
        return NodeStatistics(
            name=self.name,
            pid=self.pid,
            up=self.up,
            restarts=self.restarts,
            actors=counters[0],
            queued=counters[5],
            last_restart_s=self.last_restart_s,
        )


class NodeRef:
    """A handle to a node: a Ray actor process running an actor system of its own.

    ``spawn`` takes the same arguments as :meth:`ActorSystem.spawn` (the
    factory and every message must pickle) and returns a :class:`RemoteRef`.
    """

    __slots__ = ("_handle", "name", "path")

    def __init__(self, handle: NodeHandle) -> None:
        self._handle = handle
        self.name = handle.name
        self.path = handle.path

    def __repr__(self) -> str:
        return f"<NodeRef {self.path} pid={self.pid}>"

    @property
    def pid(self) -> int | None:
        """The id of the node's current process (it changes when it restarts)."""
        return self._handle.pid

    async def spawn(
        self,
        factory: Callable[..., Actor],
        /,
        *args: Any,
        name: str,
        mailbox: Mailbox | None = None,
        restart: Restart = Restart.PERMANENT,
        breaker: CircuitBreaker | None = None,
        **kwargs: Any,
    ) -> RemoteRef:
        """Start an actor on the node, as :meth:`ActorSystem.spawn` does locally.

        It returns once the actor has started; the error the factory or
        ``on_start`` raised is raised here. :class:`ConfigurationError` when
        the factory or its arguments do not pickle.
        """
        return await self._handle.spawn(
            factory,
            args,
            name=name,
            mailbox=mailbox,
            restart=restart,
            breaker=breaker,
            **kwargs,
        )

    def statistics(self) -> NodeStatistics:
        """A snapshot of the node."""
        return self._handle.statistics()

    async def stop(self) -> None:
        """Stop the node's actors and its process; its refs raise ActorStopped."""
        await self._handle.aclose()


def _is_death(error: BaseException) -> bool:
    """Whether a Ray call failed because of the node, not of what was sent.

    Only a ``RayTaskError`` (the call itself raised, as when a message could
    not be unpickled there) leaves the node standing; actor death, crashed or
    unreachable workers and lost objects all end its incarnation.
    """
    return not isinstance(error, import_ray().exceptions.RayTaskError)


def _refusal(error: BaseException) -> BaseException:
    return ConfigurationError(f"the node could not take the message: {error}")
