"""Records and a recording handler for the observability tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from llmgine.tracing import RecordKind, TraceRecord

_ids = itertools.count(1)


def make_record(
    kind: RecordKind = RecordKind.CUSTOM,
    name: str = "work",
    *,
    trace_id: str = "0" * 31 + "1",
    span_id: str | None = None,
    parent_id: str | None = None,
    at: float = 1_700_000_000.25,
    duration: float | None = 0.002,
    actor: str | None = None,
    error: str | None = None,
    error_type: str | None = None,
    attributes: dict[str, object] | None = None,
) -> TraceRecord:
    """A record with sensible defaults and a fresh span id."""
    return TraceRecord(
        kind=kind,
        name=name,
        trace_id=trace_id,
        span_id=span_id or f"{next(_ids):016x}",
        parent_id=parent_id,
        at=at,
        duration=duration,
        actor=actor,
        error=error,
        error_type=error_type,
        attributes=attributes or {},
    )


class ListHandler:
    """Keeps every batch it is handed."""

    def __init__(self) -> None:
        self.batches: list[list[TraceRecord]] = []
        self.closed = 0

    @property
    def records(self) -> list[TraceRecord]:
        return [r for batch in self.batches for r in batch]

    def handle(self, records: Sequence[TraceRecord]) -> None:
        self.batches.append(list(records))

    def close(self) -> None:
        self.closed += 1
