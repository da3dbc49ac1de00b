"""A tiny MCP server that the MCP tests start as a subprocess.

``python mcp_server.py`` serves over stdio. ``python mcp_server.py http`` serves
streamable HTTP on 127.0.0.1 (loopback only) on a port the OS picks, and prints
``PORT <n>`` on stdout once it listens, so the test needs no free-port guessing;
``python mcp_server.py http <port>`` listens on that port (a server started again
where it was).
"""

# No ``from __future__ import annotations``: mcp 1's FastMCP reads the hints.
import logging
import os
import socket
import sys
from typing import Any

import anyio

try:  # mcp 2.x
    from mcp.server.mcpserver import MCPServer as _Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as _Server

logging.disable(logging.CRITICAL)  # the tests read results, not the server's log
server: Any = _Server("llmgine-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, then answer."""
    await anyio.sleep(seconds)
    return "done"


@server.tool()
def whoami() -> dict[str, Any]:
    """The server's process id (tests use it to kill the server)."""
    return {"pid": os.getpid()}


@server.tool()
def crash() -> str:
    """Exit the server process at once, as a crash would."""
    os._exit(3)


def _guarded(app: Any, expected: bytes) -> Any:
    """``app`` behind a bearer token: 401 (a plain JSON body) without it."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or ())
        if scope["type"] == "http" and headers.get(b"authorization") != expected:
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"error": "no"}'})
            return
        await app(scope, receive, send)

    return guarded


def serve_http(port: int = 0, app_server: Any = server) -> None:
    """Serve ``app_server`` over streamable HTTP on 127.0.0.1; print its port."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    app = app_server.streamable_http_app()
    token = os.environ.get("MCP_TEST_TOKEN")
    if token:  # the server wants ``Authorization: Bearer <token>``
        app = _guarded(app, f"Bearer {token}".encode())
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uv = uvicorn.Server(config)

    async def main() -> None:
        sock.listen()
        print(f"PORT {port}", flush=True)
        await uv.serve(sockets=[sock])

    anyio.run(main)


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        serve_http(*(int(arg) for arg in sys.argv[2:3]))
    else:
        server.run()
