"""A hypothesis state machine: the mailbox against a reference model.

The actor is not running: the machine drives the queue the ref owns directly
(``tell_nowait`` is synchronous), so every interleaving of sends and takes under
every overflow policy is checked against a plain-list model.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from llmgine.actors import (
    Actor,
    DeadLetterReason,
    Mailbox,
    MailboxFull,
    Overflow,
    Priority,
    Restart,
)
from llmgine.actors._cell import Cell
from llmgine.actors._supervisor import ChildSpec, OneForOne
from llmgine.actors._system import ActorSystem


class MailboxMachine(RuleBasedStateMachine):
    """Sends, takes and overflow against a model of four FIFO lanes."""

    @initialize(
        capacity=st.integers(1, 6),
        overflow=st.sampled_from(list(Overflow)),
    )
    def setup(self, capacity: int, overflow: Overflow) -> None:
        self.system = ActorSystem(
            "m", tracer=None, store=None, shutdown_timeout=1.0, strategy=OneForOne()
        )
        spec = ChildSpec(
            name="a",
            factory=Actor,
            mailbox=Mailbox(capacity=capacity, overflow=overflow),
            restart=Restart.PERMANENT,
            breaker=None,
        )
        self.cell = Cell(self.system, self.system.root, spec)
        self.ref = self.cell.ref
        self.capacity = capacity
        self.overflow = overflow
        self.model: list[list[int]] = [[], [], [], []]
        self.next_id = 0
        self.refused = 0
        self.taken: list[int] = []
        self.dropped: list[tuple[int, DeadLetterReason]] = []

    def _bounded(self) -> int:
        return sum(len(lane) for lane in self.model[1:])

    @rule(priority=st.sampled_from(list(Priority)))
    def send(self, priority: Priority) -> None:
        message = self.next_id
        self.next_id += 1
        full = priority is not Priority.SYSTEM and self._bounded() >= self.capacity
        try:
            self.ref.tell_nowait(message, priority=priority)
        except MailboxFull:
            assert full
            assert self.overflow in (Overflow.BACKPRESSURE, Overflow.REJECT)
            self.refused += 1
            return
        if not full:
            self.model[priority].append(message)
            return
        if self.overflow is Overflow.DROP_OLDEST:
            for lane in (3, 2, 1):
                if lane >= priority and self.model[lane]:
                    victim = self.model[lane].pop(0)
                    self.dropped.append((victim, DeadLetterReason.DROPPED_OLDEST))
                    self.model[priority].append(message)
                    return
        self.dropped.append((message, DeadLetterReason.MAILBOX_FULL))

    @rule()
    def take(self) -> None:
        item = self.cell.queue.pop()
        expected = next((lane[0] for lane in self.model if lane), None)
        assert item == expected
        if item is not None:
            for lane in self.model:
                if lane and lane[0] == item:
                    lane.pop(0)
                    break
            self.taken.append(item)  # type: ignore[arg-type]
            self.cell.queue.processed += 1

    @invariant()
    def matches_the_model(self) -> None:
        if not hasattr(self, "cell"):
            return
        queue = self.cell.queue
        assert [list(lane or ()) for lane in queue.lanes] == self.model
        assert queue.size == self._bounded() <= self.capacity
        letters = [(x.message, x.reason) for x in self.system.dead_letters.list()]
        assert letters == self.dropped

    @invariant()
    def nothing_is_lost(self) -> None:
        if not hasattr(self, "cell"):
            return
        stats = self.ref.statistics()
        assert stats.accepted + self.refused == self.next_id
        assert stats.accepted == stats.processed + stats.dead_lettered + stats.queued

    def teardown(self) -> None:
        if hasattr(self, "cell"):
            self.cell.close()
            stats = self.ref.statistics()
            assert stats.queued == 0
            assert stats.accepted == stats.processed + stats.dead_lettered


TestMailboxMachine = MailboxMachine.TestCase
TestMailboxMachine.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None
)
