"""The public surface is exactly what is meant, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import llmgine
from llmgine._open import tracer_from_env

EXPECTED = frozenset(
    [
        "AbandonTurn",
        "Actor",
        "ActorContext",
        "ActorRef",
        "ActorStatistics",
        "ActorStopped",
        "ActorSystem",
        "AnthropicProvider",
        "ApproveTools",
        "AskTimeout",
        "AuthenticationError",
        "Backoff",
        "BadRequestError",
        "BlobPart",
        "BreakerState",
        "BusSession",
        "ChatEngine",
        "ChatResult",
        "CircuitBreaker",
        "CircuitOpenError",
        "ClearConversation",
        "Command",
        "CommandResult",
        "ConfigurationError",
        "ConsoleHandler",
        "ContentFilterError",
        "ContextWindow",
        "ContextWindowError",
        "Conversation",
        "DeadLetter",
        "DeadLetterReason",
        "DeadLetters",
        "Deferred",
        "DuplicateHandlerError",
        "EngineError",
        "Event",
        "Failure",
        "FallbackProvider",
        "FinishReason",
        "GeminiProvider",
        "GetHistory",
        "HandlerError",
        "JSONNestingError",
        "JsonlHandler",
        "LLMRequest",
        "LLMResponse",
        "LLMgineError",
        "Mailbox",
        "MailboxFull",
        "MalformedResponseError",
        "MaxStepsExceeded",
        "Message",
        "MessageBus",
        "NoHandlerError",
        "OneForAll",
        "OneForOne",
        "OpenAICompatibleProvider",
        "OpenAIProvider",
        "OtelHandler",
        "OutputValidationError",
        "Overflow",
        "Priority",
        "ProviderActor",
        "ProviderError",
        "ProviderPart",
        "ProviderTimeout",
        "ProviderUnavailable",
        "QuotaExceededError",
        "RateLimitError",
        "ReasoningPart",
        "RecordKind",
        "RestForOne",
        "Restart",
        "ResumeTurn",
        "Role",
        "SQLiteConversationStore",
        "SQLiteDeadLetterStore",
        "ScriptedProvider",
        "SessionEnded",
        "SessionStarted",
        "StoredMessage",
        "SupervisionError",
        "SupervisorRef",
        "SystemStatistics",
        "TextPart",
        "Tool",
        "ToolCallPart",
        "ToolChoice",
        "ToolError",
        "ToolRegistry",
        "ToolResultPart",
        "ToolSpec",
        "TraceRecord",
        "Tracer",
        "Usage",
        "UsageLimitExceeded",
        "UsageLimits",
        "UserInput",
        "__version__",
        "agent_tool",
        "current_system",
        "open_actor_system",
        "stream_turn",
        "tool",
        "traced",
    ]
)


def test_the_top_level_surface_is_exactly_the_intended_one() -> None:
    assert set(llmgine.__all__) == EXPECTED
    assert list(llmgine.__all__) == sorted(llmgine.__all__)


def test_every_public_name_is_importable_and_documented() -> None:
    for name in llmgine.__all__:
        value = getattr(llmgine, name)
        if name != "__version__":
            assert getattr(value, "__doc__", None), f"{name} has no docstring"


def test_errors_share_one_root() -> None:
    errors = [
        getattr(llmgine, n)
        for n in llmgine.__all__
        if isinstance(getattr(llmgine, n), type)
        and issubclass(getattr(llmgine, n), BaseException)
    ]
    assert all(issubclass(e, llmgine.LLMgineError) for e in errors)
    # every error llmgine raises can be caught by name from the top level
    import llmgine._exceptions as module

    defined = {
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__ == module.__name__
    }
    assert defined <= set(errors)


def test_importing_llmgine_does_not_import_optional_or_vendor_packages() -> None:
    code = (
        "import sys, llmgine;"
        "bad = [m for m in sys.modules if m.split('.')[0] in"
        " ('opentelemetry', 'openai', 'anthropic', 'google', 'mcp')];"
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_importing_llmgine_loads_only_the_runtime() -> None:
    code = (
        "import sys, llmgine;"
        "heavy = ('httpx', 'rich', 'opentelemetry', 'mcp', 'llmgine.llm',"
        " 'llmgine.cli', 'llmgine.observability', 'llmgine.tools', 'llmgine.engines');"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_lazy_names_are_the_real_objects_and_listed() -> None:
    from llmgine.engines import ChatEngine
    from llmgine.llm import OpenAIProvider

    assert llmgine.ChatEngine is ChatEngine
    assert llmgine.OpenAIProvider is OpenAIProvider
    assert set(llmgine.__all__) <= set(dir(llmgine))
    assert llmgine.bus.MessageBus is llmgine.MessageBus


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        llmgine.NoSuchThing  # noqa: B018


def test_the_default_tracer_follows_llmgine_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LLMGINE_TRACE", raising=False)
    assert tracer_from_env() is None
    monkeypatch.setenv("LLMGINE_TRACE", "console")
    tracer = tracer_from_env()
    assert isinstance(tracer, llmgine.Tracer)
    monkeypatch.setenv("LLMGINE_TRACE", "bogus")
    with pytest.raises(llmgine.ConfigurationError, match="LLMGINE_TRACE"):
        tracer_from_env()


async def test_llmgine_open_actor_system_traces_to_llmgine_trace_and_the_runtime_does_not(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "trace.jsonl"
    monkeypatch.setenv("LLMGINE_TRACE", f"jsonl:{path}")
    async with llmgine.open_actor_system("app") as system:
        assert isinstance(system.tracer, llmgine.Tracer)
        with llmgine.traced(llmgine.RecordKind.CUSTOM, "work"):
            pass
    assert '"work"' in path.read_text()
    async with llmgine.actors.open_actor_system("bare") as system:
        assert system.tracer is None
    explicit = llmgine.Tracer([])
    async with llmgine.open_actor_system("given", tracer=explicit) as system:
        assert system.tracer is explicit


def test_both_open_actor_system_take_the_same_options() -> None:
    import inspect

    top = inspect.signature(llmgine.open_actor_system).parameters
    runtime = inspect.signature(llmgine.actors.open_actor_system).parameters
    assert list(top) == list(runtime)
    assert [p.default for p in top.values()] == [p.default for p in runtime.values()]


def test_subpackages_are_attributes_without_an_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import llmgine.bus

    monkeypatch.delattr(llmgine, "bus")
    assert llmgine.bus is sys.modules["llmgine.bus"]
