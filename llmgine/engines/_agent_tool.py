"""``agent_tool``: an engine as a tool of another engine (agents as tools).

The model of the parent engine calls the tool with ``{"task": "..."}``; the
tool asks the child engine a :class:`UserInput` with that text and answers
with the child's reply. The child is an actor like any other: supervised,
with its own mailbox, conversation, provider and tools. What the child's
turn spent on models travels back in the result's ``usage``, which the
parent adds to its own turn; the trace context travels with the ask, so the
child's ``invoke_agent`` span sits under the parent's ``execute_tool`` span.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import Any, Protocol

import trio

from .. import _json
from .._exceptions import ConfigurationError, JSONNestingError, ToolError
from ..llm import ToolResultPart, ToolSpec
from ..tools._convert import to_content
from ..tools._tool import check_timeout
from ._messages import AbandonTurn, ChatResult, UserInput

__all__ = ["AgentTool", "agent_tool"]

#: What OpenAI, Anthropic and Gemini all accept as a function name.
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Seconds a child stopped for approval is given to drop its turn.
_ABANDON_WITHIN = 10.0
_TASK = (
    "The task, stated in full: the agent sees nothing of this conversation but this text."
)


class _Askable(Protocol):
    async def ask(self, message: Any, *, timeout: float | None = ...) -> Any: ...


class AgentTool:
    """An engine, seen as a tool: see :func:`agent_tool`.

    It is a :class:`~llmgine.tools.ToolLike`: a ``ToolRegistry`` (or the list
    of tools given to a ``ChatEngine``) runs it as any tool.
    """

    __slots__ = ("_description", "_name", "_spec", "_timeout", "engine")

    def __init__(
        self,
        engine: _Askable,
        *,
        name: str,
        description: str,
        timeout: float | None = None,
    ) -> None:
        if not callable(getattr(engine, "ask", None)):
            raise ConfigurationError(
                "agent_tool() needs the ref of an engine, something with ask()"
                f" (got {type(engine).__name__})"
            )
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigurationError(
                f"'name' must be 1-64 letters, digits, '_' or '-' (got {name!r})"
            )
        if not isinstance(description, str) or not description.strip():
            raise ConfigurationError(
                "'description' must be a non-empty str: it is how the model knows"
                f" when to call the agent (got {description!r})"
            )
        check_timeout(timeout)
        self.engine = engine
        """The child engine's ref."""
        self._name = name
        self._description = description
        self._timeout = None if timeout is None else float(timeout)
        self._spec = ToolSpec(
            name=name,
            description=description,
            parameters={
                "type": "object",
                "properties": {"task": {"type": "string", "description": _TASK}},
                "required": ["task"],
                "additionalProperties": False,
            },
        )

    def __repr__(self) -> str:
        return f"<AgentTool {self._name!r} -> {self.engine!r}>"

    @property
    def name(self) -> str:
        """The name the model calls the agent by."""
        return self._name

    @property
    def description(self) -> str:
        """What the model is told the agent does."""
        return self._description

    @property
    def spec(self) -> ToolSpec:
        """The tool as providers describe it: one required string, ``task``."""
        return self._spec

    @property
    def timeout(self) -> float | None:
        """Seconds the child's turn may take (None: the registry's default)."""
        return self._timeout

    @property
    def idempotent(self) -> bool:
        """False: a task run twice is two turns of the child."""
        return False

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        """``{"task": str}`` from the model's arguments, or :class:`ToolError`."""
        if isinstance(arguments, str):
            try:
                arguments = _json.loads(arguments) if arguments.strip() else {}
            except (ValueError, JSONNestingError) as exc:
                raise ToolError(
                    f"arguments for tool {self._name!r} are not valid JSON: {exc}"
                ) from None
        if not isinstance(arguments, Mapping):
            raise ToolError(
                f"arguments for tool {self._name!r} must be a JSON object"
                f" (got {type(arguments).__name__})"
            )
        problems = [f"unexpected argument {k!r}" for k in arguments if k != "task"]
        task = arguments.get("task")
        if task is None:
            problems.append("missing required argument 'task'")
        elif not isinstance(task, str):
            problems.append(f"task: expected a string (got {type(task).__name__})")
        if problems:
            raise ToolError(
                f"invalid arguments for tool {self._name!r}: {'; '.join(problems)}"
            )
        return {"task": task}

    async def invoke(self, values: Mapping[str, Any]) -> ToolResultPart:
        """Run the task as a turn of the child engine; its reply is the result.

        The child's failure (an error its turn raised, the child stopped, its
        circuit open) is an error result for the parent's model to read, not
        an exception. Cancelling the call (the parent's turn cancelled, a
        timeout) cancels the child's turn: an abandoned ask cancels its work.
        """
        try:
            result = await self.engine.ask(UserInput(str(values["task"])))
        except Exception as exc:
            text = str(exc)
            kind = type(exc).__name__
            return ToolResultPart(
                call_id="",
                name=self._name,
                is_error=True,
                content=f"the agent {self._name!r} failed: "
                + (f"{kind}: {text}" if text else kind),
            )
        if not isinstance(result, ChatResult):
            return ToolResultPart(
                call_id="",
                name=self._name,
                is_error=True,
                content=(
                    f"the agent {self._name!r} answered a {type(result).__name__},"
                    " not a ChatResult"
                ),
            )
        if result.pending_approvals:
            # no person can answer through a tool call: drop the child's turn,
            # so its next task is not refused, and tell the parent's model
            names = ", ".join(dict.fromkeys(c.name for c in result.pending_approvals))
            with trio.move_on_after(_ABANDON_WITHIN) as scope:
                scope.shield = True  # also when the parent's turn is cancelled
                with contextlib.suppress(Exception):  # the child died meanwhile
                    await self.engine.ask(AbandonTurn())
            return ToolResultPart(
                call_id="",
                name=self._name,
                is_error=True,
                content=(
                    f"the agent {self._name!r} stopped for a person's approval of"
                    f" {names}, which it cannot get when called as a tool; its"
                    " turn was abandoned"
                ),
                usage=result.usage,
            )
        # a child with an output_type answers a value: send it as JSON
        output = getattr(result, "output", None)
        content = result.text if output is None else to_content(output)
        return ToolResultPart(
            call_id="", name=self._name, content=content, usage=result.usage
        )


def agent_tool(
    engine_ref: _Askable,
    *,
    name: str,
    description: str,
    timeout: float | None = None,
) -> AgentTool:
    """Make an engine a tool of another engine.

    ``engine_ref`` is the ref of a spawned engine (a ``ChatEngine``, or any
    actor answering :class:`UserInput` with a :class:`ChatResult`). The parent's
    model calls the tool ``name`` with ``{"task": str}``; the child runs the
    task as one turn of its conversation (so later calls see earlier ones)
    and its reply's text is the result (its typed ``output`` as JSON, for a
    child with an ``output_type``). The child's usage is added to the
    parent turn's usage; its failure is an error result, not an exception.
    ``timeout`` (seconds) bounds the child's turn, else the registry's default::

        researcher = await system.spawn(ChatEngine, provider, name="researcher",
                                        model="gpt-4o-mini", tools=[search])
        research = agent_tool(researcher, name="research",
                              description="Research a question on the web.")
        lead = await system.spawn(ChatEngine, provider, name="lead",
                                  model="gpt-4o", tools=[research])
    """
    return AgentTool(engine_ref, name=name, description=description, timeout=timeout)
