"""The offline world of ``demo`` and ``chat``: a weather station, tools, a tiny model.

:class:`OfflineModel` is a rule-based stand-in for an LLM, played by a
:class:`~llmgine.llm.ScriptedProvider`: it asks for the weather of the cities
a user names, does the arithmetic it is asked for, retries a tool call that
failed once, compares temperatures, and answers from the tool results. It
needs no network and no key, and it is deterministic, so the demo's story is
the same every run.
"""

from __future__ import annotations

import ast
import operator
import re
import zlib
from collections.abc import Callable, Sequence
from typing import Any, Literal

import attrs
import trio

from ..actors import Actor, ActorRef
from ..llm import (
    FinishReason,
    LLMRequest,
    LLMResponse,
    Message,
    Role,
    ScriptedProvider,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from ..tools import ToolRegistry, tool

__all__ = [
    "OfflineModel",
    "Reading",
    "WeatherStation",
    "calculate",
    "make_registry",
    "offline_provider",
]

_KNOWN = {
    "paris": (21, "sunny"),
    "tokyo": (14, "light rain"),
    "reykjavik": (6, "windy"),
    "london": (16, "overcast"),
    "new york": (24, "clear"),
    "sydney": (19, "breezy"),
}
_SKIES = ("sunny", "cloudy", "light rain", "windy", "clear", "foggy")


@attrs.frozen
class Reading:
    """Ask a :class:`WeatherStation` for the weather in ``city``."""

    city: str


class WeatherStation(Actor):
    """An actor standing in for a weather service (a short pause per reading)."""

    def __init__(self, latency: float = 0.02) -> None:
        self.latency = latency

    async def receive(self, message: Any) -> Any:
        """Answer a :class:`Reading` with ``(celsius, sky)``."""
        if not isinstance(message, Reading):
            raise TypeError(f"WeatherStation takes Reading messages (got {message!r})")
        await trio.sleep(self.latency)
        known = _KNOWN.get(message.city.strip().lower())
        if known is not None:
            return known
        seed = zlib.crc32(message.city.strip().lower().encode())
        return (seed % 30 - 2, _SKIES[seed % len(_SKIES)])


_OPERATORS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)  # type: ignore[arg-type]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return float(_OPERATORS[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponent too large")
        return float(_OPERATORS[type(node.op)](left, right))
    raise ValueError(f"unsupported expression: {ast.dump(node)[:40]}")


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression (numbers, + - * / // % ** and parentheses)."""
    value = _evaluate(ast.parse(expression.strip(), mode="eval"))
    return str(int(value)) if value.is_integer() else f"{value:.6g}"


def make_registry(station: ActorRef) -> ToolRegistry:
    """The demo's tools; ``get_weather`` asks the ``station`` actor."""

    @tool(timeout=5.0)
    async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
        """Get the current weather in a city.

        Args:
            city: City name, like "Paris".
            unit: Temperature unit: "c" for Celsius, "f" for Fahrenheit.
        """
        celsius, sky = await station.ask(Reading(city), timeout=2.0)
        if unit == "f":
            return f"{city}: {round(celsius * 9 / 5 + 32)}°F, {sky}"
        return f"{city}: {celsius}°C, {sky}"

    @tool(name="calculate")
    def calculate_tool(expression: str) -> str:
        """Evaluate an arithmetic expression.

        Args:
            expression: Like "21 - 14" or "(3 + 4) * 2".
        """
        return calculate(expression)

    return ToolRegistry([get_weather, calculate_tool])


_CITY_SEGMENT = re.compile(r"\b(?:in|for|of)\s+([^?.!;]+)")
_CITY = re.compile(r"\b([A-Z][a-zA-Z'-]+(?:\s[A-Z][a-zA-Z'-]+)?)")
_MATH = re.compile(r"[-+(]*\d[\d\s.()+\-*/%]*[\d)]")
_WEATHER = re.compile(r"^(.+?): (-?\d+)°([CF]), (.+)$")
HINT = (
    "I am llmgine's offline model. Ask me about the weather (\"weather in Paris"
    ' and Tokyo?") or for arithmetic ("what is 17 * 23 + 4?").'
)


def _cities(text: str) -> list[str]:
    if "weather" not in text.lower():
        return []
    found: list[str] = []
    for segment in _CITY_SEGMENT.findall(text):
        found.extend(c for c in _CITY.findall(segment) if c not in found)
    return found


def _expression(text: str) -> str | None:
    for match in _MATH.finditer(text):
        candidate = match.group().strip()
        if any(op in candidate for op in "+-*/%") and not candidate.startswith("-"):
            return candidate
    return None


def _arguments(call: ToolCallPart) -> dict[str, Any]:
    arguments = call.arguments
    return dict(arguments) if not isinstance(arguments, str) else {"raw": arguments}


def _key(call: ToolCallPart) -> str:
    return f"{call.name}{sorted(_arguments(call).items())}"


def _turn(messages: Sequence[Message]) -> list[Message]:
    """The messages since the last user message, that one included."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role is Role.USER:
            return list(messages[index:])
    return list(messages)


class OfflineModel:
    """A deterministic, rule-based model: call it with an :class:`LLMRequest`.

    Give it to a :class:`ScriptedProvider` as a script entry (see
    :func:`offline_provider`).
    """

    def __init__(self) -> None:
        self._calls = 0

    def _call(self, name: str, arguments: dict[str, Any]) -> ToolCallPart:
        self._calls += 1
        return ToolCallPart(id=f"call_{self._calls}", name=name, arguments=arguments)

    def __call__(self, request: LLMRequest) -> LLMResponse:
        """The reply to ``request``: tool calls, or text."""
        turn = _turn(request.messages)
        tools = {spec.name for spec in request.tools}
        if turn and turn[-1].role is Role.TOOL:
            parts: Sequence[TextPart | ToolCallPart] = self._after_tools(turn, tools)
        else:
            parts = self._first_step(turn[0].text if turn else "", tools)
        prompt = sum(len(m.text) + 40 * len(m.parts) for m in request.messages)
        reply = sum(len(p.text) if isinstance(p, TextPart) else 24 for p in parts)
        usage = Usage(
            input_tokens=prompt // 4 + 30 * len(request.tools) + 12,
            output_tokens=reply // 4 + 1,
        )
        calls = any(isinstance(p, ToolCallPart) for p in parts)
        return LLMResponse(
            message=Message(role=Role.ASSISTANT, parts=parts),
            finish_reason=FinishReason.TOOL_CALL if calls else FinishReason.STOP,
            usage=usage,
            model=request.model,
            id=f"offline-{self._calls}",
        )

    def _first_step(self, text: str, tools: set[str]) -> list[TextPart | ToolCallPart]:
        cities = _cities(text) if "get_weather" in tools else []
        if cities:
            return [self._call("get_weather", {"city": city}) for city in cities]
        expression = _expression(text) if "calculate" in tools else None
        if expression is not None:
            return [self._call("calculate", {"expression": expression})]
        said = text.strip() or "(nothing)"
        return [TextPart(text=f"You said: {said}. {HINT}")]

    def _after_tools(
        self, turn: Sequence[Message], tools: set[str]
    ) -> list[TextPart | ToolCallPart]:
        calls: dict[str, ToolCallPart] = {}
        results: list[ToolResultPart] = []
        for message in turn:
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    calls[part.id] = part
                elif isinstance(part, ToolResultPart):
                    results.append(part)
        tried: dict[str, int] = {}
        for call in calls.values():
            tried[_key(call)] = tried.get(_key(call), 0) + 1
        latest = [p for p in turn[-1].parts if isinstance(p, ToolResultPart)]
        for message in reversed(turn[:-1]):
            if message.role is not Role.TOOL:
                break
            latest[:0] = [p for p in message.parts if isinstance(p, ToolResultPart)]
        retry = []
        for result in latest:
            failed = calls.get(result.call_id)
            if result.is_error and failed is not None and tried[_key(failed)] < 2:
                retry.append(self._call(failed.name, _arguments(failed)))
        if retry:
            return list(retry)
        good = [r for r in results if not r.is_error]
        weather = [m for r in good if (m := _WEATHER.match(r.content))]
        compared = any(c.name == "calculate" for c in calls.values())
        if len(weather) >= 2 and not compared and "calculate" in tools:
            warm = max(weather, key=lambda m: int(m.group(2)))
            cold = min(weather, key=lambda m: int(m.group(2)))
            expression = f"{warm.group(2)} - {cold.group(2)}"
            return [self._call("calculate", {"expression": expression})]
        return [TextPart(text=self._answer(calls, results, weather))]

    def _answer(
        self,
        calls: dict[str, ToolCallPart],
        results: Sequence[ToolResultPart],
        weather: Sequence[re.Match[str]],
    ) -> str:
        sentences = [
            f"{m.group(1)} is {m.group(2)}°{m.group(3)} and {m.group(4)}."
            for m in weather
        ]
        for result in results:
            call = calls.get(result.call_id)
            if call is None or call.name != "calculate" or result.is_error:
                continue
            expression = str(_arguments(call).get("expression", ""))
            if len(weather) >= 2:
                warm = max(weather, key=lambda m: int(m.group(2)))
                cold = min(weather, key=lambda m: int(m.group(2)))
                unit = warm.group(3)
                sentences.append(
                    f"{warm.group(1)} is {result.content}°{unit} warmer than"
                    f" {cold.group(1)}."
                )
            else:
                sentences.append(f"{expression} = {result.content}.")
        failed = [r for r in results if r.is_error]
        if failed and not sentences:
            sentences.append(f"Sorry, the tool failed: {failed[-1].content}")
        return " ".join(sentences)


def offline_provider(
    model: OfflineModel | None = None, *, steps: int = 64, chunk_size: int = 8
) -> ScriptedProvider:
    """A :class:`ScriptedProvider` whose script is ``steps`` calls of ``model``."""
    played = OfflineModel() if model is None else model
    return ScriptedProvider([played] * steps, name="scripted", chunk_size=chunk_size)
