"""``--provider``: which provider object, which key variable, which default model."""

from __future__ import annotations

import pytest

from llmgine.cli._common import DEFAULT_MODELS, CLIError, default_model, live_provider
from llmgine.llm import (
    AnthropicProvider,
    GeminiProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
)


@pytest.mark.parametrize(
    ("name", "environ", "kind"),
    [
        ("openai", {"OPENAI_API_KEY": "k"}, OpenAIProvider),
        ("anthropic", {"ANTHROPIC_API_KEY": "k"}, AnthropicProvider),
        ("gemini", {"GEMINI_API_KEY": "k"}, GeminiProvider),
        ("gemini", {"GEMINI_API_KEY": " ", "GOOGLE_API_KEY": "k"}, GeminiProvider),
        ("ollama", {}, OpenAICompatibleProvider),
    ],
)
def test_live_provider(name: str, environ: dict[str, str], kind: type) -> None:
    assert isinstance(live_provider(name, environ), kind)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("", "http://localhost:11434/v1"),
        ("gpu-box:11434", "http://gpu-box:11434/v1"),
        ("https://ollama.example/", "https://ollama.example/v1"),
    ],
)
def test_ollama_host(host: str, url: str) -> None:
    provider = live_provider("ollama", {"OLLAMA_HOST": host})
    assert isinstance(provider, OpenAICompatibleProvider)
    assert provider.name == "ollama"
    assert str(provider.base_url).rstrip("/") == url


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(CLIError, match=r"set ANTHROPIC_API_KEY$") as error:
        live_provider("anthropic", {})
    assert error.value.code == 2


def test_unknown_provider() -> None:
    with pytest.raises(CLIError, match="unknown provider 'mystery'"):
        live_provider("mystery", {})


def test_default_models() -> None:
    assert default_model("openai", None) == DEFAULT_MODELS["openai"]
    assert default_model("openai", "gpt-x") == "gpt-x"
    with pytest.raises(CLIError):
        default_model("openai", "")
