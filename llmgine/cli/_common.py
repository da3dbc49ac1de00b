"""What the commands share: the error that ends a command, consoles, provider options."""

from __future__ import annotations

import argparse
import shutil

from rich.console import Console

__all__ = ["CLIError", "PROVIDER_CHOICES", "add_provider_arguments", "make_console"]

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
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:
        console.width = max(_PIPE_WIDTH, shutil.get_terminal_size((0, 0)).columns)
    return console


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
