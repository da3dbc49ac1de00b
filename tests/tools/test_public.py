"""The public surface of ``llmgine.tools`` is exactly what is meant."""

from __future__ import annotations

import llmgine.tools


def test_public_names() -> None:
    public = {name for name in dir(llmgine.tools) if not name.startswith("_")}
    assert public == {
        "MCPElicitResult",
        "MCPElicitation",
        "MCPHttp",
        "MCPProgress",
        "MCPSampling",
        "MCPServerActor",
        "MCPServerRef",
        "MCPStdio",
        "MCPTool",
        "Tool",
        "ToolActor",
        "ToolActorRef",
        "ToolDefinitionWarning",
        "ToolLike",
        "ToolRegistry",
        "ToolTraits",
        "connect_mcp",
        "progress_listener",
        "spawn_mcp_server",
        "spawn_tool_actor",
        "tool",
    }


def test_every_public_name_has_a_docstring() -> None:
    for name in (
        "Tool",
        "ToolActor",
        "ToolActorRef",
        "ToolRegistry",
        "ToolTraits",
        "spawn_tool_actor",
    ):
        assert getattr(llmgine.tools, name).__doc__, name
    for name in (
        "MCPElicitResult",
        "MCPElicitation",
        "MCPHttp",
        "MCPProgress",
        "MCPSampling",
        "MCPServerActor",
        "MCPServerRef",
        "MCPStdio",
        "MCPTool",
        "ToolLike",
        "connect_mcp",
        "spawn_mcp_server",
    ):
        assert getattr(llmgine.tools, name).__doc__, name
    assert llmgine.tools.tool.__doc__
