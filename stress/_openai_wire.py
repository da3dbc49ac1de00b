"""A local HTTP server speaking the OpenAI chat-completions wire, for benchmarks.

It runs in a process of its own (so its CPU is not the client's) and plays
one agent loop: the model calls ``get_weather``, then ``get_time``, then
answers. Paths under ``/slow/`` answer after :data:`LATENCY` seconds.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from . import _child

__all__ = ["ANSWER", "LATENCY", "MODEL", "QUESTION", "TOOLS", "Server", "reply"]

#: The load test's server latency, seconds.
LATENCY = 0.2
MODEL = "bench-model"
QUESTION = "What is the weather in Paris, and what time is it there?"
ANSWER = "It is 21 C and sunny in Paris, and it is noon."
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City."}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
    for name, description in (
        ("get_weather", "Get the weather in a city."),
        ("get_time", "Get the local time in a city."),
    )
]


def reply(payload: dict[str, Any], counter: list[int]) -> dict[str, Any]:
    """The model's next step: the tool calls so far since the user spoke decide."""
    messages = payload.get("messages", [])
    done = 0
    for message in reversed(messages):
        if message.get("role") == "user":
            break
        if message.get("role") == "tool":
            done += 1
    counter[0] += 1
    message: dict[str, Any]
    if done < 2:
        name = ("get_weather", "get_time")[done]
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"call_{counter[0]}",
                    "type": "function",
                    "function": {"name": name, "arguments": '{"city": "Paris"}'},
                }
            ],
        }
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": ANSWER}
        finish = "stop"
    return {
        "id": f"chatcmpl-{counter[0]}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 60, "completion_tokens": 12, "total_tokens": 72},
    }


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: list[int]
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1] if " " in lines[0] else "/"
            length = 0
            for line in lines[1:]:
                key, _, value = line.partition(":")
                if key.strip().lower() == "content-length":
                    length = int(value)
            payload = json.loads(await reader.readexactly(length)) if length else {}
            if path.startswith("/slow/"):
                await asyncio.sleep(LATENCY)
            body = json.dumps(reply(payload, counter)).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def serve() -> None:  # pragma: no cover - runs in the server process
    """Serve until killed; the port goes to stdout first."""

    async def main() -> None:
        counter = [0]
        server = await asyncio.start_server(
            lambda r, w: _handle(r, w, counter), "127.0.0.1", 0, backlog=4096
        )
        print(server.sockets[0].getsockname()[1], flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Server:
    """The OpenAI-wire server, in a process of its own."""

    def __init__(self) -> None:
        self.process, port = _child.start(__name__, "serve")
        self.port: int = int(port)

    def url(self, *, slow: bool = False) -> str:
        """The ``/v1`` base URL (answering after :data:`LATENCY` when ``slow``)."""
        return f"http://127.0.0.1:{self.port}{'/slow' if slow else ''}/v1"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(5)
