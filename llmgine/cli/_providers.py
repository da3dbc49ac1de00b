"""``--provider``: the real services, their key variables and default models."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ..llm import (
    AnthropicProvider,
    GeminiProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
    Provider,
)
from ._common import CLIError

__all__ = ["DEFAULT_MODELS", "KEY_VARIABLES", "default_model", "live_provider"]

#: The model each provider uses when ``--model`` is not given.
DEFAULT_MODELS: Mapping[str, str] = {
    "scripted": "offline-demo",
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-latest",
    "gemini": "gemini-2.0-flash",
    "ollama": "llama3.2",
}

#: The environment variables holding each provider's API key (first one set wins).
KEY_VARIABLES: Mapping[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}


def default_model(provider: str, model: str | None) -> str:
    """``model`` if given, else the provider's default model."""
    if model is not None and not model.strip():
        raise CLIError("--model must not be empty")
    return model if model is not None else DEFAULT_MODELS[provider]


def _ollama_url(environ: Mapping[str, str]) -> str:
    host = environ.get("OLLAMA_HOST", "").strip() or "localhost:11434"
    if "://" not in host:
        host = f"http://{host}"
    return host.rstrip("/") + "/v1"


def live_provider(name: str, environ: Mapping[str, str] = os.environ) -> Provider:
    """The provider object for ``--provider name``.

    Raises :class:`CLIError` (exit code 2) naming the variable to set when the
    provider's API key is missing, before anything is started.
    """
    if name == "ollama":
        return OpenAICompatibleProvider(base_url=_ollama_url(environ), name="ollama")
    variables = KEY_VARIABLES.get(name)
    if variables is None:
        raise CLIError(f"unknown provider {name!r}")
    keys = [environ.get(v, "").strip() for v in variables]
    key = next((k for k in keys if k), None)
    if key is None:
        raise CLIError(
            f"--provider {name} needs an API key: set {' or '.join(variables)}"
        )
    if name == "openai":
        return OpenAIProvider(api_key=key)
    if name == "anthropic":
        return AnthropicProvider(api_key=key)
    return GeminiProvider(api_key=key)
