"""The content switch: prompts and completions reach traces only on opt-in.

Spans of LLM calls can carry what was said (``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.system_instructions``, tool arguments
and results). That text is the user's data, so it is off by default, for
every handler alike. One switch turns it on:

- ``Tracer(..., capture_content=True)``: for every handler of that tracer;
- ``capture_content=True`` on one handler (``ConsoleHandler``,
  ``JsonlHandler``, ``OtelHandler``, or any handler with that attribute): for
  that handler only;
- ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`` in the
  environment: for every tracer made afterwards.

The :class:`~llmgine.observability.Tracer` applies it: a handler that may not
see content gets records without those attributes. When nobody may see it,
providers do not attach it at all, so the switch off costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from llmgine.tracing import TraceRecord

__all__ = [
    "CAPTURE_CONTENT_ENV",
    "CONTENT_ATTRIBUTES",
    "capture_content_from_env",
    "handler_captures",
    "without_content",
]

#: The standard switch that turns message content capture on.
CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

#: The attributes that hold what was said, as the GenAI conventions name them.
CONTENT_ATTRIBUTES = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    }
)
_TRUE = frozenset({"true", "1", "yes", "on"})


def capture_content_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the standard content-capture variable is set to a true value."""
    return environ.get(CAPTURE_CONTENT_ENV, "").strip().lower() in _TRUE


def handler_captures(handler: object) -> bool:
    """Whether ``handler`` asked for content itself (``capture_content=True``)."""
    return getattr(handler, "capture_content", False) is True


def without_content(record: TraceRecord) -> TraceRecord:
    """``record`` without its content attributes (itself when it has none)."""
    attributes = record.attributes
    if not attributes or CONTENT_ATTRIBUTES.isdisjoint(attributes):
        return record
    kept = {k: v for k, v in attributes.items() if k not in CONTENT_ATTRIBUTES}
    return attrs.evolve(record, attributes=kept)
