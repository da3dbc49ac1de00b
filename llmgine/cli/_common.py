"""What the commands share: the error that ends a command, consoles, ``--provider``.

``--provider`` picks a real service (its key variable, its default model) or
the offline scripted model.
"""

from __future__ import annotations

import argparse
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .._exceptions import ConfigurationError

if TYPE_CHECKING:  # loaded when a command runs, so --help and --version stay quick
    from rich.console import Console

    from ..llm import Provider
    from ..observability import TraceHandler, Tracer

__all__ = [
    "DEFAULT_MODELS",
    "KEY_VARIABLES",
    "PROVIDER_CHOICES",
    "CLIError",
    "add_provider_arguments",
    "default_model",
    "live_provider",
    "llm_calls",
    "make_console",
    "make_tracer",
]

#: ``--provider`` values; ``scripted`` (the default) needs no network and no key.
PROVIDER_CHOICES = ("scripted", "openai", "anthropic", "gemini", "ollama")

# Off a terminal (a pipe, a CI log, a test) rich would squeeze tables into 80
# columns; this keeps them whole without wrapping every line to a huge width.
_PIPE_WIDTH = 110


class CLIError(Exception):
    """Ends a command with a one-line message and an exit code (2: usage)."""

    def __init__(self, message: str, *, code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def make_console(*, stderr: bool = False) -> Console:
    """A rich console for command output; wide enough for tables off a terminal."""
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = max(_PIPE_WIDTH, shutil.get_terminal_size((0, 0)).columns)
    return console


def llm_calls(steps: int) -> str:
    """``1 LLM call``, ``3 LLM calls``."""
    return f"{steps} LLM call{'' if steps == 1 else 's'}"


def make_tracer(
    handlers: Sequence[TraceHandler] = (),
    *,
    trace_path: str | None = None,
    sampled: bool = True,
    environ: Mapping[str, str] = os.environ,
) -> Tracer | None:
    """The command's tracer: ``handlers``, those ``LLMGINE_TRACE`` asks for, and
    a JSONL file at ``trace_path`` (``--trace``); None when there are none.

    A bad ``LLMGINE_TRACE`` or an unwritable file is a :class:`CLIError` (exit
    2). ``sampled=False`` keeps every trace whatever ``LLMGINE_TRACE_SAMPLE``
    says (the demo counts what happened from the trace).
    """
    from ..observability import JsonlHandler, Tracer, tracer_from_env

    try:
        from_env = tracer_from_env(environ)
    except ConfigurationError as error:
        raise CLIError(str(error)) from None
    chosen = [*handlers, *(from_env.handlers if from_env is not None else ())]
    if trace_path is not None:
        try:
            chosen.append(JsonlHandler(trace_path))
        except OSError as exc:
            for handler in chosen[len(handlers) :]:
                handler.close()
            raise CLIError(
                f"cannot write the trace to {trace_path}: {exc.strerror}"
            ) from None
    if not chosen:
        return None
    ratio = from_env.sample_ratio if from_env is not None and sampled else 1.0
    return Tracer(chosen, sample_ratio=ratio)


def add_provider_arguments(parser: argparse.ArgumentParser) -> None:
    """``--provider`` and ``--model``, as ``demo`` and ``chat`` take them."""
    parser.add_argument(
        "--provider",
        choices=PROVIDER_CHOICES,
        default="scripted",
        help=(
            "LLM backend (default: scripted, offline). openai, anthropic and gemini"
            " read OPENAI_API_KEY, ANTHROPIC_API_KEY and GEMINI_API_KEY (or"
            " GOOGLE_API_KEY); ollama talks to OLLAMA_HOST (default localhost:11434)"
        ),
    )
    parser.add_argument(
        "--model", help="model name (default: a small model of the chosen provider)"
    )


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
    from ..llm import (
        AnthropicProvider,
        GeminiProvider,
        OpenAICompatibleProvider,
        OpenAIProvider,
    )

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
