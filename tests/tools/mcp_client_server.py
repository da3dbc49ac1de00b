"""An MCP server that uses what llmgine's client offers: roots, sampling,
elicitation, progress; and that answers binary content and echoes HTTP headers.

``python mcp_client_server.py`` serves over stdio; ``... http [port]`` over
streamable HTTP, as ``mcp_server.py`` does.
"""

# No ``from __future__ import annotations``: mcp 1's FastMCP reads the hints.
import base64
import json
import logging
import sys
from typing import Any

import mcp.types as types
from mcp_server import serve_http
from pydantic import BaseModel

try:  # mcp 2.x
    from mcp.server.mcpserver import Context
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context
    from mcp.server.fastmcp import FastMCP as _Server

logging.disable(logging.CRITICAL)
server: Any = _Server("llmgine-client-test")

#: 200 kB of "image": what must never reach a model as base64.
PICTURE = base64.b64encode(b"\x89PNG" + bytes(200_000)).decode()


def _wire(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


@server.tool()
async def countdown(n: int, ctx: Context) -> str:
    """Count down, reporting progress at each step."""
    for step in range(1, n + 1):
        await ctx.report_progress(step, n, f"step {step}")
    return "liftoff"


@server.tool()
async def my_roots(ctx: Context) -> str:
    """The roots the client gave."""
    listing = await ctx.session.list_roots()
    return json.dumps(_wire(listing)["roots"])


@server.tool()
async def summarise(text: str, ctx: Context) -> str:
    """Ask the client's model to summarise the text."""
    message = types.SamplingMessage.model_validate(
        {"role": "user", "content": {"type": "text", "text": f"Summarise: {text}"}}
    )
    result = await ctx.session.create_message(
        messages=[message],
        max_tokens=50,
        system_prompt="Be brief.",
        temperature=0.2,
        stop_sequences=["END"],
    )
    return json.dumps(_wire(result))


class Booking(BaseModel):
    date: str
    guests: int = 2


@server.tool()
async def book(ctx: Context) -> str:
    """Ask the user for a booking."""
    answer = await ctx.elicit("Which date?", schema=Booking)
    data = answer.data.model_dump() if answer.action == "accept" else None
    return json.dumps({"action": answer.action, "data": data})


@server.tool()
def picture() -> list[Any]:
    """A picture and a binary file."""
    return [
        types.ImageContent.model_validate(
            {"type": "image", "data": PICTURE, "mimeType": "image/png"}
        ),
        types.EmbeddedResource.model_validate(
            {
                "type": "resource",
                "resource": {
                    "uri": "file:///data/report.bin",
                    "mimeType": "application/octet-stream",
                    "blob": base64.b64encode(b"binary!").decode(),
                },
            }
        ),
    ]


@server.tool()
def request_headers(ctx: Context) -> str:
    """The HTTP headers of this request (empty over stdio)."""
    request = getattr(ctx.request_context, "request", None)
    return json.dumps(dict(getattr(request, "headers", None) or {}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        serve_http(*(int(arg) for arg in sys.argv[2:3]), app_server=server)
    else:
        server.run()
