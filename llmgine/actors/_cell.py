"""The cell: the live part of one actor: its mailbox, incarnations and dispatch loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from .._exceptions import ActorStopped, ConfigurationError
from . import _tracing
from ._actor import Actor, ActorContext, Failure
from ._breaker import BreakerRuntime, BreakerState
from ._dead_letters import DeadLetter, DeadLetterReason
from ._deferred import Deferred
from ._envelope import Envelope
from ._mailbox import MailboxQueue
from ._message_span import MessageSpans, handle_traced
from ._ref import ActorRef, ActorStatistics
from ._tracing import RecordKind, current_trace

if TYPE_CHECKING:
    from ._supervisor import ChildSpec, Supervisor
    from ._system import ActorSystem

__all__ = ["Cell"]

#: Messages handled in a row before the loop lets other tasks run.
BATCH = 128


class Cell:
    """One actor's runtime: it outlives every instance the factory makes."""

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
        self.ref = ActorRef(self)
        self.restarts = 0
        self.generation = 0
        self.finalized = False
        self.running = False
        self._active = False
        self._current: object = None
        self._busy = False
        self._stop_requested = False
        self._exit_requested = False
        self._leave = False  # either of the two above: checked once per message
        self._final = False
        self._self_stop = False
        self._finalized = trio.Event()
        self._sleeping = False
        self._done: trio.Event | None = None
        self._scope: trio.CancelScope | None = None
        self._task: trio.lowlevel.Task | None = None
        self._children: Supervisor | None = None
        self._work: trio.Nursery | None = None
        self._background = 0
        self._background_idle: trio.Event | None = None
        self._deferred: set[Deferred] = set()

    # -- idle accounting -------------------------------------------------------
    def mark_active(self) -> None:
        """This actor has work (or is starting); the system is not idle."""
        if not self._active:
            self._active = True
            self.system._active += 1

    def mark_idle(self) -> None:
        """This actor waits for work."""
        if self._active:
            self._active = False
            self.system.activity(-1)

    # -- lifecycle -------------------------------------------------------------
    def start(self, delay: float = 0.0) -> None:
        """Start a new incarnation (after ``delay`` seconds) in the system nursery."""
        self.generation += 1
        self._stop_requested = False
        self._exit_requested = False
        self._leave = False
        self._done = trio.Event()
        self.running = True
        self.mark_active()
        if self._children is not None and not self._children.running:
            self._children.start(delay)
        self.system.nursery.start_soon(
            self._incarnation, self._done, delay, name=f"actor {self.path}"
        )

    async def _incarnation(self, done: trio.Event, delay: float) -> None:
        self._task = trio.lowlevel.current_task()
        failure: Exception | None = None
        instance: Actor | None = None
        try:
            with trio.CancelScope() as scope:
                self._scope = scope
                if delay > 0:
                    self._sleeping = True
                    await trio.sleep(delay)
                    self._sleeping = False
                if self._stop_requested:
                    return
                try:
                    instance = self._make()
                    async with trio.open_nursery() as work:
                        self._work = work
                        await instance.on_start()
                        self.system.event(
                            RecordKind.ACTOR_RESTARTED
                            if self.generation > 1
                            else RecordKind.ACTOR_STARTED,
                            self.path,
                            {"llmgine.actor.generation": self.generation},
                        )
                        await self._dispatch(instance)
                        await self._finish_background_work(work)
                except BaseException as exc:
                    error = _sole(exc)
                    if not isinstance(error, Exception):
                        raise
                    failure = error
            if scope.cancelled_caught and self._current is not None:
                item, self._current = self._current, None
                self.dead_letter(item, DeadLetterReason.ACTOR_STOPPED, None)
            if instance is not None:
                await self._call_on_stop(instance)
        finally:
            self._work = None
            self._fail_deferred()
            if self._current is not None:
                # Cancelled from outside (the embedding app's scope) mid-message:
                # the message was accepted, so it must not vanish.
                item, self._current = self._current, None
                self.dead_letter(item, DeadLetterReason.ACTOR_STOPPED, None)
            self._sleeping = False
            self._scope = None
            self._task = None
            self.running = False
            done.set()
        if failure is not None:
            self.system.event(
                RecordKind.ACTOR_FAILED, self.path, {}, error=failure, actor=self.path
            )
            if self._self_stop:
                await self.finalize()
            elif not self._final:
                await self.parent.child_failed(self, failure)
        elif self._self_stop:
            await self.finalize()
        elif self._exit_requested and not self._stop_requested:
            await self.parent.child_exited(self)

    async def _finish_background_work(self, work: trio.Nursery) -> None:
        """Give background tasks the shutdown timeout to end, then cancel them."""
        if self._background:
            self._background_idle = trio.Event()
            with trio.move_on_after(self.system.shutdown_timeout):
                await self._background_idle.wait()
        work.cancel_scope.cancel()

    def start_soon(self, fn: Any, *args: Any, name: str | None = None) -> None:
        """Run ``fn(*args)`` beside the message loop, for this incarnation only."""
        if self._work is None:
            raise ConfigurationError(
                f"{self.path} is not running: background work needs a live actor"
            )
        self._background += 1
        self.system.activity(+1)  # background work keeps the system busy
        self._work.start_soon(self._background_task, fn, args, name=name or fn)

    async def _background_task(self, fn: Any, args: tuple[Any, ...]) -> None:
        try:
            await fn(*args)
        except BaseException:
            self.mark_active()  # the actor is failing: busy until it runs again
            raise
        finally:
            self._background -= 1
            self.system.activity(-1)
            if self._background == 0 and self._background_idle is not None:
                self._background_idle.set()

    def current_is_ask(self) -> bool:
        """Whether the message being handled is an ask."""
        item = self._current
        return type(item) is Envelope and item.reply is not None

    def defer(self) -> Deferred:
        """A reply to the message being handled, to be given later."""
        item = self._current
        reply = item.reply if type(item) is Envelope else None
        deferred = Deferred(self, reply)
        self._deferred.add(deferred)
        return deferred

    def _fail_deferred(self) -> None:
        pending, self._deferred = self._deferred, set()
        for deferred in pending:
            deferred.fail(ActorStopped(f"{self.path} stopped before it replied"))

    def _make(self) -> Actor:
        instance = self.spec.factory()
        if not isinstance(instance, Actor):
            raise ConfigurationError(
                f"the factory of {self.path} must return an Actor"
                f" (got {type(instance).__name__})"
            )
        instance._context = ActorContext(self)
        return instance

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

    async def _dispatch(self, instance: Actor) -> None:
        # The hottest loop in llmgine: the queue's pop and park, the envelope
        # handling of plain asks and the idle accounting are inlined here.
        queue = self.queue
        lanes = queue.lanes
        urgent, high, normal, low = lanes
        receive = instance.receive
        breaker = self.breaker
        system = self.system
        task = trio.lowlevel.current_task()
        abort = queue.abort_wait
        park = trio.lowlevel.wait_task_rescheduled
        reschedule = trio.lowlevel.reschedule
        batch = 0
        while not self._leave:
            if normal and not (urgent or high):
                item = normal.popleft()
                queue.size -= 1
                if queue.senders_waiting:
                    queue.senders.unpark()
            elif urgent or high or low:
                item = queue.pop()
            else:
                # Park until a push wakes us; the mailbox is empty.
                queue.consumer_waiting = True
                if self._active:  # self.mark_idle(), inlined
                    self._active = False
                    system._active -= 1
                    if not system._active and system._idle is not None:
                        system.activity(0)  # wakes wait_until_idle()
                queue.consumer = task
                try:
                    await park(abort)
                finally:
                    if queue.consumer_waiting:  # cancelled, or asked to stop
                        queue.consumer_waiting = False
                        self.mark_active()
                batch = 0
                continue
            self._current = item
            if type(item) is Envelope:
                if item.traced:
                    trace = item.trace
                    if trace is None or trace.sampled or item.reply is not None:
                        await handle_traced(self, item, receive)
                    else:
                        # A tell in a trace that is not sampled: pass the
                        # context on to what the handler does; record nothing.
                        # (handle_traced does the same, but its extra frame
                        # costs a sampled-at-1% workload about 15%.)
                        _tracing.live_spans += 1
                        token = current_trace.set(trace)
                        try:
                            result = await receive(item.message)
                        except Exception as exc:
                            self.handler_failed(item, exc)
                            raise
                        finally:
                            current_trace.reset(token)
                            _tracing.live_spans -= 1
                        self.settle(item, result)
                elif breaker is not None:
                    await self._handle_envelope(item, receive)
                else:
                    try:
                        result = await receive(item.message)
                    except Exception as exc:
                        self.handler_failed(item, exc)
                        raise
                    reply = item.reply
                    if reply is None or type(result) is Failure:
                        self.settle(item, result)
                    else:
                        queue.processed += 1
                        if type(result) is not Deferred:  # reply.set_value, inlined
                            reply.value = result
                            reply.is_set = True
                            asker = reply.task
                            if asker is not None:
                                reply.task = None
                                reschedule(asker)
            else:
                try:
                    result = await receive(item)
                except Exception as exc:
                    self._current = None
                    queue.failed += 1
                    self.dead_letter(item, DeadLetterReason.HANDLER_FAILED, exc)
                    if breaker is not None:
                        breaker.failure()
                    raise
                if type(result) is Failure:
                    self.failed_tell(item, result)
                else:
                    queue.processed += 1
                    if breaker is not None and type(result) is not Deferred:
                        breaker.success()
            self._current = None
            batch += 1
            if batch >= BATCH:
                batch = 0
                await trio.lowlevel.checkpoint()

    async def _handle_envelope(self, envelope: Envelope, receive: Any) -> None:
        try:
            result = await receive(envelope.message)
        except Exception as exc:
            self.handler_failed(envelope, exc)
            raise
        self.settle(envelope, result)

    def settle(self, envelope: Envelope, result: object) -> None:
        """Count a handled envelope, answer its ask, tell the breaker."""
        reply = envelope.reply
        if reply is None and type(result) is Failure:
            self.failed_tell(envelope, result)
            return
        self.queue.processed += 1
        if type(result) is Deferred:
            return
        breaker = self.breaker
        counted = breaker is not None and not (reply is not None and reply.abandoned)
        if type(result) is Failure:
            if reply is not None:
                reply.set_error(result.error)
            if counted:
                breaker.failure()  # type: ignore[union-attr]
            return
        if reply is not None:
            reply.set_value(result)
        if counted:
            breaker.success()  # type: ignore[union-attr]

    def handler_failed(self, envelope: Envelope, error: Exception) -> None:
        self._current = None
        self.queue.failed += 1
        self.dead_letter(envelope, DeadLetterReason.HANDLER_FAILED, error)
        reply = envelope.reply
        if self.breaker is not None and not (reply is not None and reply.abandoned):
            self.breaker.failure()

    def failed_tell(self, item: object, result: Failure) -> None:
        """A told message answered with Failure: nobody hears it, so file it."""
        self.queue.failed += 1
        self.dead_letter(item, DeadLetterReason.HANDLER_FAILED, result.error)
        if self.breaker is not None:
            self.breaker.failure()

    def request_exit(self) -> None:
        """Exit normally after the current message (``context.stop()``)."""
        self._exit_requested = True
        self._leave = True
        self.queue.wake_consumer()

    async def halt(self) -> None:
        """End the current incarnation gracefully, then brutally; keep the mailbox."""
        done = self._done
        if done is None or done.is_set():
            return
        self._stop_requested = True
        self._leave = True
        self.queue.wake_consumer()
        if self._sleeping and self._scope is not None:
            self._scope.cancel()
        with trio.move_on_after(self.system.shutdown_timeout):
            await done.wait()
        if not done.is_set():
            if self._scope is not None:
                self._scope.cancel()
            await done.wait()

    async def stop(self) -> None:
        """Stop for good (``ref.stop()``)."""
        if self.finalized:
            return
        self._final = True
        if trio.lowlevel.current_task() is self._task:
            self._self_stop = True
            self._stop_requested = True
            self._leave = True
            return
        await self.halt()
        await self.finalize()

    async def finalize(self) -> None:
        """Stop for good: halt, close the mailbox, dead-letter what is queued."""
        if self.finalized:
            await self._finalized.wait()
            return
        self.finalized = True
        self._final = True
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

    # -- dead letters and tracing ---------------------------------------------
    def dead_letter(
        self, item: object, reason: DeadLetterReason, error: BaseException | None
    ) -> None:
        """Send an accepted message to dead letters, failing its ask if any."""
        message = item
        if type(item) is Envelope:
            message = item.message
            reply = item.reply
            if reply is not None and not reply.is_set:
                reply.set_error(error or _reason_error(reason, self.path))
        self.queue.dead_lettered += 1
        letter = DeadLetter(
            message=message, recipient=self.path, reason=reason, error=error
        )
        self.system.dead_letters.add(letter)
        if self.traced:
            self.system.event(
                RecordKind.DEAD_LETTER,
                self.path,
                {
                    "llmgine.dead_letter.reason": reason.value,
                    "llmgine.message.type": type(message).__qualname__,
                },
                error=error,
                actor=self.path,
            )

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
            failed=queue.failed,
            dead_lettered=queue.dead_lettered,
            restarts=self.restarts,
            breaker=None if self.breaker is None else self.breaker.state,
            breaker_trips=0 if self.breaker is None else self.breaker.trips,
            running=self.running,
        )


def _reason_error(reason: DeadLetterReason, path: str) -> BaseException:
    from .._exceptions import CircuitOpenError, MailboxFull

    if reason is DeadLetterReason.CIRCUIT_OPEN:
        return CircuitOpenError(f"circuit of {path} is open")
    if reason in (DeadLetterReason.MAILBOX_FULL, DeadLetterReason.DROPPED_OLDEST):
        return MailboxFull(f"mailbox of {path} is full: message dropped")
    return ActorStopped(f"{path} stopped before handling the message")


def _sole(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
