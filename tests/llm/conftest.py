"""Shared fixtures: a recording trace sink and httpx mock clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from llmgine.tracing import TraceRecord, current_sink


class RecordingSink:
    """A TraceSink that keeps every record (what a Tracer would receive).

    ``records_content`` is the content switch as a Tracer reports it: on here,
    so the tests see what a tracer with capture on would get.
    """

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []
        self.open_spans = 0
        self.records_content = True

    def emit(self, record: TraceRecord) -> None:
        self.records.append(record)

    def start(self, system: object) -> None:
        pass

    async def run(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    """Make this test's task look like it runs inside a traced system."""
    recording = RecordingSink()
    token = current_sink.set(recording)
    yield recording
    current_sink.reset(token)


Handler = Callable[[httpx.Request], httpx.Response]


class Wire:
    """A MockTransport that answers from a list and records what was sent."""

    def __init__(self, *answers: httpx.Response | Exception | Handler) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def sse(*events: tuple[str | None, object], crlf: bool = False) -> bytes:
    """A server-sent-event body: (event name or None, JSON value or raw str)."""
    end = "\r\n" if crlf else "\n"
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {name}{end}" if name else ""
        out.append(f"{head}data: {text}{end}{end}")
    return "".join(out).encode()


def stream_response(body: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(
        status, content=body, headers={"content-type": "text/event-stream"}
    )


async def collect(events: AsyncIterator[Any]) -> list[Any]:
    return [e async for e in events]
