"""The public surface of ``llmgine.engines`` is exactly what is meant."""

from __future__ import annotations

import llmgine.engines

EXPECTED = {
    "AbandonTurn",
    "AgentTool",
    "ApproveTools",
    "ChatEngine",
    "ChatResult",
    "ClearConversation",
    "ContextPolicy",
    "ContextWindow",
    "Conversation",
    "ConversationStore",
    "Engine",
    "EngineEvent",
    "EngineState",
    "EngineStatus",
    "EventPublisher",
    "GetHistory",
    "OutputReady",
    "OutputValidationError",
    "ResumeTurn",
    "SQLiteConversationStore",
    "ToolExecuted",
    "ToolExecutor",
    "ToolProgress",
    "TurnEvent",
    "TurnFinished",
    "TurnStarted",
    "TurnStream",
    "UsageLimits",
    "UserInput",
    "agent_tool",
    "estimate_tokens",
    "split_turns",
    "stream_turn",
}


def test_public_names() -> None:
    public = {name for name in dir(llmgine.engines) if not name.startswith("_")}
    assert public == EXPECTED
    assert sorted(llmgine.engines.__all__) == llmgine.engines.__all__
    assert set(llmgine.engines.__all__) == EXPECTED


def test_every_public_name_has_a_docstring() -> None:
    for name in EXPECTED - {"TurnEvent"}:
        assert getattr(llmgine.engines, name).__doc__, name
        # defined in a private module, re-exported here (errors live in one module)
        module = getattr(llmgine.engines, name).__module__
        assert module.startswith("llmgine.engines._") or module == "llmgine._exceptions"
