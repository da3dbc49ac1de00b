"""Progress notifications of MCP tool calls: trace records, and callbacks.

A server may report progress on a long call (``notifications/progress``). Each
notification becomes a point record (kind ``custom``, name ``mcp.progress``)
under the call's ``execute_tool`` span, and an :class:`MCPProgress` handed to
the ``on_progress`` callback given to ``spawn_mcp_server`` and to the
:data:`progress_listener` of the task that made the call (how whoever runs the
call, an engine streaming a turn say, hears of it).
"""

from __future__ import annotations

import contextvars
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from ..tracing import RecordKind, current_sink, current_trace, make_record, new_span_id

__all__ = ["MCPProgress", "ProgressCallback", "progress_handler", "progress_listener"]


@attrs.frozen(kw_only=True)
class MCPProgress:
    """One progress notification of a running MCP tool call.

    ``tool`` is the name the model called; ``server`` the path of the server's
    actor; ``total`` and ``message`` are None when the server sent none.
    """

    server: str
    tool: str
    progress: float
    total: float | None = None
    message: str | None = None


#: Told of every progress notification: sync or async, given the notification.
ProgressCallback = Callable[[MCPProgress], "Awaitable[None] | None"]


#: Told of the progress of the MCP tool calls made in this task (and the tasks
#: it starts); set it around ``ToolRegistry.execute`` to hear of one call's.
progress_listener: contextvars.ContextVar[ProgressCallback | None] = (
    contextvars.ContextVar("llmgine_mcp_progress_listener", default=None)
)


async def _tell(callback: ProgressCallback, progress: MCPProgress) -> None:
    done = callback(progress)
    if inspect.isawaitable(done):
        await done


def progress_handler(
    server: str, tool: str, callback: ProgressCallback | None
) -> Callable[[float, float | None, str | None], Awaitable[None]]:
    """The ``progress_callback`` of one call, made in the task of the call.

    The mcp client runs it in a task of its own, so the call's trace context is
    read here, while the call's ``execute_tool`` span is the current one.
    """
    sink = current_sink.get()
    parent = current_trace.get()
    listener = progress_listener.get()

    async def on_progress(
        progress: float, total: float | None, message: str | None
    ) -> None:
        if sink is not None and parent is not None and parent.sampled:
            attributes: dict[str, Any] = {
                "gen_ai.tool.name": tool,
                "mcp.progress": progress,
            }
            if total is not None:
                attributes["mcp.progress.total"] = total
            if message is not None:
                attributes["mcp.progress.message"] = message
            sink.emit(
                make_record(
                    RecordKind.CUSTOM,
                    "mcp.progress",
                    parent.trace_id,
                    new_span_id(),
                    parent.span_id,
                    time.time(),
                    None,
                    server,
                    None,
                    None,
                    attributes,
                )
            )
        if callback is None and listener is None:
            return
        told = MCPProgress(
            server=server, tool=tool, progress=progress, total=total, message=message
        )
        if callback is not None:
            await _tell(callback, told)
        if listener is not None:
            await _tell(listener, told)

    return on_progress
