"""llmgine.llm exports exactly its public surface, each name documented."""

from __future__ import annotations

import inspect

import llmgine.llm

EXPECTED = {
    # the contract
    "LLMRequest", "LLMResponse", "Message", "Role", "Part", "TextPart", "ReasoningPart",
    "BlobPart", "ToolCallPart", "ToolResultPart", "ToolSpec", "ToolChoice",
    "FinishReason", "Usage",
    # streams
    "StreamEvent", "TextDelta", "ReasoningDelta", "ToolCallDelta", "StreamFinish",
    "StreamAccumulator", "SSEEvent", "SSEDecoder", "split_response",
    # seams
    "Provider", "Codec", "StreamDecoder", "HTTPProvider", "RetryPolicy",
    # providers and codecs
    "OpenAIProvider", "OpenAICompatibleProvider", "OpenAICodec",
    "AnthropicProvider", "AnthropicCodec", "GeminiProvider", "GeminiCodec",
    "ScriptedProvider", "ScriptItem", "ScriptExhausted", "FallbackProvider",
    "ProviderActor", "ProviderDelta", "ProviderPart",
}  # fmt: skip


def test_the_public_surface_is_exactly_what_is_meant() -> None:
    assert set(llmgine.llm.__all__) == EXPECTED
    assert llmgine.llm.__all__ == sorted(llmgine.llm.__all__)
    public = {n for n in vars(llmgine.llm) if not n.startswith("_")}
    assert public == EXPECTED


def test_every_public_class_and_function_has_a_docstring() -> None:
    for name in EXPECTED:
        obj = getattr(llmgine.llm, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), name
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert inspect.getdoc(member), f"{name}.{attr}"
