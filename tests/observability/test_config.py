"""tracer_from_env: LLMGINE_TRACE parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider

from llmgine._exceptions import ConfigurationError
from llmgine.observability import (
    ConsoleHandler,
    JsonlHandler,
    OtelHandler,
    Tracer,
    tracer_from_env,
)

from ._records import make_record


@pytest.mark.parametrize("value", [None, "", "  ", "off", "none", "0", "OFF"])
def test_off_means_no_tracer(value: str | None) -> None:
    environ = {} if value is None else {"LLMGINE_TRACE": value}
    assert tracer_from_env(environ) is None


def test_console() -> None:
    tracer = tracer_from_env({"LLMGINE_TRACE": "console"})
    assert isinstance(tracer, Tracer)
    (handler,) = tracer.handlers
    assert isinstance(handler, ConsoleHandler)
    assert handler.console.stderr


def test_jsonl_with_a_path(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    tracer = tracer_from_env({"LLMGINE_TRACE": f"jsonl:{path}"})
    assert tracer is not None
    (handler,) = tracer.handlers
    assert isinstance(handler, JsonlHandler)
    assert handler.path == path
    handler.close()


def test_several_outputs(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    environ = {
        "LLMGINE_TRACE": f" Console , jsonl:{path}, otel",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
    }
    tracer = tracer_from_env(environ)
    assert tracer is not None
    kinds = [type(h) for h in tracer.handlers]
    assert kinds == [ConsoleHandler, JsonlHandler, OtelHandler]
    for handler in tracer.handlers:
        handler.close()


def test_otel_builds_its_own_providers_and_shuts_them_down() -> None:
    environ = {
        "LLMGINE_TRACE": "otel",
        "OTEL_SERVICE_NAME": "my-app",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
    }
    tracer = tracer_from_env(environ)
    assert tracer is not None
    (handler,) = tracer.handlers
    assert isinstance(handler, OtelHandler)
    assert handler.capture_content
    assert handler.shutdown_on_close
    assert isinstance(handler.tracer_provider, TracerProvider)
    assert isinstance(handler.meter_provider, MeterProvider)
    assert handler.tracer_provider.resource.attributes["service.name"] == "my-app"
    handler.handle([make_record()])
    handler.close()


@pytest.mark.parametrize(
    "value", ["consol", "jsonl", "jsonl:", "jsonl:  ", "otel:x", "console:stdout", "a,,b"]
)
def test_bad_values_say_what_was_expected_and_what_came(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        tracer_from_env({"LLMGINE_TRACE": value})
    message = str(info.value)
    assert "'console', 'jsonl:PATH' or 'otel'" in message
    assert repr(value) in message


def test_an_unwritable_jsonl_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot open the JSONL trace file"):
        tracer_from_env(
            {"LLMGINE_TRACE": f"jsonl:{tmp_path / 'missing' / 'trace.jsonl'}"}
        )


def test_handlers_made_before_a_failure_are_closed(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    environ = {"LLMGINE_TRACE": f"jsonl:{path},otel", "OTEL_TRACES_SAMPLER": "sometimes"}
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_SAMPLER"):
        tracer_from_env(environ)
    assert path.exists()  # it was opened, and then closed again


@pytest.mark.parametrize(("value", "ratio"), [("", 1.0), ("0.25", 0.25), (" 0 ", 0.0)])
def test_sample_ratio_from_the_environment(value: str, ratio: float) -> None:
    tracer = tracer_from_env({"LLMGINE_TRACE": "console", "LLMGINE_TRACE_SAMPLE": value})
    assert tracer is not None
    assert tracer.sample_ratio == ratio


@pytest.mark.parametrize("value", ["half", "1.5", "-0.1", "nan"])
def test_a_bad_sample_ratio_says_what_was_expected(value: str) -> None:
    environ = {"LLMGINE_TRACE": "console", "LLMGINE_TRACE_SAMPLE": value}
    with pytest.raises(ConfigurationError) as info:
        tracer_from_env(environ)
    message = str(info.value)
    assert "LLMGINE_TRACE_SAMPLE must be a ratio from 0 to 1" in message
    assert repr(value) in message
