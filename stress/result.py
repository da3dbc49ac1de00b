"""Scenario results: the figures every scenario reports and the invariants checked."""

from __future__ import annotations

from typing import Any

import attrs

from ._metrics import recovery_time
from ._run import Run

__all__ = ["ScenarioResult", "summarize"]


@attrs.frozen(kw_only=True)
class ScenarioResult:
    """What one scenario did, measured and checked.

    ``lost`` is the number of accepted messages that were neither processed nor
    dead-lettered nor still queued; it must be 0. ``failures`` lists every
    invariant that broke (empty when the scenario passed); ``warnings`` what
    looks wrong but depends on the machine (a recovery slower than the run).
    """

    name: str
    profile: str
    seed: int
    wall_s: float
    actors: int
    sent: int
    accepted: int
    refused: int
    processed: int
    dead_lettered: int
    queued: int
    lost: int
    throughput: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    restarts: int
    breaker_trips: int
    dead_letters: dict[str, int]
    leaked_tasks: int
    leaked_actors: int
    peak_rss_mib: float
    recovery_s: float | None
    failures: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        """True when every invariant held."""
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (plus ``ok``)."""
        data = attrs.asdict(self)
        data["failures"] = list(self.failures)
        data["warnings"] = list(self.warnings)
        data["ok"] = self.ok
        return data


def _breaker_trips(run: Run) -> int:
    # The runtime keeps the count on the breaker itself; ActorStatistics only
    # carries the state.
    trips = 0
    for ref in run.breakers:
        breaker = getattr(getattr(ref, "_cell", None), "breaker", None)
        trips += int(getattr(breaker, "trips", 0))
    return trips


def summarize(run: Run) -> ScenarioResult:
    """Audit a finished run and check the invariants every scenario shares.

    Reads the run without changing it.
    """
    audit = run.ledger.audit()
    totals = dict.fromkeys(
        (
            "accepted",
            "processed",
            "cancelled",
            "dead_lettered",
            "queued",
            "restarts",
            "lost",
        ),
        0,
    )
    leaked_actors = 0
    for system in run.systems:
        stats = system.statistics()
        for key in totals:
            totals[key] += getattr(stats, key)
        # A system left by an error or a cancellation skips the graceful
        # stop, so its actors stay registered (stopped); count clean exits only.
        if system in run.clean:
            leaked_actors += stats.actors
    lost = max(totals["lost"], audit.lost)
    failures = list(run.failures)  # the scenario's own; the shared ones follow

    def expect(condition: bool, text: str) -> None:
        if not condition:
            failures.append(text)

    expect(totals["lost"] == 0, f"runtime lost {totals['lost']} accepted messages")
    expect(audit.lost == 0, f"{audit.lost} accepted jobs vanished (ledger)")
    expect(totals["queued"] == 0, f"{totals['queued']} messages still queued at exit")
    expect(audit.twice == 0, f"{audit.twice} jobs handled twice or handled and dead")
    expect(audit.contradictions == 0, f"{audit.contradictions} refused jobs got in")
    if run.door_checks:
        # An ask whose asker gave up is processed as "cancelled": its handler
        # was cancelled (or never ran), so no worker recorded it.
        cancelled = totals["cancelled"]
        expect(
            audit.accepted + cancelled == totals["accepted"],
            f"the door saw {audit.accepted} accepted and {cancelled} cancelled,"
            f" the runtime {totals['accepted']} accepted",
        )
        expect(
            audit.processed == totals["processed"] - cancelled,
            f"workers handled {audit.processed}, the runtime counted"
            f" {totals['processed']} processed of which {cancelled} cancelled",
        )
        expect(
            audit.dead == totals["dead_lettered"],
            f"{audit.dead} jobs in dead letters, the runtime counted"
            f" {totals['dead_lettered']}",
        )
    expect(run.leaked_tasks == 0, f"{run.leaked_tasks} tasks leaked")
    expect(leaked_actors == 0, f"{leaked_actors} actors still registered at exit")
    recovery = None
    warnings = []
    if run.faults is not None:
        recovery = recovery_time(run.samples, faults=run.faults)
        if recovery is None:
            # Timing depends on the machine: reported, not an invariant.
            warnings.append("throughput did not visibly recover before the run ended")
    load = run.load_seconds or run.wall
    latency = run.ledger.latency
    return ScenarioResult(
        name=run.name,
        profile=run.profile,
        seed=run.seed,
        wall_s=round(run.wall, 3),
        actors=int(run.extra.get("actors", 0)),
        sent=audit.sent,
        accepted=totals["accepted"],
        # A cancelled ask is in the ledger as "unsure, never handled", the
        # same as a refused one; the runtime counted it in: not refused.
        refused=audit.refused - totals["cancelled"],
        processed=totals["processed"],
        dead_lettered=totals["dead_lettered"],
        queued=totals["queued"],
        lost=lost,
        throughput=round(run.ledger.processed / load, 1) if load > 0 else 0.0,
        p50_ms=round(latency.quantile(0.5) * 1e3, 3),
        p99_ms=round(latency.quantile(0.99) * 1e3, 3),
        p999_ms=round(latency.quantile(0.999) * 1e3, 3),
        restarts=totals["restarts"],
        breaker_trips=_breaker_trips(run),
        dead_letters=dict(sorted(run.ledger.dead_reasons.items())),
        leaked_tasks=run.leaked_tasks,
        leaked_actors=leaked_actors,
        peak_rss_mib=round(run.peak_rss, 1),
        recovery_s=None if recovery is None else round(recovery, 3),
        failures=tuple(failures),
        warnings=tuple(warnings),
        extra={k: v for k, v in run.extra.items() if k != "actors"},
    )
