"""The stress harness: numbered jobs, a ledger of their fates, a counting door.

Every message a scenario sends is a :class:`Job` with a sequence number, sent
through the :class:`Door`. The ledger records what became of each one: refused
at the door, processed (by the actor that handled it) or dead-lettered (read
back from the system's dead letters). At the end every accepted job must have
exactly one fate: that is the "nothing lost" invariant, checked per message on
top of the runtime's own ``accepted == processed + dead_lettered + queued``.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import attrs
import trio

from llmgine.actors import (
    ActorRef,
    ActorStopped,
    ActorSystem,
    MailboxFull,
    Priority,
)

from ._metrics import Histogram

__all__ = ["Door", "Job", "Ledger"]

# Fates, as bits of one byte per job.
SENT, REFUSED, UNSURE, PROCESSED, DEAD, TWICE = 1, 2, 4, 8, 16, 32


@attrs.frozen(slots=True)
class Job:
    """The one message type of the suite: a number, a send time, a payload."""

    seq: int
    sent_at: float
    payload: Any = None


class Ledger:
    """One byte of fate per job, plus the latency of every processed job."""

    __slots__ = ("dead_at", "dead_reasons", "fates", "latency", "processed")

    def __init__(self) -> None:
        self.fates = bytearray()
        self.latency = Histogram()
        self.processed = 0
        self.dead_reasons: Counter[str] = Counter()
        self.dead_at: Counter[tuple[str, str]] = Counter()  # (actor name, reason)

    def new(self, payload: Any = None) -> Job:
        """Number a new job."""
        fates = self.fates
        seq = len(fates)
        fates.append(SENT)
        return Job(seq, time.perf_counter(), payload)

    def done(self, job: Job | Any) -> None:
        """An actor handled ``job`` (returned from ``receive``)."""
        fates = self.fates
        fate = fates[job.seq]
        fates[job.seq] = fate | (TWICE if fate & PROCESSED else PROCESSED)
        self.processed += 1
        self.latency.record(time.perf_counter() - job.sent_at)

    def dead(self, message: object, reason: str, recipient: str = "") -> None:
        """``message`` came back from the dead letters."""
        self.dead_reasons[reason] += 1
        self.dead_at[recipient.rpartition("/")[2], reason] += 1
        seq = getattr(message, "seq", None)  # a Job, or a scenario's tracked message
        if type(seq) is int and 0 <= seq < len(self.fates):
            fates = self.fates
            fate = fates[seq]
            fates[seq] = fate | (TWICE if fate & (DEAD | PROCESSED) else DEAD)

    async def collect(self, system: ActorSystem) -> None:
        """Drain the system's dead letters into the ledger (keeps memory flat)."""
        for letter in await system.dead_letters.drain():
            self.dead(letter.message, letter.reason.value, letter.recipient)

    def audit(self) -> LedgerAudit:
        """Classify every job by its fate."""
        counts = Counter(self.fates)
        lost = twice = contradictions = refused = processed = dead = accepted = 0
        for fate, n in counts.items():
            if fate & (PROCESSED | DEAD):
                accepted += n
            if fate & TWICE or (fate & PROCESSED and fate & DEAD):
                twice += n
            if fate & REFUSED and fate & (PROCESSED | DEAD):
                contradictions += n
            if fate & PROCESSED:
                processed += n
            if fate & DEAD:
                dead += n
            if not fate & (PROCESSED | DEAD):
                if fate & (REFUSED | UNSURE):
                    refused += n
                else:
                    lost += n
        return LedgerAudit(
            sent=len(self.fates),
            accepted=accepted,
            refused=refused,
            processed=processed,
            dead=dead,
            lost=lost,
            twice=twice,
            contradictions=contradictions,
        )


@attrs.frozen(kw_only=True)
class LedgerAudit:
    """What became of every job a scenario sent."""

    sent: int
    accepted: int  # got into a mailbox: processed or dead-lettered
    refused: int  # never accepted: the sender got MailboxFull / ActorStopped / ...
    processed: int
    dead: int
    lost: int  # accepted (no error at the door) yet neither processed nor dead
    twice: int  # processed twice, or both processed and dead-lettered
    contradictions: int  # the sender was told "refused" but the job got in


class Door:
    """Sends jobs and counts what the runtime accepted or refused at the door."""

    __slots__ = ("asks_failed", "ledger", "refusals", "refused_at")

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.refusals: Counter[str] = Counter()  # by exception type
        self.refused_at: Counter[str] = Counter()  # by actor name
        self.asks_failed: Counter[str] = Counter()

    def _refused(self, job: Job, exc: Exception, ref: ActorRef) -> None:
        self.ledger.fates[job.seq] |= REFUSED
        self.refusals[type(exc).__name__] += 1
        self.refused_at[ref.name] += 1

    async def tell(
        self, ref: ActorRef, payload: Any = None, *, priority: Priority = Priority.NORMAL
    ) -> bool:
        """``ref.tell`` a new job; False if it was refused at the door."""
        job = self.ledger.new(payload)
        try:
            await ref.tell(job, priority=priority)
        except (MailboxFull, ActorStopped) as exc:
            self._refused(job, exc, ref)
            return False
        except trio.Cancelled:
            # Cancelled while waiting for space (not in) or at the checkpoint
            # after the push (in): the ledger sees which.
            self.ledger.fates[job.seq] |= UNSURE
            raise
        return True

    def tell_nowait(self, ref: ActorRef, payload: Any = None) -> bool:
        """``ref.tell_nowait`` a new job; False if it was refused at the door."""
        job = self.ledger.new(payload)
        try:
            ref.tell_nowait(job)
        except (MailboxFull, ActorStopped) as exc:
            self._refused(job, exc, ref)
            return False
        return True

    async def ask(
        self, ref: ActorRef, payload: Any = None, *, timeout: float | None = None
    ) -> tuple[bool, Any]:
        """``ref.ask`` a new job: ``(True, answer)`` or ``(False, error)``.

        An error may come before the job got in (open circuit, full mailbox) or
        after (handler error, timeout); the ledger tells which afterwards.
        """
        job = self.ledger.new(payload)
        try:
            answer = await ref.ask(job, timeout=timeout)
        except trio.Cancelled:
            self.ledger.fates[job.seq] |= UNSURE
            raise
        except Exception as exc:
            self.ledger.fates[job.seq] |= UNSURE
            self.asks_failed[type(exc).__name__] += 1
            return False, exc
        return True, answer
