"""The cell: the live part of one actor: its mailbox, incarnations and dispatch loop.

Two paths decide everything a message goes through, and each is written once:

- **admission** (``_admission.py``: :meth:`Cell.offer` / :meth:`Cell.offer_nowait`):
  closed mailbox, breaker trial, capacity and overflow policy, the push and
  the consumer's wake-up;
- **settlement** (``_settlement.py``: :meth:`Cell.settle`, :meth:`Cell.fail_item`,
  :meth:`Cell.settle_deferred`, :meth:`Cell.count_cancelled`): counters,
  breaker outcome, the reply, dead letters.

Background tasks and deferred replies live in ``_background.py``.

``ActorRef.tell``/``ask`` and the dispatch loop inline one fast case each (no
breaker, room in the mailbox, no trace); a property test holds the inlined
paths equal to these references (``ActorSystem.reference_paths``).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import trio

from .._exceptions import ConfigurationError
from ..tracing import RecordKind, close_span, current_actor, open_span
from ._actor import Actor, ActorContext, Failure
from ._admission import Admission
from ._background import Background
from ._breaker import BreakerRuntime, BreakerState
from ._dead_letters import DeadLetterReason
from ._deferred import Deferred
from ._envelope import Envelope
from ._mailbox import MailboxQueue
from ._message_span import MessageSpans, handle_traced
from ._ref import ActorRef, ActorStatistics

if TYPE_CHECKING:
    from ._supervisor import ChildSpec, Supervisor
    from ._system import ActorSystem

__all__ = ["Cell", "Phase"]

#: Messages handled in a row before the loop lets other tasks run.
BATCH = 128

# The message loop's helpers as globals, not locals: every parked actor keeps
# its loop's frame, and each local costs a word in it.
_park = trio.lowlevel.wait_task_rescheduled
_reschedule = trio.lowlevel.reschedule


class Phase(enum.Enum):
    """Where the current incarnation of an actor stands."""

    #: No incarnation: not started yet, or between a stop and a restart.
    DOWN = "down"
    #: Scheduled: waiting out a restart backoff, or in ``on_start``.
    STARTING = "starting"
    #: Handling messages.
    RUNNING = "running"
    #: ``context.stop()``: leave after the current message; the supervisor decides.
    EXITING = "exiting"
    #: Being stopped by its supervisor (a restart or a stop for good).
    HALTING = "halting"


_RUNNING = Phase.RUNNING


class _Hint:
    """A ``trace_hint`` whose ``open_spans`` never changes."""

    __slots__ = ("open_spans",)

    def __init__(self, open_spans: int) -> None:
        self.open_spans = open_spans


_NEVER_OPEN = _Hint(0)
_ALWAYS_OPEN = _Hint(1)


class Cell(Admission, Background):
    """One actor's runtime: it outlives every instance the factory makes."""

    __slots__ = (
        "_active",
        "_announce",
        "_background",
        "_background_failure",
        "_background_idle",
        "_children",
        "_current",
        "_deferred",
        "_ended",
        "_final",
        "_finalized",
        "_interrupt",
        "_killed",
        "_scope",
        "_self_stop",
        "_sleeping",
        "_start_error",
        "_task",
        "_work",
        "breaker",
        "fast",
        "finalized",
        "generation",
        "name",
        "parent",
        "path",
        "phase",
        "queue",
        "ref",
        "restart",
        "restarts",
        "spans",
        "spec",
        "system",
        "trace_hint",
        "traced",
    )

    def __init__(self, system: ActorSystem, parent: Supervisor, spec: ChildSpec) -> None:
        self.system = system
        self.parent = parent
        self.spec = spec
        self.name = spec.name
        self.path = f"{parent.path}/{spec.name}"
        self.restart = spec.restart
        self.queue = MailboxQueue(spec.mailbox, self)
        self.breaker = (
            None
            if spec.breaker is None
            else BreakerRuntime(spec.breaker, self._breaker_changed)
        )
        self.traced = system.tracer is not None
        self.spans = (
            None if system.tracer is None else MessageSpans(system.tracer, self.path)
        )
        # What a tell's fast path reads (``trace_hint.open_spans``) to know
        # whether a trace context may be there: the tracer itself; a count
        # that never leaves 0 without a tracer, and one that never falls to 0
        # for a tracer that joins ambient traces. One read, tracer or not.
        self.trace_hint: Any = (
            _NEVER_OPEN
            if self.spans is None
            else _ALWAYS_OPEN
            if self.spans.joins_ambient
            else system.tracer
        )
        # The inlined fast paths apply: no breaker, and not held to the reference.
        # Admission's fast path also needs the mailbox's deque, made on first use.
        self.fast = False
        self.ref = ActorRef(self)
        self.restarts = 0
        self.generation = 0
        self.finalized = False
        self.phase = Phase.DOWN
        self._active = False
        self._current: object = None
        self._final = False  # stopped for good: never reported to the parent
        self._self_stop = False  # ref.stop() from inside: finalize when it ends
        self._finalized: trio.Event | None = None
        self._sleeping = False
        self._ended: trio.Event | None = None  # made by a halt that waits
        self._killed = False
        self._interrupt = False  # the message loop's scope was cancelled
        self._scope: trio.CancelScope | None = None
        self._task: trio.lowlevel.Task | None = None
        self._children: Supervisor | None = None
        self._work: set[trio.CancelScope] | None = None
        self._background = 0
        self._background_idle: trio.Event | None = None
        self._background_failure: Exception | None = None
        self._deferred: set[Deferred] | None = None
        self._announce: trio.Event | None = None
        self._start_error: Exception | None = None

    @property
    def running(self) -> bool:
        """Whether an incarnation is live (starting, running or stopping)."""
        return self.phase is not Phase.DOWN

    # -- lifecycle -------------------------------------------------------------
    def make(self) -> Actor:
        """A fresh instance from the factory (raises what the factory raises)."""
        instance = self.spec.factory()
        if not isinstance(instance, Actor):
            raise ConfigurationError(
                f"the factory of {self.path} must return an Actor"
                f" (got {type(instance).__name__})"
            )
        instance._context = ActorContext(self)
        return instance

    def start(
        self, delay: float = 0.0, *, instance: Actor | None = None, announce: bool = False
    ) -> None:
        """Start a new incarnation (after ``delay`` seconds) in the system nursery.

        With ``announce``, :meth:`wait_started` reports how the start went and
        a failing start is not reported to the supervisor.
        """
        if self.finalized:
            return
        assert self.phase is Phase.DOWN, f"{self.path}: a second live incarnation"
        self.generation += 1
        self.phase = Phase.STARTING
        self._killed = False
        self._announce = trio.Event() if announce else None
        self.mark_active()
        if self._children is not None and not self._children.running:
            self._children.start(delay)
        self.system.nursery.start_soon(
            self._incarnation,
            delay,
            self.generation,
            instance,
            name=f"actor {self.path}",
        )

    async def wait_started(self) -> Exception | None:
        """Wait until an announced start finished ``on_start``; its error, if any."""
        announce = self._announce
        if announce is not None:
            await announce.wait()
        return self._start_error

    async def _incarnation(
        self, delay: float, generation: int, instance: Actor | None
    ) -> None:
        # One cancel scope at a time guards the incarnation (``self._scope``):
        # one around the start, one per run of the message loop (an abandoned
        # ask cancels it and the loop makes another), one around the graceful
        # drain. ``_kill`` cancels whichever is current.
        self._task = trio.lowlevel.current_task()
        current_actor.set(self.path)  # this task's own context: what it records
        failure: Exception | None = None
        started = False
        ended = Phase.HALTING
        try:
            try:
                with trio.CancelScope() as self._scope:  # no local: it would outlive
                    if delay > 0:
                        self._sleeping = True
                        await trio.sleep(delay)
                        self._sleeping = False
                    if self.phase is not Phase.STARTING:
                        return
                    if instance is None:
                        instance = self.make()
                    await instance.on_start()
                    started = True
                    if self.phase is Phase.STARTING:
                        self.phase = Phase.RUNNING
                    self._announced()
                    self.system.event(
                        RecordKind.ACTOR_RESTARTED
                        if self.generation > 1
                        else RecordKind.ACTOR_STARTED,
                        self.path,
                        {"llmgine.actor.generation": self.generation},
                    )
                if instance is not None and started and not self._killed:
                    await self._dispatch(instance)
                if not self._killed:
                    with trio.CancelScope() as self._scope:
                        await self._drain_background(graceful=True)
            except BaseException as exc:
                error = _sole(exc)
                if not isinstance(error, Exception):
                    raise
                failure = error
            if self._killed and self._current is not None:
                item, self._current = self._current, None
                self.dead_letter(item, DeadLetterReason.ACTOR_STOPPED, None)
            await self._drain_background(graceful=False)
            if failure is None:
                failure = self._background_failure
            if instance is not None and started:
                await self._call_on_stop(instance)
        finally:
            self._work = None
            self._background_failure = None
            self._fail_deferred()
            if self._current is not None:
                # Cancelled from outside (the embedding app's scope) mid-message:
                # the message was accepted, so it must not vanish.
                item, self._current = self._current, None
                self.dead_letter(item, DeadLetterReason.ACTOR_STOPPED, None)
            ended = self.phase
            self.phase = Phase.DOWN
            self._sleeping = False
            self._scope = None
            self._task = None
            waiting, self._ended = self._ended, None
            if waiting is not None:
                waiting.set()
        if failure is not None:
            self.system.event(
                RecordKind.ACTOR_FAILED, self.path, {}, error=failure, actor=self.path
            )
            if self._announce is not None:
                self._start_error = failure
                self._announced()
            elif self._self_stop:
                await self.finalize()
            elif not self._final:
                await self.parent.child_failed(self, failure, generation)
        elif self._self_stop:
            await self.finalize()
        elif ended is Phase.EXITING and not self._final:
            await self.parent.child_exited(self, generation)
        self._announced()

    def _announced(self) -> None:
        announce, self._announce = self._announce, None
        if announce is not None:
            announce.set()

    async def _call_on_stop(self, instance: Actor) -> None:
        try:
            with trio.move_on_after(self.system.shutdown_timeout):
                await instance.on_stop()
        except Exception as exc:
            self.system.event(
                RecordKind.ACTOR_FAILED,
                self.path,
                {"llmgine.hook": "on_stop"},
                error=exc,
                actor=self.path,
            )

    # -- the message loop ------------------------------------------------------
    async def _dispatch(self, instance: Actor) -> None:
        """Handle messages until asked to leave.

        The hottest loop in llmgine: the queue's pop and park, plain tells and
        asks and the idle accounting are inlined here; everything else goes
        through _handle and the settlement path. It runs inside a cancel scope
        that an abandoned ask cancels while its message is being handled; the
        scope is then made anew.
        """
        receive = instance.receive
        queue = self.queue
        normal = queue.normal
        fast = self.breaker is None and not self.system.reference_paths
        abort = queue.abort_wait
        park = _park
        reschedule = _reschedule
        running = _RUNNING
        while self.phase is running:
            scope = self._scope = trio.CancelScope()
            self._interrupt = False
            batch = 0
            with scope:
                while self.phase is running:
                    if normal and not queue.others:
                        item = normal.popleft()
                        queue.size -= 1
                        if queue.senders_waiting:
                            queue.unpark_sender()
                    elif queue.others:
                        item = queue.pop()
                    else:
                        # Park until a push wakes us; the mailbox is empty.
                        queue.consumer_waiting = True
                        if self._active:  # self.mark_idle(), inlined
                            self._active = False
                            system = self.system
                            system._active -= 1
                            if not system._active and system._idle is not None:
                                system.activity(0)  # wakes wait_until_idle()
                        queue.consumer = self._task
                        try:
                            await park(abort)
                        finally:
                            if queue.consumer_waiting:  # cancelled, or asked to stop
                                queue.consumer_waiting = False
                                self.mark_active()
                        normal = queue.normal  # made by the first push
                        batch = 0
                        continue
                    self._current = item
                    if not fast:
                        await self._handle(item, receive)
                    elif type(item) is not Envelope:  # a plain tell
                        try:
                            result = await receive(item)
                        except Exception as exc:
                            self.fail_item(item, exc)
                            raise
                        self._current = None
                        if type(result) is Failure or type(result) is Deferred:
                            self.settle(item, result)
                        else:
                            queue.processed += 1
                    elif item.traced or item.reply is None or item.abandoned:
                        await self._handle(item, receive)
                    else:  # a plain ask
                        try:
                            result = await receive(item.message)
                        except Exception as exc:
                            self.fail_item(item, exc)
                            raise
                        self._current = None
                        if type(result) is Failure or type(result) is Deferred:
                            self.settle(item, result)
                        else:
                            queue.processed += 1
                            if not item.is_set:  # item.set_value(result), inlined
                                item.value = result
                                item.is_set = True
                                asker = item.task
                                if asker is not None:
                                    item.task = None
                                    reschedule(asker)
                    if self._interrupt:  # scope.cancel_called, without the property
                        break  # an abandoned ask cancelled this scope: make another
                    batch += 1
                    if batch >= BATCH:
                        batch = 0
                        await trio.lowlevel.checkpoint()
            if self._killed:
                return  # the message in hand is dead-lettered by the incarnation
            current = self._current
            if current is not None:  # the abandoned ask's handling was cancelled
                self._current = None
                self.count_cancelled(current if type(current) is Envelope else None)

    async def _handle(self, item: object, receive: Any) -> None:
        """Handle one message by the reference path."""
        if type(item) is Envelope:
            reply = item.reply
            if reply is not None and reply.abandoned:
                # The asker gave up while the message was queued: do nothing.
                self._current = None
                self.count_cancelled(reply)
                return
            if item.traced:
                await self._handle_traced(item, receive)
                return
            message = item.message
        else:
            message = item
        try:
            result = await receive(message)
        except Exception as exc:
            self.fail_item(item, exc)
            raise
        self._current = None
        self.settle(item, result)

    async def _handle_traced(self, item: Envelope, receive: Any) -> None:
        trace = item.trace
        if trace is None or trace.sampled or item.reply is not None:
            await handle_traced(self, item, receive)
            return
        # A tell in a trace that is not sampled: pass the context on to what
        # the handler does; record nothing.
        sink = self.spans.sink  # type: ignore[union-attr]  # traced: spans are set
        token = open_span(sink, trace)
        try:
            result = await receive(item.message)
        except Exception as exc:
            self.fail_item(item, exc)
            raise
        finally:
            close_span(sink, token)
        self._current = None
        self.settle(item, result)

    # -- stopping ----------------------------------------------------------------
    def request_exit(self) -> None:
        """Exit normally after the current message (``context.stop()``)."""
        if self.phase is Phase.RUNNING or self.phase is Phase.STARTING:
            self.phase = Phase.EXITING
        self.queue.wake_consumer()

    async def halt(self) -> None:
        """End the current incarnation gracefully, then brutally; keep the mailbox."""
        if self.phase is Phase.DOWN:
            return
        ended = self._ended
        if ended is None:
            ended = self._ended = trio.Event()
        self.phase = Phase.HALTING
        self.queue.wake_consumer()
        if self._sleeping:
            self._kill()
        with trio.move_on_after(self.system.shutdown_timeout):
            await ended.wait()
        if not ended.is_set():
            self._kill()
            await ended.wait()

    def _in_own_task(self) -> bool:
        return trio.lowlevel.current_task() is self._task

    async def stop(self) -> None:
        """Stop for good (``ref.stop()``)."""
        if self.finalized:
            return
        self._final = True
        if self._in_own_task():
            self._self_stop = True
            self.phase = Phase.HALTING
            return
        await self.finalize()

    async def finalize(self) -> None:
        """Stop for good: halt, close the mailbox, dead-letter what is queued."""
        if self.finalized:
            if self._finalized is not None:
                await self._finalized.wait()
            return
        self.finalized = True
        self._final = True
        self._finalized = trio.Event()
        if self._children is not None:
            await self._children.finalize()
        await self.halt()
        self.close()
        self.parent.remove(self)
        self.system.event(RecordKind.ACTOR_STOPPED, self.path, {}, actor=self.path)
        self._finalized.set()

    def close(self) -> None:
        """Close the mailbox and dead-letter what it holds (never waits)."""
        self.queue.close()
        for item in self.queue.take_all():
            self.dead_letter(item, DeadLetterReason.ACTOR_STOPPED, None)
        self.mark_idle()

    # -- children --------------------------------------------------------------
    def children_group(self) -> Supervisor:
        """The one-for-one group that supervises this actor's own children."""
        if self._children is None:
            from ._supervisor import OneForOne, Supervisor

            self._children = Supervisor(
                self.system, self.parent, self.name, self.path, OneForOne(), owner=self
            )
            self._children.running = True
        return self._children

    def _breaker_changed(self, before: BreakerState, after: BreakerState) -> None:
        self.system.event(
            RecordKind.BREAKER,
            self.path,
            {"llmgine.breaker.from": before.value, "llmgine.breaker.to": after.value},
            actor=self.path,
        )

    def statistics(self) -> ActorStatistics:
        """A snapshot of this actor's counters."""
        queue = self.queue
        return ActorStatistics(
            path=self.path,
            queued=len(queue),
            capacity=queue.capacity,
            accepted=queue.accepted,
            processed=queue.processed,
            cancelled=queue.cancelled,
            in_flight=self.in_flight(),
            failed=queue.failed,
            dead_lettered=queue.dead_lettered,
            restarts=self.restarts,
            breaker=None if self.breaker is None else self.breaker.state,
            breaker_trips=0 if self.breaker is None else self.breaker.trips,
            running=self.running,
        )


def _sole(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
