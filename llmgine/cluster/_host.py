"""The node's side: an actor system on trio in a thread of a Ray actor's process.

:class:`NodeServer` is the Ray actor (a threaded one: each Ray call runs in a
worker thread and crosses into trio with :func:`trio.from_thread.run`).
:class:`Host` lives in the trio thread and does the work: it spawns actors,
puts delivered messages in their mailboxes, and reports back in snapshots
what the driver needs to keep its books (see :data:`Snapshot`).

What a node reports per actor is cumulative within one incarnation of the
node: how many told messages left the mailbox settled (processed or
dead-lettered), and the cell's own counters. An ask is tracked one by one by
its envelope: it is reported answered the moment its envelope is set, which
happens in the same step as the cell's counters move, so the books of a
snapshot always add up.
"""

from __future__ import annotations

import collections
import os
import pickle
import threading
from typing import Any

import trio

from .._exceptions import ActorStopped, ConfigurationError, LLMgineError
from ..actors import ActorRef, open_actor_system
from ..actors._dead_letters import DeadLetter
from ..actors._envelope import Envelope
from ..tracing import SAMPLE_ALL, TraceRecord, current_trace

__all__ = ["ASK", "CANCEL", "TELL", "Host", "NodeServer", "Snapshot"]

#: Item kinds in a delivered batch: ``(kind, actor_id, seq, lane, message, trace)``.
#: ``CANCEL``: the asker of ask ``seq`` gave up (its message and trace are None).
TELL = 0
ASK = 1
CANCEL = 2

#: ``(counts, answers, letters, refused, traces)``: ``counts`` rows are
#: ``(actor_id, tells_settled, processed, dead_lettered, failed, restarts,
#: cancelled)``; ``answers`` ``(actor_id, seq, ok, value_or_error)``;
#: ``letters`` ``(actor_id, message, reason, error)``; ``refused``
#: ``(actor_id, seq, is_ask, error)``.
Snapshot = tuple[list[Any], list[Any], list[Any], list[Any], list[TraceRecord]]

_TICK = 0.0005  # how often a node with told work in hand checks its counters
_ASK_LINGER = 0.002  # a delivery with asks waits this long for their answers
_TRACE_CAPACITY = 10_000


class _ForwardSink:
    """A node's tracer: it keeps records for the driver, who hands them on."""

    def __init__(self, host: Host, sample_bound: int) -> None:
        self.open_spans = 0
        self.sample_bound = sample_bound
        self.records: collections.deque[TraceRecord] = collections.deque(
            maxlen=_TRACE_CAPACITY
        )
        self.dropped = 0
        self._host = host

    def emit(self, record: TraceRecord) -> None:
        if len(self.records) == _TRACE_CAPACITY:
            self.dropped += 1
        self.records.append(record)
        self._host.news()

    def start(self, system: object) -> None:
        """Nothing to attach: records leave with the next snapshot."""

    async def run(self) -> None:
        await trio.sleep_forever()

    async def aclose(self) -> None:
        """Nothing to flush: the final snapshot takes what is left."""


class _Hosted:
    """One actor this node runs for the driver."""

    __slots__ = ("asks", "asks_settled", "cell", "id", "ref", "reported", "tells_in")

    def __init__(self, actor_id: int, ref: ActorRef) -> None:
        self.id = actor_id
        self.ref = ref
        self.cell = ref._cell
        self.asks: dict[int, Envelope] = {}
        self.asks_settled = 0
        self.tells_in = 0
        self.reported = -1

    def settled(self) -> int:
        queue = self.cell.queue
        return queue.processed + queue.dead_lettered


def _portable(value: object) -> object:
    """``value`` if it pickles, else an error saying it could not come back."""
    try:
        pickle.dumps(value, 5)
    except Exception:
        if isinstance(value, BaseException):
            return LLMgineError(f"{type(value).__qualname__}: {value}")
        return ConfigurationError(f"the answer {value!r} does not pickle")
    return value


class Host:
    """The node's actor system and its books (used in the trio thread only)."""

    def __init__(self, name: str, sample_bound: int | None) -> None:
        self.name = name
        self.actors: dict[int, _Hosted] = {}
        self.paths: dict[str, int] = {}
        self.letters: list[Any] = []
        self.refused: list[Any] = []
        self.sink = None if sample_bound is None else _ForwardSink(self, sample_bound)
        self.system: Any = None
        self._nursery: trio.Nursery | None = None
        self._news = trio.Event()
        self._answered = trio.Event()
        self._lingering = 0  # deliveries waiting for their asks' answers
        self._closing = trio.Event()

    async def main(self, ready: threading.Event) -> None:
        # The waiters of asks outlive the system: stopping it settles every
        # ask (answered or dead-lettered), and each waiter reports its own.
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            async with open_actor_system(self.name, tracer=self.sink) as system:
                self.system = system
                system.dead_letters._on_letter = self._on_letter
                ready.set()
                await self._closing.wait()
            nursery.cancel_scope.cancel()

    def news(self) -> None:
        """Wake a waiting poll."""
        self._news.set()

    def _on_letter(self, letter: DeadLetter) -> None:
        self.letters.append(
            (
                self.paths.get(letter.recipient),
                letter.message,
                letter.reason.value,
                None if letter.error is None else _portable(letter.error),
            )
        )
        self._news.set()

    async def spawn(
        self, actor_id: int, factory: Any, args: tuple[Any, ...], options: dict[str, Any]
    ) -> BaseException | None:
        try:
            ref = await self.system.spawn(factory, *args, **options)
        except Exception as exc:
            return _portable(exc)  # type: ignore[return-value]
        self.actors[actor_id] = _Hosted(actor_id, ref)
        self.paths[ref.path] = actor_id
        return None

    async def stop_actor(self, actor_id: int) -> Snapshot:
        hosted = self.actors.get(actor_id)
        if hosted is not None:
            await hosted.ref.stop()
        return self.snapshot()

    async def deliver(self, batch: list[Any]) -> Snapshot | None:
        asks: list[Envelope] = []
        actors = self.actors
        for kind, actor_id, seq, lane, message, trace in batch:
            hosted = actors.get(actor_id)
            if kind == CANCEL:
                # As a local ask whose asker gave up: a queued message is
                # skipped, one being handled is cancelled; either way it is
                # settled (cancelled) and its envelope answered in that step.
                if hosted is not None:
                    envelope = hosted.asks.get(seq)
                    if envelope is not None and not envelope.is_set:
                        hosted.cell.abandon(envelope)
                continue
            if hosted is None:
                error = ActorStopped(f"actor {actor_id} is not on node {self.name}")
                self.refused.append((actor_id, seq, kind == ASK, error))
                continue
            cell = hosted.cell
            if kind == TELL:
                token = None if trace is None else current_trace.set(trace)
                try:
                    cell.offer_nowait(message, lane)
                    hosted.tells_in += 1
                except LLMgineError as exc:
                    self.refused.append((actor_id, seq, False, exc))
                finally:
                    if token is not None:
                        current_trace.reset(token)
                continue
            envelope = Envelope(message, trace, cell.traced, cell)
            try:
                cell.offer_nowait(envelope, lane, envelope)
            except LLMgineError as exc:
                self.refused.append((actor_id, seq, True, exc))
                continue
            hosted.asks[seq] = envelope
            asks.append(envelope)
            if not envelope.is_set:
                assert self._nursery is not None
                self._nursery.start_soon(self._wait_answer, envelope)
        self._news.set()
        if not asks:
            return None
        # The answers go back in this call's reply: meanwhile the poll holds
        # back (one Ray call per ask, not two).
        self._lingering += 1
        try:
            with trio.move_on_after(_ASK_LINGER):
                while not all(envelope.is_set for envelope in asks):
                    self._answered = trio.Event()
                    await self._answered.wait()
        finally:
            self._lingering -= 1
            self._news.set()
        return self.snapshot()

    async def _wait_answer(self, envelope: Envelope) -> None:
        if not envelope.is_set:
            envelope.task = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(envelope._abort)
        self._answered.set()
        self._news.set()

    def _has_news(self) -> bool:
        if self._lingering:
            return False
        if self.letters or self.refused or (self.sink and self.sink.records):
            return True
        return any(h.settled() != h.reported for h in self.actors.values())

    def _told_in_hand(self) -> bool:
        """Whether some told message is not settled yet (asks wake the poll)."""
        for hosted in self.actors.values():
            answered = hosted.asks_settled
            if hosted.asks:
                answered += sum(1 for e in hosted.asks.values() if e.is_set)
            if hosted.tells_in + answered > hosted.settled():
                return True
        return False

    async def poll(self, timeout: float) -> Snapshot:
        """A snapshot as soon as there is news, or after ``timeout`` (a heartbeat)."""
        with trio.move_on_after(timeout):
            while not self._has_news():
                if self._told_in_hand():
                    await trio.sleep(_TICK)
                else:
                    self._news = trio.Event()
                    await self._news.wait()
        return self.snapshot()

    def snapshot(self) -> Snapshot:
        """Take everything new since the last snapshot (trio thread, no waiting)."""
        counts: list[Any] = []
        answers: list[Any] = []
        for hosted in self.actors.values():
            asks = hosted.asks
            if asks:
                done = [seq for seq, envelope in asks.items() if envelope.is_set]
                for seq in done:
                    envelope = asks.pop(seq)
                    error = envelope.error
                    if error is None:
                        answers.append((hosted.id, seq, True, _portable(envelope.value)))
                    else:
                        answers.append((hosted.id, seq, False, _portable(error)))
                hosted.asks_settled += len(done)
            queue = hosted.cell.queue
            settled = queue.processed + queue.dead_lettered
            hosted.reported = settled
            counts.append(
                (
                    hosted.id,
                    settled - hosted.asks_settled,
                    queue.processed,
                    queue.dead_lettered,
                    queue.failed,
                    hosted.cell.restarts,
                    queue.cancelled,
                )
            )
        letters, self.letters = self.letters, []
        refused, self.refused = self.refused, []
        traces: list[TraceRecord] = []
        if self.sink is not None and self.sink.records:
            traces = list(self.sink.records)
            self.sink.records.clear()
        return counts, answers, letters, refused, traces

    def close(self) -> None:
        self._closing.set()


class NodeServer:
    """The Ray actor of a node: a process hosting an actor system on trio.

    Made with ``ray.remote(NodeServer).options(max_restarts=0, ...)``: the
    driver, not Ray, decides about restarts.
    """

    def __init__(self, name: str, sample_bound: int | None = SAMPLE_ALL) -> None:
        self.host = Host(name, sample_bound)
        ready = threading.Event()
        self.thread = threading.Thread(
            target=self._run, args=(ready,), name=f"llmgine-node-{name}", daemon=True
        )
        self.token: trio.lowlevel.TrioToken | None = None
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.final: Snapshot | None = None
        self.thread.start()
        ready.wait()
        if self.error is not None:
            raise self.error

    def _run(self, ready: threading.Event) -> None:
        async def main() -> None:
            self.token = trio.lowlevel.current_trio_token()
            await self.host.main(ready)
            self.final = self.host.snapshot()

        try:
            trio.run(main)
        except BaseException as exc:  # pragma: no cover - reported to the driver
            self.error = exc
        finally:
            ready.set()
            self.finished.set()

    def pid(self) -> int:
        """The id of this node's process."""
        return os.getpid()

    def spawn(
        self, actor_id: int, factory: Any, args: tuple[Any, ...], options: dict[str, Any]
    ) -> BaseException | None:
        """Start an actor; the error the local spawn raised, or None."""
        return trio.from_thread.run(
            self.host.spawn, actor_id, factory, args, options, trio_token=self.token
        )

    def deliver(self, batch: list[Any]) -> Snapshot | None:
        """Put a batch of messages in their mailboxes."""
        return trio.from_thread.run(self.host.deliver, batch, trio_token=self.token)

    def poll(self, timeout: float) -> Snapshot:
        """The next snapshot (also the driver's heartbeat)."""
        return trio.from_thread.run(self.host.poll, timeout, trio_token=self.token)

    def stop_actor(self, actor_id: int) -> Snapshot:
        """Stop one actor for good."""
        return trio.from_thread.run(self.host.stop_actor, actor_id, trio_token=self.token)

    def shutdown(self, timeout: float) -> Snapshot | None:
        """Stop the node's actor system; the last snapshot."""
        trio.from_thread.run_sync(self.host.close, trio_token=self.token)
        self.finished.wait(timeout)
        return self.final
