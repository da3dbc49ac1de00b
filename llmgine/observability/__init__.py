"""Observability: the tracer and its handlers (console, JSON Lines, OpenTelemetry).

The runtime and the layers above it hand :class:`TraceRecord` copies to a
:class:`Tracer` through a non-blocking side channel; the tracer delivers them
in batches to its handlers. Importing this package never imports
OpenTelemetry: :class:`OtelHandler` needs the ``llmgine[otel]`` extra only
when it is constructed.
"""

from llmgine.observability._config import tracer_from_env as tracer_from_env
from llmgine.observability._console import ConsoleHandler as ConsoleHandler
from llmgine.observability._jsonl import JsonlHandler as JsonlHandler
from llmgine.observability._jsonl import read_jsonl as read_jsonl
from llmgine.observability._otel import OtelHandler as OtelHandler
from llmgine.observability._redact import redact as redact
from llmgine.observability._redact import redact_record as redact_record
from llmgine.observability._tracer import TraceHandler as TraceHandler
from llmgine.observability._tracer import Tracer as Tracer
from llmgine.observability._tracer import TracerStatistics as TracerStatistics
from llmgine.tracing import RecordKind as RecordKind
from llmgine.tracing import TraceContext as TraceContext
from llmgine.tracing import TraceRecord as TraceRecord
from llmgine.tracing import traced as traced

__all__ = [
    "ConsoleHandler",
    "JsonlHandler",
    "OtelHandler",
    "RecordKind",
    "TraceContext",
    "TraceHandler",
    "TraceRecord",
    "Tracer",
    "TracerStatistics",
    "read_jsonl",
    "redact",
    "redact_record",
    "traced",
    "tracer_from_env",
]
