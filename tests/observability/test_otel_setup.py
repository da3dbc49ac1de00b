"""build_providers: the standard OTEL_* variables."""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

from llmgine._exceptions import ConfigurationError
from llmgine.observability._otel_setup import _otlp_exporter, build_providers


def _span_exporters(provider: TracerProvider) -> list[Any]:
    processors = provider._active_span_processor._span_processors
    return [p.span_exporter for p in processors]  # type: ignore[attr-defined]


def _metric_exporters(provider: Any) -> list[Any]:
    readers = provider._metric_readers
    return [r._exporter for r in readers]


def _build(environ: dict[str, str]) -> tuple[TracerProvider, Any]:
    tracer_provider, meter_provider = build_providers(environ)
    return tracer_provider, meter_provider


@pytest.fixture
def providers() -> Iterator[list[tuple[TracerProvider, Any]]]:
    made: list[tuple[TracerProvider, Any]] = []
    yield made
    for tracer_provider, meter_provider in made:
        tracer_provider.shutdown()
        meter_provider.shutdown()


def test_console_exporters_without_an_endpoint(
    providers: list[tuple[TracerProvider, Any]],
) -> None:
    built = _build({"OTEL_SERVICE_NAME": "svc"})
    providers.append(built)
    tracer_provider, meter_provider = built
    assert tracer_provider.resource.attributes["service.name"] == "svc"
    assert [type(e) for e in _span_exporters(tracer_provider)] == [ConsoleSpanExporter]
    assert [type(e) for e in _metric_exporters(meter_provider)] == [ConsoleMetricExporter]


def test_exporters_can_be_turned_off(providers: list[tuple[TracerProvider, Any]]) -> None:
    built = _build({"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "NONE"})
    providers.append(built)
    assert _span_exporters(built[0]) == []
    assert _metric_exporters(built[1]) == []


def test_console_can_be_chosen_despite_an_endpoint(
    providers: list[tuple[TracerProvider, Any]],
) -> None:
    built = _build(
        {
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318",
        }
    )
    providers.append(built)
    assert [type(e) for e in _span_exporters(built[0])] == [ConsoleSpanExporter]


class FakeSpanExporter(ConsoleSpanExporter):
    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self.endpoint = endpoint


class FakeMetricExporter(ConsoleMetricExporter):
    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self.endpoint = endpoint


@pytest.fixture
def fake_otlp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend opentelemetry-exporter-otlp is installed (it is not, in dev)."""
    for protocol in ("http", "grpc"):
        for signal, cls, base in (
            ("trace", "OTLPSpanExporter", FakeSpanExporter),
            ("metric", "OTLPMetricExporter", FakeMetricExporter),
        ):
            name = f"opentelemetry.exporter.otlp.proto.{protocol}.{signal}_exporter"
            module = types.ModuleType(name)
            setattr(module, cls, type(cls, (base,), {"protocol": protocol}))
            monkeypatch.setitem(sys.modules, name, module)


def _otlp(signal: str, environ: dict[str, str]) -> Any:
    exporter = _otlp_exporter(signal, environ)
    assert exporter is not None
    return exporter


@pytest.mark.usefixtures("fake_otlp")
def test_otlp_over_http_adds_the_signal_paths() -> None:
    environ = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}
    trace = _otlp("trace", environ)
    metric = _otlp("metric", environ)
    assert (trace.protocol, trace.endpoint) == ("http", "http://collector:4318/v1/traces")
    assert metric.endpoint == "http://collector:4318/v1/metrics"


@pytest.mark.usefixtures("fake_otlp")
def test_otlp_over_grpc_and_signal_endpoints() -> None:
    environ = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://metrics:4317",
    }
    trace = _otlp("trace", environ)
    metric = _otlp("metric", environ)
    assert (trace.protocol, trace.endpoint) == ("grpc", "http://collector:4317")
    assert metric.endpoint == "http://metrics:4317"


@pytest.mark.usefixtures("fake_otlp")
def test_providers_use_otlp_when_an_endpoint_is_set(
    providers: list[tuple[TracerProvider, Any]],
) -> None:
    built = _build({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    providers.append(built)
    (span_exporter,) = _span_exporters(built[0])
    (metric_exporter,) = _metric_exporters(built[1])
    assert span_exporter.endpoint == "http://collector:4318/v1/traces"
    assert type(metric_exporter).__name__ == "OTLPMetricExporter"


def test_an_endpoint_without_the_exporter_package_falls_back_to_console(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    providers: list[tuple[TracerProvider, Any]],
) -> None:
    monkeypatch.setitem(
        sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None
    )
    monkeypatch.setitem(
        sys.modules, "opentelemetry.exporter.otlp.proto.http.metric_exporter", None
    )
    with caplog.at_level(logging.WARNING, logger="llmgine.observability"):
        built = _build({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    providers.append(built)
    assert [type(e) for e in _span_exporters(built[0])] == [ConsoleSpanExporter]
    assert "pip install opentelemetry-exporter-otlp" in caplog.text


def _sampler(environ: dict[str, str], providers: list[Any]) -> Sampler:
    built = _build(
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", **environ}
    )
    providers.append(built)
    return built[0].sampler


@pytest.mark.parametrize(
    ("name", "arg", "check"),
    [
        ("always_on", "", lambda s: s is ALWAYS_ON),
        ("always_off", "", lambda s: s is ALWAYS_OFF),
        (
            "traceidratio",
            "0.25",
            lambda s: isinstance(s, TraceIdRatioBased) and s.rate == 0.25,
        ),
        (
            "traceidratio",
            "",
            lambda s: isinstance(s, TraceIdRatioBased) and s.rate == 1.0,
        ),
        ("parentbased_always_on", "", lambda s: isinstance(s, ParentBased)),
        ("parentbased_always_off", "", lambda s: isinstance(s, ParentBased)),
        ("parentbased_traceidratio", "0.5", lambda s: isinstance(s, ParentBased)),
    ],
)
def test_samplers(
    name: str, arg: str, check: Any, providers: list[tuple[TracerProvider, Any]]
) -> None:
    sampler = _sampler(
        {"OTEL_TRACES_SAMPLER": name, "OTEL_TRACES_SAMPLER_ARG": arg}, providers
    )
    assert check(sampler)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER must be one of"),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
            "must be a ratio between 0 and 1 \\(got '2'\\)",
        ),
        (
            {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"},
            "must be a ratio between 0 and 1 \\(got 'half'\\)",
        ),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER must be 'otlp'"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "x",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
            },
            "OTEL_EXPORTER_OTLP_PROTOCOL must be 'http/protobuf' or 'grpc'",
        ),
    ],
)
def test_bad_variables(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build_providers(environ)
