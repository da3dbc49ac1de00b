"""Helpers the MCP tests share: the test server over streamable HTTP, and polling."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from llmgine.llm import ToolCallPart

SERVER = Path(__file__).with_name("mcp_server.py")


def call(name: str, arguments: Any = None, id: str = "c1") -> ToolCallPart:
    return ToolCallPart(
        id=id, name=name, arguments={} if arguments is None else arguments
    )


@asynccontextmanager
async def http_server(
    port: int = 0, script: Path = SERVER, token: str | None = None
) -> AsyncIterator[tuple[str, int, trio.Process]]:
    """A test server on 127.0.0.1 (``port``, or one the OS picks): URL, port, process.

    With ``token``, the server answers 401 to requests without that bearer token.
    """
    env = dict(os.environ, MCP_TEST_TOKEN=token or "")
    process = await trio.lowlevel.open_process(
        [sys.executable, str(script), "http", str(port)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert process.stdout is not None
        seen = b""
        with trio.fail_after(20):
            while b"\n" not in seen:
                chunk = await process.stdout.receive_some(256)
                assert chunk, "the server exited before listening"
                seen += chunk
        port = int(seen.split(b"\n")[0].split()[1])
        yield f"http://127.0.0.1:{port}/mcp", port, process
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()


async def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``condition`` (bounded): for what an outside process makes true."""
    with trio.fail_after(seconds):
        while not condition():
            await trio.sleep(0.01)
