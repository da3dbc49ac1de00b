"""Configuration without code: ``LLMGINE_TRACE``.

``LLMGINE_TRACE`` is a comma-separated list of outputs:

- ``console``: :class:`ConsoleHandler` on standard error;
- ``jsonl:PATH``: :class:`JsonlHandler` appending to ``PATH``;
- ``otel``: :class:`OtelHandler` with SDK providers built from the standard
  ``OTEL_*`` variables (see :mod:`llmgine.observability._otel_setup`).

Unset, empty, ``off`` or ``none`` means no tracer. ``open_actor_system``
calls :func:`tracer_from_env` when no tracer is passed to it.

``LLMGINE_TRACE_SAMPLE`` (a ratio from 0 to 1, default 1) is the tracer's
head sampling: the share of traces recorded (``Tracer(sample_ratio=...)``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from llmgine._exceptions import ConfigurationError
from llmgine.observability._console import ConsoleHandler
from llmgine.observability._content import capture_content_from_env
from llmgine.observability._jsonl import JsonlHandler
from llmgine.observability._otel import OtelHandler
from llmgine.observability._tracer import TraceHandler, Tracer

__all__ = ["ENV_VAR", "SAMPLE_VAR", "tracer_from_env"]

#: The variable :func:`tracer_from_env` reads.
ENV_VAR = "LLMGINE_TRACE"
#: The share of traces recorded (head sampling), from 0 to 1.
SAMPLE_VAR = "LLMGINE_TRACE_SAMPLE"
_OFF = frozenset({"", "off", "none", "0", "false"})
_EXPECTED = "a comma-separated list of 'console', 'jsonl:PATH' or 'otel'"


def _otel_handler(environ: Mapping[str, str]) -> OtelHandler:
    from llmgine.observability._otel_setup import build_providers

    tracer_provider, meter_provider = build_providers(environ)
    return OtelHandler(
        tracer_provider,
        meter_provider,
        capture_content=capture_content_from_env(environ),
        shutdown_on_close=True,
    )


def tracer_from_env(environ: Mapping[str, str] = os.environ) -> Tracer | None:
    """A :class:`Tracer` configured by ``LLMGINE_TRACE``, or None when it is off.

    Raises :class:`ConfigurationError` saying what was expected and what came
    when the value cannot be understood.
    """
    value = environ.get(ENV_VAR, "")
    if value.strip().lower() in _OFF:
        return None
    items = [item.strip() for item in value.split(",")]
    for item in items:
        name, _, argument = item.partition(":")
        name = name.strip().lower()
        if (
            (name == "console" and not argument)
            or (name == "jsonl" and argument.strip())
            or (name == "otel" and not argument)
        ):
            continue
        raise ConfigurationError(f"{ENV_VAR} must be {_EXPECTED} (got {value!r})")
    sample_ratio = _sample_ratio(environ)
    handlers: list[TraceHandler] = []
    try:
        for item in items:
            name, _, argument = item.partition(":")
            name = name.strip().lower()
            if name == "console":
                handlers.append(ConsoleHandler())
            elif name == "jsonl":
                handlers.append(_jsonl(argument.strip()))
            else:
                handlers.append(_otel_handler(environ))
    except BaseException:
        for handler in handlers:
            handler.close()
        raise
    return Tracer(handlers, sample_ratio=sample_ratio)


def _sample_ratio(environ: Mapping[str, str]) -> float:
    text = environ.get(SAMPLE_VAR, "").strip()
    if not text:
        return 1.0
    try:
        ratio = float(text)
    except ValueError:
        ratio = math.nan
    if not 0.0 <= ratio <= 1.0:
        raise ConfigurationError(
            f"{SAMPLE_VAR} must be a ratio from 0 to 1 (got {text!r})"
        )
    return ratio


def _jsonl(path: str) -> JsonlHandler:
    try:
        return JsonlHandler(path)
    except OSError as exc:
        raise ConfigurationError(
            f"{ENV_VAR}: cannot open the JSONL trace file {path!r}: {exc}"
        ) from exc
