"""A minimal tracer for the cluster tests: keeps every record it is handed."""

from __future__ import annotations

from typing import Any

import trio


class ListSink:
    """A minimal tracer: keeps every record."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.open_spans = 0

    def emit(self, record: Any) -> None:
        self.records.append(record)

    def start(self, system: object) -> None:
        pass

    async def run(self) -> None:
        await trio.sleep_forever()

    async def aclose(self) -> None:
        pass
