"""The harness the scenarios stand on: ledger, door, metrics."""

from __future__ import annotations

import functools

import pytest
import trio
import trio.testing

from llmgine.actors import Mailbox, Overflow, open_actor_system
from stress._harness import Door, Ledger
from stress._metrics import Histogram, count_tasks, recovery_time, rss_mib
from stress._run import Run, Worker


def test_ledger_classifies_every_fate() -> None:
    ledger = Ledger()
    jobs = [ledger.new() for _ in range(6)]
    ledger.done(jobs[0])  # processed
    ledger.dead(jobs[1], "handler_failed", "/s/w0")  # dead-lettered
    ledger.fates[jobs[2].seq] |= 2  # refused at the door
    ledger.done(jobs[3])
    ledger.done(jobs[3])  # processed twice
    # jobs[4]: accepted and vanished; jobs[5]: processed and dead
    ledger.done(jobs[5])
    ledger.dead(jobs[5], "actor_stopped", "/s/w1")
    ledger.dead("not a job", "mailbox_full", "/s/w0")
    audit = ledger.audit()
    assert audit.sent == 6
    assert audit.refused == 1
    assert audit.lost == 1
    assert audit.twice == 2
    assert audit.accepted == 4
    assert ledger.dead_reasons == {
        "handler_failed": 1,
        "actor_stopped": 1,
        "mailbox_full": 1,
    }
    assert ledger.dead_at["w0", "mailbox_full"] == 1


def test_ledger_flags_refused_jobs_that_got_in() -> None:
    ledger = Ledger()
    job = ledger.new()
    ledger.fates[job.seq] |= 2
    ledger.done(job)
    assert ledger.audit().contradictions == 1


async def test_door_counts_refusals_and_fates(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ledger = Ledger()
    door = Door(ledger)
    async with open_actor_system("d") as system:
        ref = await system.spawn(
            functools.partial(Worker, ledger),
            name="w",
            mailbox=Mailbox(capacity=1, overflow=Overflow.REJECT),
        )
        assert door.tell_nowait(ref)
        assert not door.tell_nowait(ref)  # full: refused, the sender keeps it
        assert not await door.tell(ref)
        await system.wait_until_idle()
        assert await door.ask(ref) == (True, 3)
        await ref.stop()
        assert not await door.tell(ref)
        ok, error = await door.ask(ref)
        assert not ok
        assert type(error).__name__ == "ActorStopped"
    await ledger.collect(system)
    audit = ledger.audit()
    assert (audit.sent, audit.processed, audit.refused, audit.lost) == (6, 2, 4, 0)
    assert door.refusals == {"MailboxFull": 2, "ActorStopped": 1}
    assert door.refused_at == {"w": 3}
    assert door.asks_failed == {"ActorStopped": 1}


def test_histogram_quantiles() -> None:
    histogram = Histogram()
    assert histogram.quantile(0.5) == 0.0
    for i in range(1, 1001):
        histogram.record(i / 1e6)  # 1 µs .. 1 ms
    histogram.record(0.0)
    assert histogram.count == 1001
    assert histogram.quantile(0.5) == pytest.approx(500e-6, rel=0.03)
    assert histogram.quantile(0.99) == pytest.approx(990e-6, rel=0.03)
    assert histogram.quantile(1.0) == pytest.approx(1e-3)
    other = Histogram()
    other.record(0.5)
    histogram.merge(other)
    assert histogram.maximum == 0.5
    assert histogram.quantile(1.0) == 0.5


def test_recovery_time() -> None:
    # 1000/s before faults at t=1..2, stalled during, back at 1000/s from t=2.5.
    samples = []
    processed = 0
    for step in range(40):
        t = step * 0.1
        if t < 1.0 or t >= 2.5:
            processed += 100
        samples.append((t, processed, 0 if t < 1.0 or t >= 2.5 else 50))
    assert recovery_time(samples, faults=(1.0, 2.0)) == pytest.approx(0.5)
    assert recovery_time(samples[:2], faults=(1.0, 2.0)) is None  # no baseline
    never = [(t, n if t < 1.0 else samples[9][1], b) for t, n, b in samples]
    assert recovery_time(never, faults=(1.0, 2.0)) is None


async def test_count_tasks_sees_children() -> None:
    before = count_tasks()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.sleep_forever)
        nursery.start_soon(trio.sleep_forever)
        await trio.testing.wait_all_tasks_blocked()
        assert count_tasks() == before + 2
        nursery.cancel_scope.cancel()
    assert count_tasks() == before


def test_rss_is_positive() -> None:
    assert rss_mib() > 0


def test_run_settings() -> None:
    run = Run("x", profile="tiny", duration=None)
    assert run.pick(1, 2, 3) == 1
    assert run.seconds(0.5, 1.0, 2.0) == 0.5
    assert Run("x", profile="full", duration=7.0).seconds(0.5, 1.0, 2.0) == 7.0
    with pytest.raises(ValueError, match="'profile' must be one of"):
        Run("x", profile="huge")
