"""The public surface of llmgine.observability, and life without OpenTelemetry."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

import llmgine.observability
from llmgine import tracing as _tracing
from llmgine._exceptions import ConfigurationError

PUBLIC = {
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
}


def test_public_names_are_exactly_these() -> None:
    assert set(llmgine.observability.__all__) == PUBLIC
    exported = {n for n in dir(llmgine.observability) if not n.startswith("_")}
    assert exported == PUBLIC


def test_record_types_are_the_runtime_ones() -> None:
    assert llmgine.observability.TraceRecord is _tracing.TraceRecord
    assert llmgine.observability.RecordKind is _tracing.RecordKind
    assert llmgine.observability.traced is _tracing.traced


def test_a_tracer_is_what_the_runtime_takes() -> None:
    sink: _tracing.TraceSink = llmgine.observability.Tracer([])  # checked by mypy
    assert callable(sink.emit)


def test_every_public_name_has_a_docstring() -> None:
    for name in PUBLIC:
        assert getattr(llmgine.observability, name).__doc__, name


def test_importing_the_package_does_not_import_opentelemetry() -> None:
    code = textwrap.dedent(
        """
        import sys
        import llmgine.observability
        from llmgine.observability import OtelHandler
        loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
        assert not loaded, loaded
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture
def without_opentelemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every opentelemetry import fail, as if the extra were not installed."""
    for name in list(sys.modules):
        if name.startswith(("opentelemetry", "llmgine.observability")):
            monkeypatch.delitem(sys.modules, name)
    for name in ("opentelemetry", "opentelemetry.trace", "opentelemetry.sdk"):
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.usefixtures("without_opentelemetry")
def test_without_opentelemetry_the_package_still_works() -> None:
    observability = importlib.import_module("llmgine.observability")
    tracer = observability.Tracer([])
    assert tracer.statistics().received == 0
    with pytest.raises(ConfigurationError, match=r"pip install 'llmgine\[otel\]'"):
        observability.OtelHandler()
    with pytest.raises(ConfigurationError, match=r"pip install 'llmgine\[otel\]'"):
        observability.tracer_from_env({"LLMGINE_TRACE": "otel"})
