"""``TestProvider``: calls every tool it is offered, for tests without a script."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any, ClassVar, Literal

from .._exceptions import ConfigurationError
from ..llm import LLMRequest, LLMResponse, Role, ScriptedProvider, ToolResultPart
from ..llm._scripted import ScriptItem
from ._examples import example_value

__all__ = ["TestProvider"]

#: The tool an engine offers for structured output where a provider has none.
_FINAL = "final_result"


class TestProvider(ScriptedProvider):
    """A provider that exercises an engine's tools without a script.

    Asked at the start of a turn (the last message is not a tool result), it
    calls every tool the request offers, once each, all in one step, with
    arguments generated from each tool's JSON Schema (valid against it; see
    :func:`example_value`). Asked again with the tools' results, it answers
    with text: ``text`` if given, else a JSON object of each called tool's
    result by tool name (``"success (no tool calls)"`` when it called none).
    A request with ``response_schema`` is answered with JSON valid against
    that schema instead: the provider has native structured output
    (:attr:`structured_output`). Offered a ``final_result`` tool (an engine's
    structured output where the provider has none), it calls the other tools
    first and then that one.

    ``call_tools`` limits the tools it calls (names; ``"all"`` by default, an
    empty collection for none); ``seed`` varies the generated values. Entries
    added with :meth:`add` (or given as ``script``) are answered first, as a
    :class:`ScriptedProvider` would, and the provider goes on by itself when
    they run out. Token usage is estimated as for scripted strings.
    """

    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name
    structured_output: ClassVar[bool] = True
    """It answers ``LLMRequest.response_schema`` with JSON valid against it."""

    def __init__(
        self,
        script: Iterable[ScriptItem] = (),
        *,
        text: str | None = None,
        call_tools: Collection[str] | Literal["all"] = "all",
        seed: int = 0,
        name: str = "test",
        chunk_size: int = 16,
    ) -> None:
        super().__init__(script, name=name, chunk_size=chunk_size)
        if text is not None and not isinstance(text, str):
            raise ConfigurationError(f"'text' must be a str or None (got {text!r})")
        if call_tools != "all" and (
            isinstance(call_tools, str) or not isinstance(call_tools, Collection)
        ):
            raise ConfigurationError(
                "'call_tools' must be 'all' or a collection of tool names"
                f" (got {call_tools!r})"
            )
        self._text = text
        self._call_tools = call_tools
        self._seed = seed

    def __repr__(self) -> str:
        return f"TestProvider(name={self.name!r}, call_tools={self._call_tools!r})"

    def _take(self) -> ScriptItem:
        return super()._take() if self.remaining else self.reply

    def reply(self, request: LLMRequest) -> LLMResponse:
        """What the provider answers to ``request`` once its script is used up."""
        last = request.messages[-1] if request.messages else None
        final = next((t for t in request.tools if t.name == _FINAL), None)
        if last is None or last.role is not Role.TOOL:
            calls = [
                (spec.name, example_value(spec.parameters, seed=self._seed))
                for spec in request.tools
                if spec.name != _FINAL
                and (self._call_tools == "all" or spec.name in self._call_tools)
            ]
            if calls:
                return ScriptedProvider.tool_calls(*calls)
        if final is not None:
            value = example_value(final.parameters, seed=self._seed)
            return ScriptedProvider.tool_calls((_FINAL, value))
        if request.response_schema is not None:
            value = example_value(request.response_schema, seed=self._seed)
            return ScriptedProvider.text(json.dumps(value))
        if self._text is not None:
            return ScriptedProvider.text(self._text)
        return ScriptedProvider.text(_summary(request))


def _summary(request: LLMRequest) -> str:
    """The results of the last step's tool calls, as JSON by tool name."""
    results: dict[str, Any] = {}
    for message in reversed(request.messages):
        if message.role is not Role.TOOL:
            break
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                results.setdefault(part.name or part.call_id, part.content)
    if not results:
        return "success (no tool calls)"
    return json.dumps(dict(reversed(results.items())), ensure_ascii=False)
