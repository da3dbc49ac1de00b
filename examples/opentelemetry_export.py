"""OpenTelemetry export: GenAI spans and metrics from an actor system.

An ``OtelHandler`` turns llmgine's trace records into OpenTelemetry spans that
follow the GenAI semantic conventions (``invoke_agent``, ``chat {model}``,
``execute_tool {name}``, actor messages in between) and records the
``gen_ai.client.token.usage`` and ``gen_ai.client.operation.duration``
histograms. Needs the ``otel`` extra: ``pip install 'llmgine[otel]'``.

Offline, spans go to the SDK's console exporter (one line each here) and
metrics to an in-memory reader. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set (and
``opentelemetry-exporter-otlp`` installed) everything goes over OTLP instead,
configured by the standard ``OTEL_*`` variables, as ``LLMGINE_TRACE=otel`` does.

Run: python examples/opentelemetry_export.py
"""

from __future__ import annotations

import os

import trio
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from llmgine import open_actor_system
from llmgine.engines import ChatEngine, UserInput
from llmgine.llm import LLMResponse, Message, ScriptedProvider, ToolCallPart, Usage
from llmgine.observability import OtelHandler, Tracer, tracer_from_env
from llmgine.tools import ToolRegistry, tool


@tool
def lookup(term: str) -> str:
    """Look a term up in the glossary.

    Args:
        term: The term.
    """
    return f"{term}: a unit of work handled by one actor at a time"


def one_line(span: ReadableSpan) -> str:
    """A compact console line per span (the SDK's default is a page of JSON)."""
    parent = f"{span.parent.span_id:016x}"[:8] if span.parent else "root    "
    usage = span.attributes or {}
    tokens = ""
    if "gen_ai.usage.input_tokens" in usage:
        tokens = (
            f" in={usage['gen_ai.usage.input_tokens']!s}"
            f" out={usage['gen_ai.usage.output_tokens']!s}"
        )
    kind = span.kind.name.lower()
    own = f"{span.context.span_id:016x}"[:8] if span.context else "?"
    return f"  span {own} <- {parent} {kind:<8} {span.name}{tokens}\n"


async def run_chat(tracer: Tracer) -> None:
    model = ScriptedProvider(
        [
            LLMResponse(
                message=Message(
                    role="assistant",
                    parts=[
                        ToolCallPart(id="c1", name="lookup", arguments={"term": "actor"})
                    ],
                ),
                usage=Usage(input_tokens=30, output_tokens=8),
            ),
            LLMResponse(
                message=Message.assistant("An actor handles one message at a time."),
                usage=Usage(input_tokens=52, output_tokens=11),
            ),
        ]
    )
    async with open_actor_system("otel-demo", tracer=tracer) as system:
        engine = await system.spawn(
            ChatEngine,
            model,
            name="assistant",
            model="scripted-model",
            tools=ToolRegistry([lookup]),
        )
        result = await engine.ask(UserInput("What is an actor?"), timeout=10)
        print("reply:", result.text)
    # the system drained the tracer and closed its handlers on exit


async def main() -> None:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        tracer = tracer_from_env({**os.environ, "LLMGINE_TRACE": "otel"})
        assert tracer is not None
        print("exporting over OTLP to", os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
        await run_chat(tracer)
        return
    resource = Resource.create({"service.name": "llmgine-example"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(ConsoleSpanExporter(formatter=one_line))
    )
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], resource=resource)
    print("spans, as the console exporter prints them:")
    await run_chat(Tracer([OtelHandler(tracer_provider, meter_provider)]))
    print("metrics:")
    data = reader.get_metrics_data()
    for resource_metrics in data.resource_metrics if data else ():
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    labels = dict(point.attributes or {})
                    detail = labels.get(
                        "gen_ai.token.type", labels.get("gen_ai.operation.name")
                    )
                    count = getattr(point, "count", "?")
                    total = getattr(point, "sum", getattr(point, "value", 0))
                    print(f"  {metric.name} [{detail}] count={count} sum={total:g}")
    tracer_provider.shutdown()
    meter_provider.shutdown()


if __name__ == "__main__":
    trio.run(main)
