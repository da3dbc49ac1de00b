"""``--provider``: which provider object, which key variable, which default model."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgine.cli._common import (
    DEFAULT_MODELS,
    CLIError,
    default_model,
    live_provider,
    make_tracer,
)
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


def test_the_tracer_joins_llmgine_trace_and_the_trace_file(tmp_path: Path) -> None:
    assert make_tracer(environ={}) is None
    path = tmp_path / "t.jsonl"
    tracer = make_tracer(trace_path=str(path), environ={"LLMGINE_TRACE": "console"})
    assert tracer is not None
    assert [type(h).__name__ for h in tracer.handlers] == [
        "ConsoleHandler",
        "JsonlHandler",
    ]
    env = {"LLMGINE_TRACE": "console", "LLMGINE_TRACE_SAMPLE": "0.5"}
    assert make_tracer(environ=env).sample_ratio == 0.5  # type: ignore[union-attr]
    unsampled = make_tracer(environ=env, sampled=False)
    assert unsampled is not None
    assert unsampled.sample_ratio == 1.0


def test_a_bad_trace_setting_is_a_usage_error(tmp_path: Path) -> None:
    env = {"LLMGINE_TRACE": f"jsonl:{tmp_path / 'env.jsonl'}"}
    with pytest.raises(CLIError, match="cannot write the trace to"):
        make_tracer(trace_path=str(tmp_path / "no" / "t.jsonl"), environ=env)
    with pytest.raises(CLIError, match="LLMGINE_TRACE must be"):
        make_tracer(environ={"LLMGINE_TRACE": "bogus"})
