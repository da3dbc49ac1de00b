# llmgine: the `llmgine` command, the examples and the chaos suite.
#
#   docker build -t llmgine .
#   docker run --rm -it llmgine                          # the offline demo
#   docker run --rm -it -e OPENAI_API_KEY llmgine demo --provider openai
#   docker run --rm llmgine stress --quick
#   docker run --rm --entrypoint python llmgine examples/streaming.py
#
# See docs/deployment.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # the chaos suite (stress/) is not part of the package: make it importable
    PYTHONPATH=/app

WORKDIR /app

# The package first, so code-only changes to the examples reuse this layer.
COPY pyproject.toml README.md ./
COPY llmgine ./llmgine
RUN pip install ".[otel]" opentelemetry-exporter-otlp-proto-http

COPY stress ./stress
COPY examples ./examples

RUN useradd --create-home --uid 10001 llmgine
USER llmgine

ENTRYPOINT ["llmgine"]
CMD ["demo"]
