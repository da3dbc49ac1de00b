"""Tools the model may call: ``@tool``, their schemas, and the registry that runs them.

``@tool`` turns a typed, Google-style documented function into a :class:`Tool`
with a JSON Schema; a :class:`ToolRegistry` runs the model's calls and turns
every mistake into an error result; a :class:`ToolActor` runs them in a
supervised actor with per-tool limits.
:func:`spawn_mcp_server` puts an MCP server's tools in the same registry
(optional extra ``mcp``).
"""

from ._actor import ToolActor as ToolActor
from ._actor import ToolActorRef as ToolActorRef
from ._actor import ToolTraits as ToolTraits
from ._actor import spawn_tool_actor as spawn_tool_actor
from ._mcp import MCPServerRef as MCPServerRef
from ._mcp import MCPTool as MCPTool
from ._mcp import connect_mcp as connect_mcp
from ._mcp import spawn_mcp_server as spawn_mcp_server
from ._mcp_actor import MCPServerActor as MCPServerActor
from ._mcp_client import MCPElicitation as MCPElicitation
from ._mcp_client import MCPElicitResult as MCPElicitResult
from ._mcp_client import MCPSampling as MCPSampling
from ._mcp_progress import MCPProgress as MCPProgress
from ._mcp_progress import progress_listener as progress_listener
from ._mcp_transport import MCPHttp as MCPHttp
from ._mcp_transport import MCPStdio as MCPStdio
from ._registry import ToolLike as ToolLike
from ._registry import ToolRegistry as ToolRegistry
from ._tool import Tool as Tool
from ._tool import ToolDefinitionWarning as ToolDefinitionWarning
from ._tool import tool as tool
