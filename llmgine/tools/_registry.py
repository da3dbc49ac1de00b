"""``ToolRegistry``: the tools a model may call, and the safe way to run its calls."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import trio

from .._exceptions import ToolError
from ..actors._tracing import RecordKind, traced
from ..llm import ToolCallPart, ToolResultPart, ToolSpec
from ._convert import to_content
from ._tool import Tool, check_timeout

__all__ = ["ToolRegistry"]

P = ParamSpec("P")
R = TypeVar("R")

_Outcome = tuple[ToolResultPart, Exception | None, str]
#: Longest error text sent back to the model; a tool's exception may carry a page.
_MAX_ERROR = 1000


class ToolRegistry:
    """The tools a model may call, by name.

    :meth:`execute` runs one call the way a model asks for it and never raises
    for the model's or the tool's mistakes: an unknown tool, arguments that do
    not validate, an exception in the tool, or a timeout each come back as a
    ``ToolResultPart`` with ``is_error=True`` and a short message naming the
    problem, for the model to read and correct. ``timeout`` (seconds) applies to
    tools that set none themselves.

    A registry holds no task or lock: use it directly from any task, or put it
    behind a :class:`ToolActor` for a bounded mailbox and per-tool limits.
    """

    __slots__ = ("_timeout", "_tools")

    def __init__(
        self,
        tools: Iterable[Tool[..., Any] | Callable[..., Any]] = (),
        *,
        timeout: float | None = None,
    ) -> None:
        check_timeout(timeout)
        self._timeout = None if timeout is None else float(timeout)
        self._tools: dict[str, Tool[..., Any]] = {}
        for item in tools:
            self.register(item)

    def __repr__(self) -> str:
        return f"<ToolRegistry {list(self._tools)!r}>"

    @property
    def timeout(self) -> float | None:
        """The default timeout of tools that set none, in seconds (None: no limit)."""
        return self._timeout

    def register(self, tool: Tool[P, R] | Callable[P, R]) -> Tool[P, R]:
        """Add a tool (a plain function is made one with :func:`tool`) and return it.

        Usable as a decorator. A second tool with a registered name raises
        :class:`~llmgine.ToolError`.
        """
        made = tool if isinstance(tool, Tool) else Tool(tool)
        if made.name in self._tools:
            raise ToolError(f"a tool named {made.name!r} is already registered")
        self._tools[made.name] = made
        return made

    def get(self, name: str) -> Tool[..., Any] | None:
        """The tool called ``name``, or None (``registry[name]`` raises instead)."""
        return self._tools.get(name)

    def __getitem__(self, name: str) -> Tool[..., Any]:
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(f"no tool named {name!r}; {self._known()}") from None

    def __contains__(self, item: object) -> bool:
        """True for a registered tool's name, or for the registered tool itself."""
        if isinstance(item, Tool):
            return self._tools.get(item.name) is item
        return item in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool[..., Any]]:
        """The tools, in the order they were registered."""
        return iter(tuple(self._tools.values()))

    def specs(self) -> tuple[ToolSpec, ...]:
        """What to send as ``LLMRequest.tools``, in registration order."""
        return tuple(t.spec for t in self._tools.values())

    def timeout_for(self, tool: Tool[..., Any]) -> float | None:
        """The timeout a call of ``tool`` runs under: its own, else the registry's."""
        return tool.timeout if tool.timeout is not None else self._timeout

    async def execute(self, call: ToolCallPart) -> ToolResultPart:
        """Run one tool call and return its result; see the class docstring.

        The call is traced as an ``execute_tool {name}`` span; a failed call sets
        ``error.type`` (``unknown_tool``, ``invalid_arguments``, ``timeout``, or
        the exception's type) and ends the span as failed. Cancellation of the
        caller propagates: it is never turned into a result.
        """
        tool = self._tools.get(call.name)
        attributes: dict[str, object] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
        }
        if tool is not None and tool.description:
            attributes["gen_ai.tool.description"] = tool.description
        failure: Exception | None = None
        try:
            with traced(
                RecordKind.TOOL_CALL, f"execute_tool {call.name}", attributes
            ) as span:
                result, failure, error_type = await self._run(tool, call)
                if failure is not None:
                    span.set("error.type", error_type)
                    # Raised so the span ends as failed; caught just below.
                    raise failure  # noqa: TRY301
        except Exception as exc:
            if exc is not failure:
                raise
        return result

    async def execute_all(self, calls: Sequence[ToolCallPart]) -> list[ToolResultPart]:
        """Run several calls concurrently; the results come in the order of the calls."""
        results: list[ToolResultPart | None] = [None] * len(calls)

        async def run_one(index: int, call: ToolCallPart) -> None:
            results[index] = await self.execute(call)

        async with trio.open_nursery() as nursery:
            for index, call in enumerate(calls):
                nursery.start_soon(run_one, index, call)
        return [r for r in results if r is not None]

    async def _run(self, tool: Tool[..., Any] | None, call: ToolCallPart) -> _Outcome:
        """The result, and for a failure the exception and ``error.type`` to trace."""

        def failed(message: str, exc: Exception, error_type: str) -> _Outcome:
            if len(message) > _MAX_ERROR:
                message = message[: _MAX_ERROR - 3] + "..."
            part = ToolResultPart(
                call_id=call.id, content=message, is_error=True, name=call.name
            )
            return part, exc, error_type

        if tool is None:
            message = f"unknown tool {call.name!r}; {self._known()}"
            return failed(message, ToolError(message), "unknown_tool")
        try:
            values = tool.validate(call.arguments)
        except ToolError as exc:
            return failed(str(exc), exc, "invalid_arguments")
        timeout = self.timeout_for(tool)
        with trio.move_on_after(math.inf if timeout is None else timeout) as scope:
            try:
                value = await tool.invoke(values)
            except Exception as exc:
                text = str(exc)
                message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
                return failed(message, exc, type(exc).__qualname__)
        if scope.cancelled_caught:
            message = f"tool {call.name!r} timed out after {timeout:g} seconds"
            return failed(message, trio.TooSlowError(message), "timeout")
        try:
            content = to_content(value)
        except Exception as exc:
            message = f"tool {call.name!r} returned a value that cannot be sent: {exc}"
            return failed(message, exc, "invalid_result")
        return ToolResultPart(call_id=call.id, content=content, name=call.name), None, ""

    def _known(self) -> str:
        names = ", ".join(repr(n) for n in self._tools)
        return f"available tools: {names}" if names else "no tools are registered"
