"""``ToolRegistry``: the tools a model may call, and the safe way to run its calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ParamSpec, Protocol, TypeVar, overload, runtime_checkable

import attrs
import trio

from .._exceptions import ToolError
from ..llm import ToolCallPart, ToolResultPart, ToolSpec
from ..tracing import RecordKind, traced
from ._convert import to_content
from ._tool import Tool, check_timeout

__all__ = ["ToolLike", "ToolRegistry"]

P = ParamSpec("P")
R = TypeVar("R")


@runtime_checkable
class ToolLike(Protocol):
    """What a registry runs: a :class:`Tool`, or a tool defined elsewhere.

    An MCP server's tools are the example: they bring their own :attr:`spec`,
    :meth:`validate` only parses the model's JSON (the server checks the values),
    and :meth:`invoke` calls the server. ``invoke`` may return a
    ``ToolResultPart`` to answer with its own content and ``is_error`` flag.
    """

    @property
    def name(self) -> str:
        """The name the model calls the tool by."""

    @property
    def description(self) -> str:
        """What the model is told the tool does."""

    @property
    def spec(self) -> ToolSpec:
        """The tool as providers describe it to the model."""

    @property
    def timeout(self) -> float | None:
        """Seconds a call may take (None: the registry's default)."""

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        """The model's arguments, checked; raises ``ToolError`` naming the problems."""

    async def invoke(self, values: Mapping[str, Any]) -> Any:
        """Run the tool with values from :meth:`validate` and return its result."""


_T = TypeVar("_T", bound=ToolLike)

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
        tools: Iterable[ToolLike | Callable[..., Any]] = (),
        *,
        timeout: float | None = None,
    ) -> None:
        check_timeout(timeout)
        self._timeout = None if timeout is None else float(timeout)
        self._tools: dict[str, ToolLike] = {}
        for item in tools:
            self.register(item)

    def __repr__(self) -> str:
        return f"<ToolRegistry {list(self._tools)!r}>"

    @property
    def timeout(self) -> float | None:
        """The default timeout of tools that set none, in seconds (None: no limit)."""
        return self._timeout

    @overload
    def register(self, tool: Tool[P, R] | Callable[P, R]) -> Tool[P, R]: ...

    @overload
    def register(self, tool: _T) -> _T: ...

    def register(self, tool: ToolLike | Callable[..., Any]) -> ToolLike:
        """Add a tool (a plain function is made one with :func:`tool`) and return it.

        Usable as a decorator. Any :class:`ToolLike` (an MCP server's tool) is
        added as it is. A second tool with a registered name raises
        :class:`~llmgine.ToolError`.
        """
        made = tool if isinstance(tool, Tool | ToolLike) else Tool(tool)
        if made.name in self._tools:
            raise ToolError(f"a tool named {made.name!r} is already registered")
        self._tools[made.name] = made
        return made

    def get(self, name: str) -> ToolLike | None:
        """The tool called ``name``, or None (``registry[name]`` raises instead)."""
        return self._tools.get(name)

    def __getitem__(self, name: str) -> ToolLike:
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(f"no tool named {name!r}; {self._known()}") from None

    def __contains__(self, item: object) -> bool:
        """True for a registered tool's name, or for the registered tool itself."""
        if isinstance(item, Tool | ToolLike):
            return self._tools.get(item.name) is item
        return item in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[ToolLike]:
        """The tools, in the order they were registered."""
        return iter(tuple(self._tools.values()))

    def specs(self) -> tuple[ToolSpec, ...]:
        """What to send as ``LLMRequest.tools``, in registration order."""
        return tuple(t.spec for t in self._tools.values())

    def timeout_for(self, tool: ToolLike) -> float | None:
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
        failure: Exception | None = None
        try:
            with traced(RecordKind.TOOL_CALL, f"execute_tool {call.name}") as span:
                if span.recording:
                    span.update(_attributes(tool, call))
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

    async def _run(self, tool: ToolLike | None, call: ToolCallPart) -> _Outcome:
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
        except Exception as exc:  # a ToolLike's own validate slipped: still the model's
            message = f"invalid arguments for tool {call.name!r} ({type(exc).__name__})"
            return failed(message, ToolError(message), "invalid_arguments")
        timeout = self.timeout_for(tool)
        try:
            if timeout is None:  # no cancel scope to open when there is no limit
                value = await tool.invoke(values)
            else:
                with trio.move_on_after(timeout) as scope:
                    value = await tool.invoke(values)
                if scope.cancelled_caught:
                    message = f"tool {call.name!r} timed out after {timeout:g} seconds"
                    return failed(message, trio.TooSlowError(message), "timeout")
        except Exception as exc:
            text = str(exc)
            message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
            return failed(message, exc, type(exc).__qualname__)
        if isinstance(value, ToolResultPart):  # the tool answers for itself (MCP)
            if value.is_error:
                part, error, kind = failed(
                    value.content, ToolError(value.content), "tool_error"
                )
                return attrs.evolve(part, usage=value.usage), error, kind
            part = ToolResultPart(
                call_id=call.id, content=value.content, name=call.name, usage=value.usage
            )
            return part, None, ""
        try:
            content = to_content(value)
        except Exception as exc:
            message = f"tool {call.name!r} returned a value that cannot be sent: {exc}"
            return failed(message, exc, "invalid_result")
        return ToolResultPart(call_id=call.id, content=content, name=call.name), None, ""

    def _known(self) -> str:
        names = ", ".join(repr(n) for n in self._tools)
        return f"available tools: {names}" if names else "no tools are registered"


def _attributes(tool: ToolLike | None, call: ToolCallPart) -> dict[str, object]:
    """An ``execute_tool`` span's attributes."""
    attributes: dict[str, object] = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.id,
        "gen_ai.tool.type": "function",
    }
    if tool is not None and tool.description:
        attributes["gen_ai.tool.description"] = tool.description
    return attributes
