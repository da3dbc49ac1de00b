"""Tools the model may call: ``@tool``, their schemas, and the registry that runs them.

``@tool`` turns a typed, Google-style documented function into a :class:`Tool`
with a JSON Schema; a :class:`ToolRegistry` runs the model's calls and turns
every mistake into an error result; a :class:`ToolActor` runs them in a
supervised actor with per-tool limits.
"""

from ._actor import ToolActor as ToolActor
from ._actor import ToolActorRef as ToolActorRef
from ._actor import spawn_tool_actor as spawn_tool_actor
from ._registry import ToolRegistry as ToolRegistry
from ._tool import Tool as Tool
from ._tool import tool as tool
