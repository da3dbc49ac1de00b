"""``llmgine chat``: an interactive chat with streaming output and tools.

Lines are read in a worker thread (so the actor system keeps running while
the user types) through a replaceable ``read_line`` coroutine function, which
is how tests drive it; by default it reads standard input. ``/tools`` lists
the tools, ``/clear`` forgets the conversation, ``/exit`` (or the end of
input) quits. The provider runs in a :class:`~llmgine.llm.ProviderActor`
with a circuit breaker, and the engine streams through it: after
:data:`_BREAKER_FAILURES` failed calls in a row, turns fail at once (the
circuit is open) until a trial call succeeds.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Awaitable, Callable

import trio
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._exceptions import LLMgineError
from ..actors import ActorRef, CircuitBreaker, open_actor_system
from ..engines import ChatEngine, ClearConversation, ToolExecuted, stream_turn
from ..llm import (
    Provider,
    ProviderActor,
    ScriptedProvider,
    StreamFinish,
    TextDelta,
    ToolCallDelta,
)
from ..tools import ToolActorRef, spawn_tool_actor
from ._common import default_model, live_provider, llm_calls, make_tracer
from ._offline import OfflineModel, WeatherStation, make_registry, offline_provider

__all__ = ["ReadLine", "chat", "run_chat", "stdin_reader"]

ReadLine = Callable[[str], Awaitable[str | None]]
"""Reads one line after showing a prompt; None at the end of input."""

_MAX_STEPS = 8
#: Failed LLM calls in a row that open the provider's circuit.
_BREAKER_FAILURES = 3
#: Seconds the circuit stays open before a trial call.
_BREAKER_RESET = 10.0
_HELP = "commands: /tools (list the tools), /clear (new conversation), /exit (quit)"


def stdin_reader(console: Console) -> ReadLine:
    """A :data:`ReadLine` reading standard input in a worker thread."""

    def read(prompt: str) -> str | None:
        try:
            line = console.input(prompt)
        except EOFError:
            return None
        if not sys.stdin.isatty():  # piped input is not echoed: show it
            console.print(Text(line), soft_wrap=True)
        return line

    async def read_line(prompt: str) -> str | None:
        return await trio.to_thread.run_sync(read, prompt, abandon_on_cancel=True)

    return read_line


def _tools_table(tools: ToolActorRef) -> Table:
    table = Table(title="tools", title_justify="left")
    table.add_column("name", style="bold cyan")
    table.add_column("description")
    table.add_column("parameters", style="dim")
    for spec in tools.specs():
        properties = spec.parameters.get("properties", {})
        required = set(spec.parameters.get("required", ()))
        params = ", ".join(f"{p}{'' if p in required else '?'}" for p in properties)
        table.add_row(spec.name, spec.description, params)
    return table


def _arguments(call_arguments: object) -> str:
    if isinstance(call_arguments, str):
        return call_arguments
    return json.dumps(call_arguments, ensure_ascii=False)


class _Printer:
    """Shows one streaming turn: text as it comes, tool calls as they happen."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.in_text = False

    def _break(self) -> None:
        if self.in_text:
            self.console.print()
            self.in_text = False

    def show(self, event: object) -> None:
        console = self.console
        if isinstance(event, TextDelta):
            if not self.in_text:
                console.print(Text("llm ▸ ", "bold magenta"), end="")
                self.in_text = True
            console.print(Text(event.text), end="", soft_wrap=True)
        elif isinstance(event, ToolCallDelta) and event.name:
            self._break()
            console.print(Text(f"  ⚙ calling {event.name}…", "cyan"))
        elif isinstance(event, ToolExecuted):
            self._break()
            result = event.result
            mark, style = ("✗", "red") if result.is_error else ("✓", "green")
            line = Text(f"  {mark} {event.call.name}", style)
            line.append(f"({_arguments(event.call.arguments)})", "dim")
            line.append(f" → {result.content}", style if result.is_error else "")
            console.print(line)
        elif isinstance(event, StreamFinish):
            self._break()

    def end(self) -> None:
        self._break()


async def _turn(console: Console, engine: ActorRef, text: str) -> None:
    printer = _Printer(console)
    try:
        async with stream_turn(engine, text) as stream:
            async for event in stream:
                printer.show(event)
    except LLMgineError as exc:
        printer.end()
        console.print(Text(f"✗ {type(exc).__name__}: {exc}", "bold red"))
        console.print(Text("(the turn was rolled back; try again or /exit)", "dim"))
        return
    printer.end()
    result = stream.result
    assert result is not None  # set when the block exits normally
    usage = result.usage
    console.print(
        Text(
            f"  {llm_calls(result.steps)} · tokens in={usage.input_tokens}"
            f" out={usage.output_tokens}",
            "dim",
        )
    )


def _top_up(provider: Provider, model: OfflineModel) -> None:
    """Keep enough offline replies in the script for one more turn."""
    if isinstance(provider, ScriptedProvider) and provider.remaining < _MAX_STEPS:
        provider.add(*[model] * _MAX_STEPS)


async def chat(
    console: Console,
    *,
    provider_name: str = "scripted",
    model: str | None = None,
    trace_path: str | None = None,
    system_prompt: str | None = None,
    read_line: ReadLine | None = None,
) -> int:
    """Run the chat until ``/exit`` or the end of input; return the exit code."""
    offline = OfflineModel()
    provider: Provider = (
        offline_provider(offline, steps=0)
        if provider_name == "scripted"
        else live_provider(provider_name)
    )
    chosen = default_model(provider_name, model)
    tracer = make_tracer(trace_path=trace_path)
    read = read_line if read_line is not None else stdin_reader(console)
    where = "offline (scripted)" if provider_name == "scripted" else provider_name
    console.print(
        Text.assemble(
            ("llmgine chat", "bold"),
            f" — {where}, model ",
            (chosen, "cyan"),
            (f"\n{_HELP}", "dim"),
        )
    )
    async with open_actor_system("chat", tracer=tracer) as system:
        station = await system.spawn(WeatherStation, name="station")
        tools = await spawn_tool_actor(system, make_registry(station), name="tools")
        llm = await system.spawn(
            functools.partial(ProviderActor, provider),
            name="llm",
            breaker=CircuitBreaker(
                max_failures=_BREAKER_FAILURES, reset_timeout=_BREAKER_RESET
            ),
        )
        engine = await system.spawn(
            ChatEngine,
            llm,
            model=chosen,
            tools=tools,
            system_prompt=system_prompt,
            max_steps=_MAX_STEPS,
            name="chat",
        )
        while True:
            line = await read("you ▸ ")
            if line is None:
                console.print()
                break
            text = line.strip()
            if not text:
                continue
            command = text.lower()
            if command in ("/exit", "/quit"):
                break
            if command == "/tools":
                console.print(_tools_table(tools))
            elif command == "/clear":
                await engine.ask(ClearConversation())
                console.print(Text("conversation cleared", "dim"))
            elif command == "/help":
                console.print(Text(_HELP, "dim"))
            elif command.startswith("/"):
                console.print(Text(f"unknown command {text}; {_HELP}", "yellow"))
            else:
                _top_up(provider, offline)
                await _turn(console, engine, text)
    console.print(Text("bye", "dim"))
    return 0


def run_chat(
    args: argparse.Namespace, console: Console, read_line: ReadLine | None = None
) -> int:
    """``llmgine chat``: a missing API key is a usage error (exit 2)."""
    if args.provider != "scripted":
        live_provider(args.provider)  # fail on a missing key before the prompt
    return trio.run(
        functools.partial(
            chat,
            console,
            provider_name=args.provider,
            model=args.model,
            trace_path=args.trace,
            system_prompt=args.system,
            read_line=read_line,
        )
    )
