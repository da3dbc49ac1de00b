"""A remote ref joins the caller's OpenTelemetry trace, as a local ref does.

The node runs in this process (``fake_ray``); its records travel back to the
driver's tracer, whose ``OtelHandler`` exports them with a real SDK
``TracerProvider`` and an in-memory exporter.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import trio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from llmgine.actors import open_actor_system
from llmgine.cluster import RayCluster
from llmgine.observability import OtelHandler, Tracer

from .actors import Add, Counter, Get
from .fake_ray import FakeRay

LIMIT = 20.0


@pytest.fixture
def ray(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRay]:
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    yield fake
    fake.join()


async def test_remote_tells_and_asks_join_the_callers_span(ray: FakeRay) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    meters = MeterProvider()
    tracer = Tracer([OtelHandler(provider, meters)])
    app = provider.get_tracer("app")
    with trio.fail_after(LIMIT):
        cluster = RayCluster()
        async with open_actor_system("app", tracer=tracer, cluster=cluster) as system:
            node = await system.spawn_node("n1")
            ref = await node.spawn(Counter, name="c")
            with app.start_as_current_span("http-request") as outer:
                await ref.tell(Add(2))
                assert await ref.ask(Get(), timeout=LIMIT) == 2
            assert await ref.ask(Get(), timeout=LIMIT) == 2  # outside: a trace of its own
    provider.shutdown()
    meters.shutdown()
    request = outer.get_span_context()
    spans = exporter.get_finished_spans()
    joined = [
        s
        for s in spans
        if s.context is not None
        and s.context.trace_id == request.trace_id
        and s.name != "http-request"
    ]
    assert len(joined) == 2, [s.name for s in spans]  # the tell's and the ask's
    for span in joined:
        assert span.parent is not None
        assert span.parent.span_id == request.span_id
        assert span.attributes is not None
        assert "/n1/c" in str(dict(span.attributes).values())
    others = [s for s in spans if s.context.trace_id != request.trace_id]
    assert others, "an ask outside the span is traced on its own"
