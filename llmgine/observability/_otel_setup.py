"""Build OpenTelemetry SDK providers from the standard ``OTEL_*`` variables.

Used by ``LLMGINE_TRACE=otel`` when no provider is passed in code. What is
honoured:

- ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (the resource);
- ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` (``always_on``,
  ``always_off``, ``traceidratio`` and their ``parentbased_`` forms);
- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the ``_TRACES_`` / ``_METRICS_``
  variants) and ``OTEL_EXPORTER_OTLP_PROTOCOL`` (``http/protobuf``, the
  default, or ``grpc``): spans and metrics go over OTLP when an endpoint is
  set and ``opentelemetry-exporter-otlp`` is installed; other ``OTEL_EXPORTER_OTLP_*``
  settings (headers, timeouts, certificates) are read by the exporter itself;
- ``OTEL_TRACES_EXPORTER`` / ``OTEL_METRICS_EXPORTER`` set to ``none`` or
  ``console`` override that choice.

Without an endpoint, spans and metrics are printed by the SDK's console
exporters (to standard output).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmgine._exceptions import ConfigurationError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import Sampler

__all__ = ["build_providers"]

_log = logging.getLogger("llmgine.observability")

_OTLP_MODULES = {
    "grpc": "opentelemetry.exporter.otlp.proto.grpc.{signal}_exporter",
    "http/protobuf": "opentelemetry.exporter.otlp.proto.http.{signal}_exporter",
}
_OTLP_CLASSES = {"trace": "OTLPSpanExporter", "metric": "OTLPMetricExporter"}
_HTTP_PATHS = {"trace": "v1/traces", "metric": "v1/metrics"}


def _sampler(environ: Mapping[str, str]) -> Sampler | None:
    from opentelemetry.sdk.trace import sampling

    name = environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if not name:
        return None
    arg = environ.get("OTEL_TRACES_SAMPLER_ARG", "").strip()
    ratio = 1.0
    if "traceidratio" in name and arg:
        try:
            ratio = float(arg)
        except ValueError:
            ratio = -1.0
        if not 0.0 <= ratio <= 1.0:
            raise ConfigurationError(
                f"OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1 (got {arg!r})"
            )
    samplers: dict[str, Sampler] = {
        "always_on": sampling.ALWAYS_ON,
        "always_off": sampling.ALWAYS_OFF,
        "traceidratio": sampling.TraceIdRatioBased(ratio),
        "parentbased_always_on": sampling.ParentBased(sampling.ALWAYS_ON),
        "parentbased_always_off": sampling.ParentBased(sampling.ALWAYS_OFF),
        "parentbased_traceidratio": sampling.ParentBasedTraceIdRatio(ratio),
    }
    if name not in samplers:
        raise ConfigurationError(
            f"OTEL_TRACES_SAMPLER must be one of {', '.join(samplers)} (got {name!r})"
        )
    return samplers[name]


def _otlp_exporter(signal: str, environ: Mapping[str, str]) -> Any | None:
    """An OTLP exporter for ``signal`` ("trace" or "metric"), or None."""
    specific = environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}S_ENDPOINT", "").strip()
    general = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if not (specific or general):
        return None
    protocol = (
        environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}S_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol not in _OTLP_MODULES:
        raise ConfigurationError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL must be 'http/protobuf' or 'grpc'"
            f" (got {protocol!r})"
        )
    try:
        module = importlib.import_module(_OTLP_MODULES[protocol].format(signal=signal))
    except ImportError:
        _log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but opentelemetry-exporter-otlp is not"
            " installed (pip install opentelemetry-exporter-otlp); using the console"
        )
        return None
    if specific:
        endpoint = specific
    elif protocol == "grpc":
        endpoint = general
    else:  # the general endpoint is a base URL for HTTP: add the signal's path
        endpoint = f"{general.rstrip('/')}/{_HTTP_PATHS[signal]}"
    return getattr(module, _OTLP_CLASSES[signal])(endpoint=endpoint)


def _choice(variable: str, environ: Mapping[str, str]) -> str:
    value = environ.get(variable, "").strip().lower() or "otlp"
    if value not in ("otlp", "console", "none"):
        raise ConfigurationError(
            f"{variable} must be 'otlp', 'console' or 'none' (got {value!r})"
        )
    return value


def build_providers(environ: Mapping[str, str]) -> tuple[TracerProvider, MeterProvider]:
    """SDK tracer and meter providers configured from ``environ``.

    Raises :class:`ConfigurationError` when the SDK is not installed or a
    variable holds a value it cannot use.
    """
    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import (
            ConsoleMetricExporter,
            MetricReader,
            PeriodicExportingMetricReader,
        )
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError as exc:
        raise ConfigurationError(
            "LLMGINE_TRACE=otel needs the OpenTelemetry SDK, which is not installed:"
            " pip install 'llmgine[otel]'"
        ) from exc

    attributes: dict[str, str] = {}
    service = environ.get("OTEL_SERVICE_NAME", "").strip()
    if service:
        attributes["service.name"] = service
    resource = Resource.create(attributes)

    tracer_provider = TracerProvider(resource=resource, sampler=_sampler(environ))
    traces = _choice("OTEL_TRACES_EXPORTER", environ)
    if traces != "none":
        span_exporter = _otlp_exporter("trace", environ) if traces == "otlp" else None
        tracer_provider.add_span_processor(
            BatchSpanProcessor(span_exporter or ConsoleSpanExporter())
        )

    readers: list[MetricReader] = []
    metrics = _choice("OTEL_METRICS_EXPORTER", environ)
    if metrics != "none":
        metric_exporter = _otlp_exporter("metric", environ) if metrics == "otlp" else None
        readers.append(
            PeriodicExportingMetricReader(metric_exporter or ConsoleMetricExporter())
        )
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    return tracer_provider, meter_provider
